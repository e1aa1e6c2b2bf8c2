"""The LLM judge of open-ended answers: tuned vs base graded by the person's review notes, its agreement with their
approve/reject decisions, and a failing or missing endpoint said in words (never raised), within the time limit.

The endpoint is the local OpenAI-compatible stub; in the scored tests it plays a judge that decides by content (the
answer equal to the reference wins; a sample in ounces is rejected), so a verdict mapped to the wrong answer or a
decision compared the wrong way changes the counts."""

from __future__ import annotations

import json
import re
import time

import pytest
from openai_stub import OpenAIStub, Reply

from tools import llm
from tools.dataset.schema import AlpacaSample
from tools.dataset.versions import BuildSettings, versions_root
from tools.generation.notes import notes_from_reviews
from tools.generation.project_dataset import build_project_version
from tools.generation.store import ReviewStore
from tools.training import judge as judge_module
from tools.training.judge import JUDGE_SYSTEM, PairVerdict, SampleVerdict, judge_markdown, judge_run, parse_verdict
from tools.workspace import Workspace

PROJECT = "conv-1"
# (input, output as generated, decision, reason or edited output)
REVIEWED = [
    ("1 cup flour", "120 g", "approve", ""),
    ("1 cup sugar", "200 g", "approve", ""),
    ("1 cup butter", "8 oz", "approve", ""),  # the person let an ounce answer through: the judge will disagree
    ("half a cup of butter", "4 oz", "reject", "answer in ounces, not grams"),
    ("a quarter cup of cocoa", "1 oz", "reject", "general: use grams, never ounces"),
    ("1 cup of rice", "185 g", "reject", "conflict: sample 2 kept instead"),  # a twin resolved: no verdict on quality
    ("3 tablespoons honey", "3 oz", "edit", "63 g"),  # edits are not approve/reject decisions
]
# (reference, tuned, base) -> by content: tuned better 3, base better 1, ties 2 (one without a call: same answers)
CASES = [
    ("120 g", "120 g", "1 cup"),
    ("240 g", "240 g", "2 cups"),
    ("60 g", "6 g", "60 g"),
    ("30 g", "3 g", "300 g"),
    ("15 g", "15 g", "15 g"),
    ("500 g", "500 g", "half a kilo"),
]


class ContentJudge(OpenAIStub):
    """Answers each judge request from what it shows: the answer equal to the reference wins, a sample written in
    ounces is rejected. Records (request kind, shown data, rubric text) for each request."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[tuple[str, dict, str]] = []

    def next_reply(self, body):
        user = body["messages"][-1]["content"]
        rubric = re.search(r"<rubric>(.*?)</rubric>", user, re.DOTALL).group(1)
        with self._lock:
            self.requests.append(body)
            if "<case>" in user:
                case = json.loads(re.search(r"<case>\n(.*)\n</case>", user, re.DOTALL).group(1))
                self.shown.append(("case", case, rubric))
                winner = ("A" if case["answer_A"] == case["reference_answer"]
                          else "B" if case["answer_B"] == case["reference_answer"] else "tie")
                return Reply.json({"winner": winner, "reason": "matches the reference"})
            sample = json.loads(re.search(r"<sample>\n(.*)\n</sample>", user, re.DOTALL).group(1))
            self.shown.append(("sample", sample, rubric))
            return Reply.json({"verdict": "reject" if "oz" in sample["output"] else "accept", "reason": "units"})


@pytest.fixture
def client_imported():
    """The client library imported before a test that times the calls (its first import takes seconds)."""
    import langchain_openai  # noqa: F401


def use_endpoint(monkeypatch, tmp_path, base_url: str, timeout: float = 10, retries: int = 0) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from elsewhere
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    monkeypatch.setenv("TUNESMITH_LLM_TIMEOUT", str(timeout))
    monkeypatch.setenv("TUNESMITH_LLM_RETRIES", str(retries))


def no_endpoint(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def decisions(db) -> list[tuple]:
    with ReviewStore(db) as store:
        return [(s.id, s.status, s.reason, s.current.output) for s in store.project_samples(PROJECT)]


@pytest.fixture
def reviewed_run(tmp_path):
    """A workspace as the app leaves it: a project's reviewed batch, its error notes, a dataset version built from
    it, and a run whose config.json names that version. Returns (run dir, the store's file)."""
    workspace = Workspace(tmp_path / "ws")
    with ReviewStore(workspace.store_db) as store:
        seeds = [AlpacaSample(instruction="Convert to grams", input="2 cups flour", output="240 g")]
        store.save_project(PROJECT, "Convert US recipe quantities to grams", seeds)
        batch = store.add_batch(PROJECT, [AlpacaSample(instruction="Convert to grams", input=i, output=o)
                                          for i, o, _, _ in REVIEWED])
        for sample, (_, _, decision, detail) in zip(store.batch_samples(batch.id), REVIEWED):
            if decision == "approve":
                store.approve(sample.id)
            elif decision == "reject":
                store.reject(sample.id, detail)
            else:
                store.edit(sample.id, sample.current.model_copy(update={"output": detail}))
        store.submit_batch(batch.id)
        store.add_notes(PROJECT, notes_from_reviews(store.batch_samples(batch.id)))
        version = build_project_version(store, PROJECT, versions_root(workspace.project_dir(PROJECT)),
                                        BuildSettings(eval_fraction=0.25))["version"]
    run = workspace.runs_dir(PROJECT) / "run-1"
    (run / "adapter").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"data_dir": version["path"], "base_model": "gemma-3-270m"}))
    return run, workspace.store_db


def file_run(tmp_path):
    """A run on a dataset built from a file (no version.json, no project behind it)."""
    data = tmp_path / "from-file"
    data.mkdir(exist_ok=True)
    (data / "train.json").write_text(json.dumps([{"instruction": "q", "input": "", "output": "a"}]))
    run = tmp_path / "run-file"
    run.mkdir(exist_ok=True)
    (run / "config.json").write_text(json.dumps({"data_dir": str(data)}))
    return run


def plain_cases(n: int) -> list[dict]:
    return [{"prompt": f"q{i}", "reference": "r", "answer": f"tuned {i}"} for i in range(n)]


def case_list() -> tuple[list[dict], list[str]]:
    cases = [{"prompt": f"Convert to grams: quantity {i}", "reference": ref, "answer": tuned}
             for i, (ref, tuned, _) in enumerate(CASES)]
    return cases, [base for _, _, base in CASES]


def test_the_judge_scores_tuned_vs_base_by_the_persons_notes_and_checks_itself_against_their_decisions(
        reviewed_run, tmp_path, monkeypatch):
    run, db = reviewed_run
    before = decisions(db)
    cases, base = case_list()
    with ContentJudge() as stub:
        use_endpoint(monkeypatch, tmp_path, stub.base_url)
        result = judge_run(run / "adapter", cases, base)  # the adapter folder finds RUN/config.json too
        shown = stub.shown
        requests = stub.requests
    json.dumps(result)  # JSON-plain
    assert result["status"] == "scored", result["reason"]
    assert (result["tuned_better"], result["base_better"], result["ties"]) == (3, 1, 2)
    assert [c["winner"] for c in result["per_case"]] == ["tuned", "tuned", "base", "tie", "tie", "tuned"]
    assert result["judged"] == result["cases"] == 6 and result["unreadable"] == 0

    # the rubric is the person's own notes, exactly as the store keeps them
    with ReviewStore(db) as store:
        notes = store.notes(PROJECT)
    assert result["rubric"] == notes and result["rubric_source"] == "review notes" and result["project"] == PROJECT
    assert any("ounces" in note for note in notes)
    case_requests = [(data, rubric) for kind, data, rubric in shown if kind == "case"]
    assert len(case_requests) == 5  # identical answers are a tie without a call
    assert all(all(note in rubric for note in notes) for _, rubric in case_requests)

    # position bias: the tuned answer is shown first in some cases and second in others, as per_case says
    firsts = {c["prompt"]: c["tuned_first"] for c in result["per_case"]}
    assert set(firsts.values()) == {True, False}
    for data, _ in case_requests:
        tuned = cases[[c["prompt"] for c in cases].index(data["question"])]["answer"]
        assert (data["answer_A"] == tuned) == firsts[data["question"]]
    assert all(body["messages"][0]["content"] == JUDGE_SYSTEM and "response_format" in body for body in requests)

    # agreement with the person: 3 approved + 2 rejected (the conflict twin and the edit left out); the judge
    # rejects the approved "8 oz" sample, so it agrees on 4 of 5
    agreement = result["agreement"]
    assert (agreement["reviewed"], agreement["agrees"], agreement["rate"]) == (5, 4, 0.8)
    assert (agreement["approved"], agreement["rejected"]) == (3, 2)
    assert [(d["decision"], d["judge"]) for d in agreement["disagreements"]] == [("accept", "reject")]
    sample_requests = {data["output"]: rubric for kind, data, rubric in shown if kind == "sample"}
    assert sorted(sample_requests) == ["1 oz", "120 g", "200 g", "4 oz", "8 oz"]
    # the note drawn from a sample's own rejection is not shown when that sample is judged (no answer key)
    assert "answer in ounces" not in sample_requests["4 oz"] and "answer in ounces" in sample_requests["8 oz"]

    text = judge_markdown(result)
    assert "better on 3" in text and "the base model's on 1" in text and "2 were ties" in text
    assert "the judge agreed with your decisions on 4 of 5 reviewed samples (80%)" in text
    assert "{" not in text and "sk-test-secret" not in json.dumps(result) + text
    assert decisions(db) == before  # the person's data is untouched


def test_the_same_run_judged_twice_shows_the_same_order(reviewed_run, tmp_path, monkeypatch):
    run, _ = reviewed_run
    cases, base = case_list()
    orders = []
    for _ in range(2):
        with ContentJudge() as stub:
            use_endpoint(monkeypatch, tmp_path, stub.base_url)
            orders.append([c["tuned_first"] for c in judge_run(run, cases, base)["per_case"]])
    assert orders[0] == orders[1]
    assert judge_module.shown_first(20).count(True) == 10  # half each way


def test_a_dataset_built_from_a_file_gets_the_generic_rubric_and_no_agreement(tmp_path, monkeypatch):
    cases, base = case_list()
    with ContentJudge() as stub:
        use_endpoint(monkeypatch, tmp_path, stub.base_url)
        result = judge_run(file_run(tmp_path), cases, base)
        kinds = [kind for kind, _, _ in stub.shown]
    assert result["status"] == "scored"
    assert result["rubric"] == judge_module.GENERIC_RUBRIC and result["rubric_source"] == "generic"
    assert result["agreement"] is None and result["project"] is None and kinds == ["case"] * 5
    text = judge_markdown(result)
    assert "a general rubric" in text and "no reviewed samples to check it against" in text


def test_a_failing_endpoint_is_failed_in_words_quickly_and_stops_asking(reviewed_run, tmp_path, monkeypatch):
    run, db = reviewed_run
    before = decisions(db)
    cases = plain_cases(10)
    with OpenAIStub(default=Reply.error(503, "overloaded")) as stub:
        use_endpoint(monkeypatch, tmp_path, stub.base_url, retries=1)
        start = time.monotonic()
        result = judge_run(run, cases, [f"base {i}" for i in range(10)])
        elapsed = time.monotonic() - start
        asked = len(stub.requests)
    assert result["status"] == "failed" and "server error (503) after retries" in result["reason"]
    assert elapsed < 10
    # the first failure stops the rest: at most the calls already in flight (each with its one retry),
    # not the 15 calls x 2 tries the cases and reviewed samples would take
    assert asked <= judge_module.WORKERS * 2
    assert result["judged"] == 0 and result["agreement"] is None
    text = judge_markdown(result)
    assert text.startswith("The LLM judge could not finish: The LLM endpoint failed with a server error (503)")
    assert "other scores of this evaluation stand" in text
    assert decisions(db) == before


def judged_against_the_clock(monkeypatch, tmp_path, reply: Reply, n: int, limit_s: float, timeout: float,
                              retries: int, workers: int = judge_module.WORKERS) -> tuple[dict, float]:
    """judge_run on n cases against an endpoint that always gives reply, with the judge's time limit scaled
    down from 2 minutes to limit_s; returns the result and the seconds it took."""
    monkeypatch.setattr(llm, "LLM_DEADLINE_S", limit_s)
    monkeypatch.setattr(judge_module, "WORKERS", workers)
    with OpenAIStub(default=reply) as stub:
        use_endpoint(monkeypatch, tmp_path, stub.base_url, timeout=timeout, retries=retries)
        start = time.monotonic()
        result = judge_run(file_run(tmp_path), plain_cases(n), [f"base {i}" for i in range(n)])
        return result, time.monotonic() - start


def test_an_endpoint_that_does_not_answer_costs_one_time_limit(tmp_path, monkeypatch, client_imported):
    result, elapsed = judged_against_the_clock(monkeypatch, tmp_path, Reply.json({"winner": "A"}, delay_s=4.0),
                                               8, limit_s=1.0, timeout=0.5, retries=3)
    assert result["status"] == "failed" and "did not answer in time" in result["reason"]
    assert result["time_limit_s"] == 1.0
    assert elapsed < 4  # one time limit (1 s) and the client's backoff, not 8 calls x 4 tries x 0.5 s


def test_a_slow_endpoint_is_stopped_at_the_time_limit_for_all_calls_together(tmp_path, monkeypatch, client_imported):
    result, elapsed = judged_against_the_clock(monkeypatch, tmp_path, Reply.json({"winner": "A"}, delay_s=0.4),
                                               20, limit_s=1.5, timeout=1.0, retries=0, workers=1)
    # each call answers within its own timeout, but 20 of them do not fit the limit: the judge stops there
    assert result["status"] == "failed" and "the time limit for the judge's calls" in result["reason"]
    assert 1 <= result["judged"] < 5 and elapsed < 3
    assert f"It had judged {result['judged']} of 20 held-out answers when it stopped" in judge_markdown(result)


def test_the_last_call_is_cut_at_the_time_limit_not_after_its_own_timeout(tmp_path, monkeypatch, client_imported):
    result, elapsed = judged_against_the_clock(monkeypatch, tmp_path, Reply.json({"winner": "A"}, delay_s=2.0),
                                               3, limit_s=3.0, timeout=2.9, retries=0, workers=1)
    # the second call starts at ~2 s with ~1 s left: it is given that second, not its 2.9 s (it would end at ~4 s)
    assert result["status"] == "failed" and result["judged"] == 1
    assert "did not answer in time" in result["reason"] and "Gave up after 3 s" in result["reason"]
    assert elapsed < 3.7


def test_no_endpoint_says_so_and_keeps_rouge(reviewed_run, tmp_path, monkeypatch):
    run, _ = reviewed_run
    no_endpoint(monkeypatch, tmp_path)
    cases, base = case_list()
    result = judge_run(run, cases, base)
    assert result["status"] == "no_endpoint" and "ROUGE-L" in result["reason"]
    assert result["rubric_source"] == "review notes" and result["per_case"] == []
    text = judge_markdown(result)
    assert "No LLM endpoint is configured" in text and "ROUGE-L" in text and "side-by-side" in text


def test_unreadable_replies_are_left_out_and_never_run(tmp_path, monkeypatch):
    cases = plain_cases(4)
    with OpenAIStub() as stub:
        stub.script("The winner is A.", Reply.json({"winner": "C"}),
                    Reply.text("__import__('os').system('touch pwned')"), Reply.json({"winner": "tie"}))
        use_endpoint(monkeypatch, tmp_path, stub.base_url)
        monkeypatch.setattr(judge_module, "WORKERS", 1)  # replies in script order
        result = judge_run(file_run(tmp_path), cases, ["b"] * 4)
    assert result["status"] == "scored" and result["unreadable"] == 3 and result["ties"] == 1
    assert result["reason"] == "3 of the judge's replies could not be read and were left out."
    assert not (tmp_path / "pwned").exists()
    with OpenAIStub(default=Reply.text("I think A is better.")) as stub:
        use_endpoint(monkeypatch, tmp_path, stub.base_url)
        result = judge_run(file_run(tmp_path), cases, ["b"] * 4)
    assert result["status"] == "failed" and "could be read as the JSON verdict" in result["reason"]


def test_an_endpoint_without_structured_output_gets_plain_json_requests(tmp_path, monkeypatch):
    cases = [{"prompt": "q", "reference": "r", "answer": "r"}]
    with OpenAIStub() as stub:
        stub.script(Reply.error(400, "response_format is not supported"), Reply.text('```json\n{"winner": "A"}\n```'))
        use_endpoint(monkeypatch, tmp_path, stub.base_url)
        result = judge_run(file_run(tmp_path), cases, ["other"])
        bodies = stub.requests
    assert result["status"] == "scored" and result["judged"] == 1
    assert "response_format" in bodies[0] and "response_format" not in bodies[1]


@pytest.mark.parametrize(("text", "expected"), [
    ('{"winner": "B", "reason": "closer"}', PairVerdict(winner="B", reason="closer")),
    ('{"winner": "a"}', PairVerdict(winner="A")),
    ('```json\n{"winner": "TIE"}\n```', PairVerdict(winner="tie")),
    ('{"winner": "C"}', None),
    ('[{"winner": "A"}]', None),
    ('Answer A. {"winner": "A"}', None),  # strict: one JSON object, not one found somewhere in prose
    ("", None),
])
def test_a_verdict_is_one_strict_json_object(text, expected):
    assert parse_verdict(text, PairVerdict) == expected


def test_sample_verdicts_parse_strictly():
    assert parse_verdict('{"verdict": "Reject", "reason": "ounces"}', SampleVerdict).verdict == "reject"
    assert parse_verdict('{"verdict": "maybe"}', SampleVerdict) is None


def test_the_judge_never_raises_into_the_evaluation(tmp_path, monkeypatch):
    no_endpoint(monkeypatch, tmp_path)
    assert judge_run(tmp_path / "missing-run", [], [])["status"] == "no_endpoint"
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with OpenAIStub() as stub:
        use_endpoint(monkeypatch, tmp_path, stub.base_url)
        result = judge_run(tmp_path / "broken", [{"prompt": None, "answer": 3}], [None])
        assert result["status"] in {"scored", "failed"} and isinstance(result["reason"], str)
        assert judge_run(tmp_path / "broken", [], [])["status"] == "failed"


@pytest.mark.parametrize(("agrees", "advice"), [
    (17, "so its verdicts are a fair guide to your own judgement"),
    (15, "so take its verdicts as a rough guide"),
    (11, "so do not rely on its verdicts"),
])
def test_the_report_says_how_far_to_trust_the_judge(agrees, advice):
    scored = {"status": "scored", "reason": "", "rubric_source": "review notes", "model": "judge-model",
              "judged": 20, "cases": 20, "tuned_better": 12, "base_better": 3, "ties": 5,
              "agreement": {"reviewed": 20, "agrees": agrees, "rate": agrees / 20}}
    text = judge_markdown(scored)
    assert text.startswith("An LLM judge (judge-model) compared the tuned and the base answers on 20 held-out "
                           "questions, using your review notes: the tuned model's answer was better on 12, the base "
                           "model's on 3, and 5 were ties.")
    assert f"the judge agreed with your decisions on {agrees} of 20 reviewed samples ({agrees / 20:.0%})" in text
    assert advice in text


def test_odd_verdict_values_are_unreadable_not_errors():
    for text in ('{"winner": ["A"]}', '{"winner": null}', '{"winner": {"A": 1}}', '{"verdict": "accept"}', "null"):
        assert parse_verdict(text, PairVerdict) is None
