"""The evaluation in words: error classes, a verdict and the next step that fits the evidence."""
from __future__ import annotations

from tools.dataset.schema import AlpacaSample
from tools.training.evaluate import rouge_l_f1, verdict_of
from tools.training.inference import Answer
from tools.training.verdict import Case, classify, judge, shape, verdict_markdown

FACTS = {"computed_share": 0.0, "long_answers": False, "rows": 100}


def case(answer, reference, correct=False, stopped=True, question="2 cups flour", near_twin=False):
    return Case(f"Convert.\n\n{question}", question, reference, answer, stopped, correct, near_twin)


def test_each_wrong_answer_gets_its_class():
    cases = [
        case("+1-212-555-0100", "+1-415-555-0132"),  # right format, wrong content
        case("four hundred", "+1-415-555-0132"),  # wrong format
        case("+1-415-555-0132 model\n+1-415", "+1-415-555-0132", stopped=False),  # ran on
        case("2 cups flour", "473 ml"),  # echoes its question
        case("20 ml", "473 ml", question="a"), case("20 ml", "236 ml", question="b"),
        case("20 ml", "59 ml", question="c"),
        case("+1-415-555-0132", "+1-415-555-0132", correct=True),
    ]
    kinds = classify(cases, rouge_l_f1)
    assert kinds[0] == ["wrong_content"] and kinds[1] == ["wrong_format"]
    assert "no_stop" in kinds[2] and kinds[3] == ["repeats_prompt"]
    assert all("collapse" in k for k in kinds[4:7]) and kinds[7] == []


def test_shape_keeps_the_format_and_drops_the_content():
    assert shape('{"name": "Ana Silva", "city": "Lyon"}') == shape('{"name": "Bo Li", "city": "Osaka"}')
    assert shape("+1-415-555-0132") != shape("415 555 0132")


def test_a_model_that_does_not_stop_does_not_work_however_right_it_starts():
    cases = [case("x", "x", correct=True, stopped=i % 5 != 0) for i in range(20)]
    verdict = judge(cases, classify(cases, rouge_l_f1), {**FACTS, "score": 1.0, "base_score": 0.0,
                                                        "metric": "exact match"})
    assert verdict["level"] == "partly" and verdict["stop_rate"] == 0.8
    assert verdict["next_steps"][0]["step"].startswith("Train longer")


def test_arithmetic_gets_a_bigger_model_not_more_data():
    cases = [case(f"{i} ml", f"{i + 7} ml", question=f"{i} cups") for i in range(10)]
    verdict = judge(cases, classify(cases, rouge_l_f1), {**FACTS, "computed_share": 1.0, "score": 0.0,
                                                        "base_score": 0.0, "metric": "exact match"})
    assert verdict["level"] == "not_yet"
    assert verdict["next_steps"][0]["step"].startswith("Use a bigger model on a GPU")
    assert not any("Improve" in step["step"] for step in verdict["next_steps"])


def test_near_twins_are_listed_and_left_out_of_the_score():
    samples = [AlpacaSample(instruction="Convert.", input=f"{i} cups rice", output=f"{i} ml") for i in range(4)]
    answers = [Answer(f"{i} ml", True) for i in range(3)] + [Answer("wrong", True)]
    leaks = [{"eval_index": 0, "train_index": 5, "similarity": 0.9, "by": "meaning", "prompt": "", "train_prompt": ""}]
    base = [Answer("no", True)] * 4
    rows, verdict = verdict_of(samples, answers, base, True, leaks, FACTS)
    assert rows[0]["kinds"] == ["near_twin"] and verdict["score"] == round(2 / 3, 4)
    assert "on 3 held-out rows" in verdict["headline"]


def test_the_words_are_plain_and_escape_model_output():
    cases = [case("<img src=x onerror=alert(1)>", "473 ml")]
    verdict = judge(cases, classify(cases, rouge_l_f1), {**FACTS, "score": 0.0, "base_score": 0.0,
                                                        "metric": "exact match"})
    text = verdict_markdown({"verdict": verdict})
    assert text.startswith("**Does not work yet: exact match 0% on 1 held-out rows")
    assert "<img" not in text and "&lt;img" in text and "Next:" in text and "{" not in text


def test_a_retrieval_samples_example_quotes_its_question_not_a_passage():
    from tools.dataset.passages import Passage, passages_block

    passages = passages_block([Passage("warranty.md, chunk 1", "Every blender carries a two-year warranty.")])
    wrong = Case(f"Is the jar covered?\n\n{passages}", passages, "No [1]", "Yes [1]", True, False, False)
    verdict = judge([wrong], classify([wrong], rouge_l_f1), {**FACTS, "score": 0.0, "base_score": 0.0,
                                                             "metric": "exact match"})
    text = verdict_markdown({"verdict": verdict})
    assert "e.g. “Is the jar covered?” → “Yes \\[1\\]”" in text  # brackets escaped: Markdown shows [1]
    assert "two-year warranty" not in text


def test_a_reworded_training_question_is_a_leak_and_a_new_value_is_not():
    from tools.training.evaluate import eval_leaks

    instruction = "Convert this US recipe quantity to metric."
    train = [AlpacaSample(instruction=instruction, input=text, output=out) for text, out in
             (("1 1/2 cups rice", "355 ml"), ("2 cups flour", "473 ml"), ("3 tbsp butter", "44 ml"))]
    held_out = [AlpacaSample(instruction=instruction, input=text, output=out) for text, out in
                (("1 1/2 cups of rice", "355 ml"), ("2 cups sugar", "473 ml"), ("5 tsp salt", "25 ml"))]
    leaks = eval_leaks(train, held_out)
    assert [(leak["eval_index"], leak["train_index"]) for leak in leaks] == [(0, 0)]
    assert leaks[0]["train_prompt"].endswith("1 1/2 cups rice")


def test_the_verdict_names_what_the_misses_share_such_as_a_name_no_training_row_has():
    teams = ["billing", "mobile", "growth", "platform", "onboarding"]
    samples = [AlpacaSample(instruction="Rewrite in house style.", input=f"The {team} team fixed the {thing} bug.",
                            output=f"{team.capitalize()}: fixed the {thing}.")
               for team in teams for thing in ("login timeout", "lost draft")]
    answers = [Answer(f"Kon: fixed the {s.output.split('the ')[1]}" if "onboarding" in s.input else s.output, True)
               for s in samples]
    train_words = {"team": 100, "fixed": 40, "the": 100, "bug": 40, "billing": 5}
    _, verdict = verdict_of(samples, answers, [Answer("no", True)] * len(samples), True, [],
                            {**FACTS, "train_word_rows": train_words})
    assert [(item["words"], item["misses"], item["questions"], item["in_training"]) for item in verdict["shared"]] \
        == [(["onboarding"], 2, 2, 0)]  # "team", in every question, sets nothing apart
    text = verdict_markdown({"verdict": verdict})
    assert "What the misses share:\n- “onboarding”: 2 of the 2 questions with it were answered wrong; no training " \
           "question has it." in text
    assert "the misses share “onboarding”" in text

    everything_wrong = [Answer("no", True)] * len(samples)
    _, verdict = verdict_of(samples, everything_wrong, everything_wrong, True, [], FACTS)
    assert verdict["shared"] == [] and "What the misses share" not in verdict_markdown({"verdict": verdict})


def test_a_long_answer_wrong_only_at_its_end_is_shown_where_it_differs():
    reference = '{"customer": "Hiro Sato", "product": "standing desk", "order_id": "A1259", "category": ' \
                '"damaged", "priority": "high"}'
    wrong = reference.replace('"high"', '"medium"')
    cases = [case(wrong, reference)]
    verdict = judge(cases, classify(cases, rouge_l_f1), {**FACTS, "score": 0.0, "base_score": 0.0,
                                                        "metric": "exact match"})
    text = verdict_markdown({"verdict": verdict})
    assert '→ “…"priority": "medium"}” (expected “…"priority": "high"}”)' in text
    short = [case("Quelm.", "Orrin.")]
    text = verdict_markdown({"verdict": judge(short, classify(short, rouge_l_f1), {
        **FACTS, "score": 0.0, "base_score": 0.0, "metric": "exact match"})})
    assert "→ “Quelm.” (expected “Orrin.”)" in text
