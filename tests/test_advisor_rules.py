"""The decision rules on the scenario table (tests/fixtures/advisor/scenarios.json) and the advice's wording."""
import pytest

from tests.advisor_scenarios import load_scenarios
from tools.advisor.keywords import read_profile_hints
from tools.advisor.profile import QUESTIONS, validate_profile
from tools.advisor.recommend import assumption_lines, describe_scores, recommend
from tools.advisor.rules import RULES

CCE = "cost_complexity_expertise"
SCENARIOS = load_scenarios()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_scenario_gets_the_sources_approach(scenario):
    rec = recommend(validate_profile(scenario.profile))
    assert rec.approach == scenario.expected, (scenario.source, rec.scores, rec.fired_rules)
    assert rec.reasons and rec.next_steps


def test_the_table_is_broad_and_sourced():
    assert len(SCENARIOS) >= 50
    assert {s.expected for s in SCENARIOS} == {"icl", "rag", "fine-tune", "rag+fine-tune"}
    assert all(s.source.startswith("https://") and s.description and s.expected in s.acceptable for s in SCENARIOS)
    assert sum(len(s.stated()) <= 2 for s in SCENARIOS) >= 15  # partial profiles, as people give them
    assert len({s.id for s in SCENARIOS}) == len(SCENARIOS)


def test_knowledge_injection_trap_is_warned():
    rec = recommend(validate_profile({"requires_external_knowledge": True, "preferred_approach": "fine-tune"}))
    assert any("Knowledge-injection trap" in w for w in rec.warnings)
    assert any(w.startswith("You had Parameter-efficient fine-tuning (QLoRA) in mind; your answers point to "
                            "Retrieval-augmented generation (RAG)") for w in rec.warnings)


def test_wanting_rag_with_nothing_to_retrieve_is_told_why_not():
    rec = recommend(validate_profile({"requires_external_knowledge": False, "preferred_approach": "rag"}))
    assert rec.approach == "icl"
    assert any("RAG needs documents to retrieve from, and your task has none." in w for w in rec.warnings)


def test_pretraining_is_named_only_to_rule_it_out():
    rec = recommend(validate_profile({}))
    assert any("Pre-training and continued pre-training are not options" in w for w in rec.warnings)
    assert rec.approach in {"icl", "rag", "fine-tune", "rag+fine-tune"}


def test_reasons_are_sentences_about_the_task():
    rec = recommend(validate_profile({"requires_external_knowledge": True, "data_dynamics": "dynamic"}))
    assert rec.reasons[0].startswith("You said the answers need knowledge the model can't have learned")
    assert any(r.startswith("You said that knowledge changes often (weekly or faster): a fine-tuned model would go "
                            "stale") for r in rec.reasons)
    assert not any("=" in r or "_" in r for r in rec.reasons)  # no field names or code


def test_assumed_answers_are_said_as_assumed():
    rec = recommend(validate_profile({"custom_tone_behavior_style": True}))
    style = next(r for r in rec.reasons if "custom tone" in r)
    assert style.startswith("You said answers must follow a custom tone, vocabulary, behaviour or strict format, and "
                            "I assumed you have only a few worked examples (under 100) and cost per call and latency "
                            "matter little (low volume): a few demonstrations in the prompt")


def test_only_reasons_for_the_chosen_approach():
    fine_tune = recommend(validate_profile({"custom_tone_behavior_style": True, "labeled_data": "thousands",
                                            "task_diversity": "broad", "transparency_required": True,
                                            "requires_external_knowledge": False, "scale_latency_pressure": "high"}))
    rag = recommend(validate_profile({"requires_external_knowledge": True, "custom_tone_behavior_style": True}))
    assert rag.approach == "rag" and not any("what fine-tuning teaches best" in r for r in rag.reasons)
    assert fine_tune.approach == "fine-tune"
    assert not any("broad tasks" in r or "show its reasoning" in r for r in fine_tune.reasons)


def test_transparency_without_a_knowledge_source_is_reasoning_not_retrieval():
    rec = recommend(validate_profile({"transparency_required": True, "requires_external_knowledge": False}))
    assert rec.approach == "icl" and rec.scores["rag"] == 0
    assert any("show its reasoning step by step" in r for r in rec.reasons)


def test_few_examples_and_low_volume_temper_a_style_need_and_say_when_fine_tuning_pays():
    profile = {"custom_tone_behavior_style": True, "labeled_data": "few", "scale_latency_pressure": "low"}
    rec = recommend(validate_profile(profile))
    assert rec.approach == "icl"
    assert any("tens to hundreds of good examples, or when the volume makes long prompts costly" in r
               for r in rec.reasons)
    assert "If you have hundreds of worked examples, I would recommend Parameter-efficient fine-tuning (QLoRA)." \
        in rec.changes
    assert any(c.startswith("If cost per call and latency matter a lot") for c in rec.changes)
    assert recommend(validate_profile({**profile, "labeled_data": "hundreds"})).approach == "fine-tune"
    assert recommend(validate_profile({**profile, "scale_latency_pressure": "high"})).approach == "fine-tune"


def test_trap_is_warned_whenever_facts_or_fine_tuning_are_in_play():
    def trap(profile):
        return [w for w in recommend(validate_profile(profile)).warnings if w.startswith("Knowledge-injection trap")]
    assert trap({"requires_external_knowledge": True})  # RAG: don't train the documents in
    assert trap({"custom_tone_behavior_style": True, "labeled_data": "thousands"})  # fine-tune: form, not facts
    assert trap({"requires_external_knowledge": True, "preferred_approach": "fine-tune"})
    assert not trap({"requires_external_knowledge": False})  # prompting, nothing to inject


def test_scoreboard_in_words():
    rec = recommend(validate_profile({"requires_external_knowledge": True, "data_dynamics": "dynamic"}))
    assert describe_scores(rec.scores) == ("How your answers add up: retrieval 5 points (needed), fine-tuning 0 "
                                           "points (not needed); 2 points make a need.")


def test_every_assumption_is_listed_with_how_to_change_it():
    rec = recommend(validate_profile({"custom_tone_behavior_style": True}))
    chat = assumption_lines(rec, "chat")
    assert len(chat) == len(rec.assumed)
    assert "Worked examples: A few (under 100) (most teams can write a few examples). To change it, tell me, e.g. " \
           "“we have about 300 examples”." in chat
    assert any('set "budget" to one of "low", "medium", "high" under "cost_complexity_expertise"' in line
               for line in assumption_lines(rec, "profile"))


def test_each_change_example_is_read_by_the_phrase_table():
    for question in QUESTIONS:
        hints = {h.field for h in read_profile_hints(question.example)}
        assert question.field in hints, question.example


def test_assumed_names_every_missing_field_with_value_and_why():
    rec = recommend(validate_profile({"custom_tone_behavior_style": True}))
    expected_missing = {"requires_external_knowledge", "data_dynamics", "hallucination_tolerance", "labeled_data",
                        "transparency_required", "task_diversity", "scale_latency_pressure",
                        f"{CCE}.budget", f"{CCE}.search_expertise", f"{CCE}.finetuning_experience"}
    assert set(rec.assumed) == expected_missing
    assert all({"value", "why"} <= set(v) for v in rec.assumed.values())


def test_inferred_assumptions_follow_other_answers():
    rec = recommend(validate_profile({"transparency_required": True}))
    assert rec.assumed["requires_external_knowledge"]["value"] is True
    assert rec.assumed["requires_external_knowledge"]["why"] == ("changing data or cited answers imply a knowledge "
                                                                 "source")
    assert rec.assumed["hallucination_tolerance"]["value"] == "low"


def test_what_would_change_my_mind_names_single_answers():
    rec = recommend(validate_profile({"custom_tone_behavior_style": True, "labeled_data": "hundreds"}))
    assert rec.approach == "fine-tune"
    assert ("If the answers need knowledge the model can't have learned (your documents, products or internal facts) "
            "(I assumed otherwise), I would recommend RAG + fine-tuning.") in rec.changes


def test_no_sensitivity_lines_when_everything_is_known():
    full = {"requires_external_knowledge": False, "custom_tone_behavior_style": True,
            "hallucination_tolerance": "medium",
            "labeled_data": "hundreds", "data_dynamics": "n/a", "transparency_required": False,
            CCE: {"budget": "medium", "search_expertise": False, "finetuning_experience": True},
            "task_diversity": "narrow", "scale_latency_pressure": "low"}
    rec = recommend(validate_profile(full))
    assert rec.assumed == {} and not any("I assumed" in r for r in rec.reasons + rec.changes)


def test_every_rule_has_a_source_and_fires_in_some_scenario():
    fired = set()
    for scenario in SCENARIOS:
        fired |= set(recommend(validate_profile(scenario.profile)).fired_rules)
    for rule in RULES:
        assert rule.source.startswith("https://")
        if "baseline_quality" not in rule.when:  # measurement rules: tests/test_advisor_baseline.py
            assert rule.id in fired, f"rule {rule.id} is never exercised"


DETERMINISM_CHILD = """
import json, sys
from tools.advisor.profile import validate_profile
from tools.advisor.recommend import recommend
print(json.dumps(recommend(validate_profile(json.loads(sys.argv[1]))).to_dict()))
"""


def test_deterministic_across_processes():
    """The same profile gets the same recommendation, word for word, in processes whose string hashing (and so set
    order) differs: comparing two calls in one process could not fail."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    profile = {"custom_tone_behavior_style": True, "data_dynamics": "dynamic", "labeled_data": "few"}
    root = Path(__file__).resolve().parents[1]
    outputs = {subprocess.run([sys.executable, "-c", DETERMINISM_CHILD, json.dumps(profile)], cwd=root, check=True,
                              capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
               for seed in (1, 2, 3)}
    assert len(outputs) == 1, outputs
    assert json.loads(outputs.pop()) == recommend(validate_profile(profile)).to_dict()


def test_the_method_is_explained_for_the_machine_it_runs_on():
    from tools.advisor.recommend import method_sentence

    assert "GPU" in method_sentence(True) and "QLoRA: LoRA on a 4-bit base" in method_sentence(True)
    cpu = method_sentence(False)
    assert "no GPU here" in cpu and "on the CPU" in cpu and "on one GPU" not in cpu
