"""Improve, through the graph: the evaluation's failing rows become error notes in the next batch's request, that
batch is reviewed as usual, its submission builds a version that leaves the held-out rows out (with the person's
build settings) and proposes a round continuing the run; the round is scored on the first round's rows and
previous vs now is told row by row. Improve with nothing to learn from changes nothing."""
import json
from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver

from agent.actions import Action, parse_reply
from agent.improve_nodes import round_change, round_change_markdown
from agent.nodes import AgentDeps
from agent.session import Session
from tests.e2e_tickets import TicketLLM
from tests.improve_support import (
    TRAINING_CHOICES,
    approve_open_batch,
    evaluated_first_round,
    fake_training,
    reach_fine_tune_path,
    wait_until,
)
from tests.openai_stub import Reply
from tools.generation.notes import EVALUATION_NOTE
from tools.settings import Settings
from tools.training.preflight import read_dataset_split


@pytest.fixture
def stub():
    with TicketLLM() as server:
        yield server


@pytest.fixture
def session(tmp_path, stub, monkeypatch):
    fake_training(monkeypatch)
    settings = Settings(tunesmith_workspace=tmp_path / "ws", _env_file=None)
    generator = ChatOpenAI(base_url=stub.base_url, api_key="test", model="stub-model", max_retries=0, timeout=30)
    return Session(settings, deps=AgentDeps(generation_model=generator, workspace=settings.workspace,
                                            answer_question=lambda q, p, m: f"Answer: {q}"),
                   checkpointer=InMemorySaver())


@pytest.mark.parametrize("typed", ["improve", "Improve the model.", "  IMPROVE it! ", "next round"])
def test_typed_words_become_the_improve_action(typed):
    assert parse_reply({"text": typed}).action is Action.IMPROVE


@pytest.mark.parametrize("typed", ["How do I improve the model?", "improve the prompts please", "improvement",
                                   "Can it improve?"])
def test_other_words_about_improving_stay_text(typed):
    assert parse_reply({"text": typed}).action is Action.TEXT


@pytest.mark.slow  # the trainer and the evaluation run as (scripted) processes
def test_improve_runs_the_next_round_from_the_models_mistakes(session, stub):
    tid = reach_fine_tune_path(session)
    run_1 = evaluated_first_round(session, tid)
    first = json.loads((run_1 / "eval.json").read_text())
    v001 = Path(first["eval_file"]).parent
    held_out = read_dataset_split(first["eval_file"]).samples
    assert v001.name == "v001-reviewed" and len(held_out) == 5  # eval fraction 0.2 of 25 rows
    view = session.view(tid)
    assert "Partly works: exact match 60% on 5 held-out rows" in view.messages[-1]["content"]
    assert [r["label"] for r in view.quick_replies] == ["Improve"]
    failing = [c for c in first["cases"] if not c["correct"]]
    assert len(failing) == 2

    # typed in the chat: the failing rows become error notes, and the next batch is drafted with them
    view = session.send(tid, "improve the model")
    assert view.messages[-3] == {"role": "user", "content": "improve the model"}
    assert "**Improve `run-1`**: it got 2 of 5 held-out rows wrong" in view.messages[-2]["content"]
    assert "Batch 2 is ready" in view.messages[-1]["content"] and view.pause == "review"
    notes = [n for n in session.store.notes(tid) if n.startswith(EVALUATION_NOTE)]
    assert len(notes) == 2
    request = stub.batch_requests[1]["messages"][-1]["content"]
    for case in failing:  # the failure named, the input, the correct answer: in the request the generator gets
        assert f'the correct answer is "{case["reference"]}", the tuned model answered "{case["answer"]}"' in request
        assert f'(for cases like "{case["instruction"]} {case["input"]}")' in request
    assert request.count("Held-out mistake (right format, wrong content)") == 2

    # reviewed as usual; submitting it (from the chat: no build settings sent) builds v002 with v001's settings
    approve_open_batch(session, tid)
    view = session.send(tid, {"text": "Submit batch", "action": "submit"})
    v002 = Path(view.dataset_dir)
    version = json.loads((v002 / "version.json").read_text())
    assert v002.name == "v002-reviewed" and version["settings"]["eval_fraction"] == 0.2
    trained_on = read_dataset_split(v002 / "train.json").samples + read_dataset_split(v002 / "eval.json").samples
    held_questions = {s.prompt_text() for s in held_out}
    assert held_questions and not held_questions & {s.prompt_text() for s in trained_on}
    assert any("5 row(s) asking a held-out question of `run-1` (or a reworded twin of one) left out" in m["content"]
               for m in view.messages[-3:])

    # the proposal continues run-1 on v002 with the person's choices, and waits for approval
    assert view.pause == "approve_training"
    config = view.training_plan["config"]
    assert Path(config["parent_run"]).name == "run-1" and Path(config["data_dir"]) == v002
    assert config["method"] == "lora" and config["max_steps"] == 4 and config["base_model"] == "fake-base-model"
    assert "**A new round**: continues `run-1` on `v002-reviewed`" in view.messages[-1]["content"]

    view = session.send(tid, {"text": "Start training", "action": "approve"})
    wait_until(lambda: session.view(tid).run_phase == "finished", session=session, tid=tid)
    view = session.view(tid)
    second = view.evaluation
    assert second["eval_file"] == first["eval_file"], "a later round is scored on the first round's rows"
    assert Path(second["previous_run"]).name == "run-1"
    assert second["round_change"] == {"same_rows": True, "scored": 5, "fixed": [1, 3], "broken": [4],
                                      "still_wrong": [], "right_before": 3, "right_now": 4}
    report = view.messages[-1]["content"]
    assert "**Previous vs now, on the same 5 held-out rows**: `run-1` got 3 right, this round 4." in report
    assert "- Fixed: 2 row(s) it got wrong before (#2, #4)." in report
    assert "- Newly wrong: 1 row(s) it got right before (#5)." in report
    assert "| metric | base | previous round | now |" in report


def test_improve_without_an_evaluation_changes_nothing(session, stub):
    tid = reach_fine_tune_path(session)
    notes = session.store.notes(tid)
    view = session.send(tid, "improve")
    assert "There is no evaluated model to improve yet" in view.messages[-1]["content"]
    assert "Nothing was changed" in view.messages[-1]["content"]
    assert session.store.notes(tid) == notes and not stub.batch_requests and view.stage == "seeds"


@pytest.mark.slow
def test_improve_with_every_row_right_changes_nothing(session, stub):
    tid = reach_fine_tune_path(session)
    evaluated_first_round(session, tid)
    evaluation = session.view(tid).evaluation
    all_right = {**evaluation, "cases": [{**c, "correct": True, "kinds": []} for c in evaluation["cases"]]}
    all_right["cases"][1] |= {"correct": False, "kinds": ["near_twin"]}  # a leak measures nothing: not counted
    session.graph.update_state(session._config(tid), {"evaluation": all_right}, as_node="record_evaluation")
    session.graph.invoke(None, session._config(tid))
    assert session.view(tid).quick_replies == [] and session.view(tid).pause == "chat"
    notes, requests = session.store.notes(tid), len(stub.batch_requests)
    view = session.send(tid, {"text": "Improve", "action": "improve", "tab": "Training"})
    said = view.messages[-1]["content"]
    assert "got all 4 held-out row(s) it was scored on right" in said and "Nothing was changed" in said
    assert session.store.notes(tid) == notes and len(stub.batch_requests) == requests
    assert view.pause == "chat" and session.store.open_batch(tid) is None


@pytest.mark.slow
def test_improve_while_a_batch_is_open_says_submit_first(session, stub):
    tid = reach_fine_tune_path(session)
    evaluated_first_round(session, tid)
    session.send(tid, {"text": "Generate a batch", "action": "generate"})
    view = session.send(tid, {"text": "Improve", "action": "improve", "tab": "Training"})
    assert view.pause == "review" and "Batch 2 is still open for review" in view.messages[-1]["content"]
    assert "then **Improve** drafts the next batch" in view.messages[-1]["content"]
    assert not [n for n in session.store.notes(tid) if n.startswith(EVALUATION_NOTE)]


@pytest.mark.slow
def test_a_round_whose_batch_could_not_be_drafted_is_dropped_by_a_proposal_of_the_persons_own(session, stub):
    tid = reach_fine_tune_path(session)
    evaluated_first_round(session, tid)
    answer = stub.next_reply
    stub.next_reply = lambda body: Reply.error(400, "model overloaded")  # the endpoint refuses this batch
    view = session.send(tid, "improve")
    stub.next_reply = answer
    assert "⚠️" in view.messages[-1]["content"] and session.store.open_batch(tid) is None
    assert len([n for n in session.store.notes(tid) if n.startswith(EVALUATION_NOTE)]) == 2  # kept for later
    session.send(tid, {"text": "Check and propose", "action": "prepare_training", "config": TRAINING_CHOICES})
    assert session.graph.get_state(session._config(tid)).values["improvement"] is None
    session.send(tid, {"text": "Change settings", "action": "revise"})
    session.send(tid, {"text": "Generate a batch", "action": "generate"})
    approve_open_batch(session, tid)
    view = session.send(tid, {"text": "Submit batch", "action": "submit"})
    assert view.pause == "chat" and view.training_plan is None, "no round follows a batch of the person's own"


def test_improve_refuses_in_words_when_no_row_was_scored_or_rows_are_missing():
    from agent.improve_nodes import why_not_improve

    twin = {"index": 0, "instruction": "q", "input": "", "prompt": "q", "reference": "a", "answer": "b",
            "correct": False, "kinds": ["near_twin"]}
    state = {"run_dir": "/w/runs/run-3", "run_phase": "finished", "evaluation": {"cases": [twin]}}
    assert "Every held-out row of `run-3` has a near-twin" in why_not_improve(state)
    state["evaluation"] = {"tuned": {}}  # evaluated by a version that wrote no cases
    assert "run `tunesmith evaluate --run /w/runs/run-3` again" in why_not_improve(state)
    state["run_phase"] = "evaluating"
    assert "`run-3` is still evaluating" in why_not_improve(state)


def test_round_change_needs_the_same_rows():
    def result(eval_file: str, correct: list[bool]) -> dict:
        return {"eval_file": eval_file, "previous_run": "/runs/run-1",
                "cases": [{"index": i, "prompt": f"q{i}", "correct": c, "kinds": []} for i, c in enumerate(correct)]}

    change = round_change(result("a.json", [True, True, False]), result("a.json", [False, True, True]))
    assert change == {"same_rows": True, "scored": 3, "fixed": [0], "broken": [2], "still_wrong": [],
                      "right_before": 2, "right_now": 2}
    other = round_change(result("b.json", [True]), result("a.json", [False]))
    assert other == {"same_rows": False, "previous_eval_file": "a.json"}
    assert "was scored on other rows (`a.json`)" in round_change_markdown({"round_change": other,
                                                                           "previous_run": "/runs/run-1"})
    assert round_change(result("a.json", [True]), None) is None
