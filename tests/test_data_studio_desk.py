"""The Data studio's desk (agent/data_studio.py): one typed Decision per call, the panel's new state back, the review
rules in one place (the batch must be open, the next pending sample, the counts); the build settings the person
chose, kept per conversation; version cards that say what went in; the task typed in the chat."""
from __future__ import annotations

import json

import pytest
from browser_support import workspace_session

from agent.data_studio import NOTHING_SHOWN, task_from_chat
from tools.dataset.schema import AlpacaSample
from tools.dataset.versions import BuildSettings
from tools.errors import UserError
from tools.generation.decisions import Decision, DecisionKind

SEED = AlpacaSample(instruction="Seed?", output="Seed.")


def bikes(tmp_path, n: int = 3):
    settings, store, session = workspace_session(tmp_path)
    store.save_project("bikes", "Answer bike questions", [SEED])
    if n:
        store.add_batch("bikes", [AlpacaSample(instruction=f"Which part {i}?", output=f"Part {i}.") for i in range(n)])
    return store, session.studio


def test_an_unknown_decision_is_refused_not_taken_as_done(tmp_path):
    store, desk = bikes(tmp_path)
    with pytest.raises(UserError, match="unknown decision 'delete'; use one of approve, reject"):
        Decision("delete", (1,))
    with pytest.raises(UserError, match="bulk takes"):
        Decision(DecisionKind.EDIT, (1, 2), bulk=True)
    with pytest.raises(UserError, match="exactly one sample id"):
        Decision(DecisionKind.APPROVE, (1, 2))
    assert all(s.status == "pending" for s in store.batch_samples(store.open_batch("bikes").id))


def test_a_decision_on_a_submitted_batch_is_refused_and_nothing_is_written(tmp_path):
    store, desk = bikes(tmp_path)
    ids = [s.id for s in store.batch_samples(store.open_batch("bikes").id)]
    panel = desk.decide("bikes", Decision(DecisionKind.APPROVE, tuple(ids), bulk=True))
    assert panel.message == "Approved 3 pending sample(s)." and panel.counts["approved"] == 3
    desk.submit_open_batch("bikes")
    panel = desk.decide("bikes", Decision(DecisionKind.REJECT, (ids[0],), reason="wrong"))
    assert panel.refused and "batch 1 is already submitted" in panel.message and not panel.batch_open
    assert store.sample(ids[0]).status == "approved"


def test_a_focus_decision_moves_to_the_next_pending_sample_and_wraps_round(tmp_path):
    store, desk = bikes(tmp_path)
    samples = store.batch_samples(store.open_batch("bikes").id)
    panel = desk.decide("bikes", Decision(DecisionKind.APPROVE, (samples[1].id,), seen=samples[1]))
    assert (panel.position, panel.message) == (2, "Approved sample 2. 2 pending.")
    panel = desk.decide("bikes", Decision(DecisionKind.REJECT, (samples[2].id,), reason="vague", seen=samples[2]))
    assert panel.position == 0 and panel.counts == {"pending": 1, "approved": 1, "rejected": 1, "edited": 0}
    edited = {**samples[0].current.model_dump(), "output": "Part 0, the chain."}
    panel = desk.decide("bikes", Decision(DecisionKind.EDIT, (samples[0].id,), edited=edited, seen=samples[0]))
    assert panel.message.endswith("All decided: press **Submit batch**.") and panel.counts["edited"] == 1
    bad = desk.decide("bikes", Decision(DecisionKind.EDIT, (samples[0].id,), edited={**edited, "output": " "}))
    assert bad.refused and "output" in bad.message and store.sample(samples[0].id).current.output == edited["output"]


def test_bulk_decisions_take_only_what_is_pending_and_say_so(tmp_path):
    store, desk = bikes(tmp_path)
    samples = store.batch_samples(store.open_batch("bikes").id)
    store.reject(samples[0].id, "decided in the terminal meanwhile")
    ids = tuple(s.id for s in samples)
    panel = desk.decide("bikes", Decision(DecisionKind.TAG, ids, tags="Gears", bulk=True))
    assert panel.message == "Tagged 3 sample(s) 'gears'."
    assert desk.decide("bikes", Decision(DecisionKind.REJECT, ids, bulk=True)).refused  # a reason is needed
    panel = desk.decide("bikes", Decision(DecisionKind.APPROVE, ids, bulk=True))
    assert panel.message == "Approved 2 pending sample(s)." and store.sample(samples[0].id).status == "rejected"
    assert desk.decide("bikes", Decision(DecisionKind.APPROVE, ids, bulk=True)).message == NOTHING_SHOWN
    shown = desk.panel("bikes", review_filter=("approved", "gears", "part")).samples
    assert shown == store.batch_samples(samples[0].batch_id)[1:]


def test_a_conflict_is_resolved_by_a_decision_like_any_other(tmp_path):
    store, desk = bikes(tmp_path, n=0)
    batch = store.add_batch("bikes", [AlpacaSample(instruction="Which chain fits?", output="A 1/2 inch chain."),
                                      AlpacaSample(instruction="Which chain fits?", output="Any 11-speed chain.")])
    ids = tuple(s.id for s in store.batch_samples(batch.id))
    desk.decide("bikes", Decision(DecisionKind.APPROVE, ids, bulk=True))
    assert len(desk.conflicts("bikes")) == 1
    panel = desk.decide("bikes", Decision(DecisionKind.KEEP_ONE, ids, keep_id=ids[1]))
    assert panel.message.startswith(f"Kept sample {ids[1]}; rejected {ids[0]}") and not desk.conflicts("bikes")


def test_the_build_settings_chosen_are_kept_per_conversation(tmp_path):
    store, desk = bikes(tmp_path)
    assert desk.chosen_build_settings("bikes") is None  # nobody chose any: the target build will not happen
    desk.choose_build_settings("bikes", {"fmt": "sharegpt", "eval_fraction": 0.2, "system": "", "include_seeds": False})
    assert desk.chosen_build_settings("bikes") == BuildSettings("sharegpt", 0.2, "", False)
    assert desk.chosen_build_settings("other") is None
    with pytest.raises(UserError, match="unknown format"):
        desk.choose_build_settings("bikes", {"fmt": "xml", "eval_fraction": 0.1, "system": "", "include_seeds": True})
    assert desk.chosen_build_settings("bikes").fmt == "sharegpt"  # a refused choice changes nothing


def test_a_version_card_says_what_went_in(tmp_path):
    store, desk = bikes(tmp_path)
    data = tmp_path / "other.json"
    data.write_text(json.dumps([{"instruction": f"Q{i} about brakes {i * 7}?", "output": f"A{i}."}
                                for i in range(6)]))
    desk.build_from_file("bikes", str(data), {"fmt": "alpaca", "eval_fraction": 0.1, "system": "",
                                               "include_seeds": True})
    card = desk.versions("bikes")[0]
    assert card["went_in"] == "other.json (6 rows)" and card["settings"]["include_seeds"] is False
    from tools.generation.project_dataset import build_project_version

    ids = tuple(s.id for s in store.batch_samples(store.open_batch("bikes").id))
    desk.decide("bikes", Decision(DecisionKind.APPROVE, ids, bulk=True))
    build_project_version(store, "bikes", desk.versions_root("bikes"), BuildSettings())
    assert desk.versions("bikes")[0]["went_in"] == "3 approved samples, 1 seeds"


def test_the_task_typed_in_the_chat_is_the_first_that_describes_one():
    chat = [{"role": "assistant", "content": "Tell me about your task."},
            {"role": "user", "content": "Yes"},  # a quick choice
            {"role": "user", "content": "improve the model"},  # a command
            {"role": "system", "content": "You pressed **Generate a batch** in the Data studio tab."},
            {"role": "user", "content": "Sort parcel e-mails into refund, tracking or address tickets."},
            {"role": "user", "content": "Also keep the tone friendly please."}]
    assert task_from_chat(chat) == "Sort parcel e-mails into refund, tracking or address tickets."
    assert task_from_chat(chat[:4]) == ""
