"""A conversation with an evaluated run, for the Improve tests: the real graph, launcher, run watcher and
evaluation process, with the trainer and the scoring replaced by scripted ones (tests/fake_trainer.py,
tests/fake_round_evaluation_job.py) and the preflight answering GO (it is tested on its own)."""
from __future__ import annotations

import time
from pathlib import Path

from tools.dataset.schema import AlpacaSample
from tools.training.preflight import Check, PreflightReport

ROOT = Path(__file__).resolve().parents[1]
TASK = "Turn a customer support email into a JSON ticket with customer, product, order_id, category and priority."
TRAINING_CHOICES = {"base_model": "fake-base-model", "method": "lora", "max_steps": 4}


def fake_training(monkeypatch) -> None:
    """Training and evaluation run as their own processes, scripted; the preflight says GO."""
    import tools.training.preflight as preflight
    import tools.training.run_folder as run_folder

    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setattr(run_folder, "TRAINER_MODULE", "tests.fake_trainer")
    monkeypatch.setattr(run_folder, "EVALUATION_MODULE", "tests.fake_round_evaluation_job")
    monkeypatch.setattr(preflight, "run_preflight", lambda config: PreflightReport(True, [Check(
        "base model", "ok", "the scripted trainer needs no model")]))


def seeds() -> list[AlpacaSample]:
    from tests.e2e_tickets import SEEDS

    return [AlpacaSample(**seed) for seed in SEEDS]


def reach_fine_tune_path(session) -> str:
    """A new conversation through the guided interview to the fine-tune path, with the task and seeds saved."""
    tid = session.new_conversation().thread_id
    session.send(tid, {"text": "Yes", "field": "custom_tone_behavior_style", "value": True})
    session.send(tid, {"text": "Hundreds", "field": "labeled_data", "value": "hundreds"})
    session.send(tid, {"text": "Recommend now", "action": "recommend"})
    session.send(tid, {"text": "Start this path", "action": "start_path"})
    session.store.save_project(tid, TASK, seeds(), target_count=20)
    return tid


def approve_open_batch(session, tid: str) -> None:
    batch = session.store.open_batch(tid)
    session.store.bulk([s.id for s in session.store.batch_samples(batch.id)], "approve")


def wait_until(condition, timeout_s: float = 120, session=None, tid: str | None = None) -> None:
    """Polls (running the watcher once a turn when given a session) until condition() holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            view = session.view(tid) if session is not None and tid else None
            raise AssertionError("timed out waiting" + (f": phase {view.run_phase}, run {view.run_dir}, last said "
                                                        f"{view.messages[-1]['content'][:300]!r}" if view else ""))
        if session is not None:
            session.watch_runs_once()
        time.sleep(0.1)


def evaluated_first_round(session, tid: str) -> Path:
    """Batch 1 reviewed and built as v001 (eval fraction 0.2), run-1 trained and evaluated: returns run-1."""
    session.send(tid, {"text": "Generate a batch", "action": "generate"})
    approve_open_batch(session, tid)
    session.send(tid, {"text": "Submit batch", "action": "submit", "config": {"eval_fraction": 0.2}})
    session.send(tid, {"text": "Check and propose", "action": "prepare_training", "config": TRAINING_CHOICES})
    view = session.send(tid, {"text": "Start training", "action": "approve"})
    assert view.run_phase == "training", view.messages[-1]["content"]
    wait_until(lambda: session.view(tid).run_phase == "finished", session=session, tid=tid)
    return Path(view.run_dir)
