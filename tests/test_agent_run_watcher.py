"""The server watches runs: with no browser tab open, a finished run is recorded once as a system event, its
evaluation runs once as its own process, and the report reaches the conversation; a second watcher changes nothing."""
import json
import threading
import time
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

import tools.training.run_folder as run_folder
from agent.nodes import AgentDeps
from agent.session import Session
from tools.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def session_with_finished_run(tmp_path, monkeypatch):
    monkeypatch.setattr(run_folder, "EVALUATION_MODULE", "tests.fake_evaluation_job")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    settings = Settings(tunesmith_workspace=tmp_path / "ws", _env_file=None)
    session = Session(settings, deps=AgentDeps(workspace=settings.workspace), checkpointer=InMemorySaver())
    tid = session.new_conversation().thread_id
    run = tmp_path / "ws" / "projects" / tid / "runs" / "run-1"
    run.mkdir(parents=True)
    events = [{"event": "log", "step": 10, "max_steps": 10, "loss": 0.25}, {"event": "done", "step": 10}]
    (run / "progress.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    session.graph.update_state(session._config(tid), {"run_dir": str(run), "run_phase": "training",
                                                      "stage": "training"}, as_node="start_training")
    session.graph.invoke(None, session._config(tid))
    session._watched.add(tid)
    return session, tid, run


def test_a_finished_run_is_evaluated_once_with_no_tab_open(session_with_finished_run):
    session, tid, run = session_with_finished_run
    session.start_watching(interval_s=0.1)
    racing = threading.Thread(target=lambda: [session.watch_runs_once() or time.sleep(0.05) for _ in range(40)])
    racing.start()  # a second looker at the same time, as two tabs' ticks used to be
    deadline = time.monotonic() + 30
    while session.view(tid).evaluation is None and time.monotonic() < deadline:
        time.sleep(0.1)
    racing.join()
    session.stop_watching()
    view = session.view(tid)
    assert view.evaluation["tuned"]["loss"] == 0.4 and view.stage == "done" and view.run_phase == "finished"
    finished = [m for m in view.messages if "finished at step 10/10 (last loss 0.2500)" in m["content"]]
    assert len(finished) == 1 and finished[0]["role"] == "system"
    reports = [m for m in view.messages if m["content"].startswith("Training of `run-1` finished and was evaluated")]
    assert len(reports) == 1, "the evaluation is reported once"
    report = reports[0]["content"]
    # the verdict in words first (the same text as the Training tab), then the metrics; Improve is offered
    assert report.index("**Partly works: exact match 50% on 2 held-out rows") < report.index("| metric |")
    assert "right format, wrong content: 1" in report and "press **Improve**" in report
    assert "{" not in report, "plain sentences and a table, no raw dicts"
    assert [r["label"] for r in view.quick_replies] == ["Improve"]
    started = [e for e in run_folder.read_events(run / run_folder.EVALUATION_PROGRESS_FILE)[0] if e["event"] == "start"]
    assert len(started) == 1, "the evaluation must run exactly once"
    assert not any(m["role"] == "user" for m in view.messages), "nothing was said in the person's name"


def test_an_evaluation_that_dies_is_reported_with_its_log(session_with_finished_run, monkeypatch):
    session, tid, run = session_with_finished_run
    monkeypatch.setattr(run_folder, "EVALUATION_MODULE", "tests.no_such_module")
    session.watch_runs_once()  # records the end and starts the (broken) evaluation
    assert session.view(tid).run_phase == "evaluating"
    deadline = time.monotonic() + 20
    while session.view(tid).run_phase == "evaluating" and time.monotonic() < deadline:
        session.watch_runs_once()
        time.sleep(0.2)
    said = session.view(tid).messages[-1]
    assert said["role"] == "system" and "Evaluating `run-1` failed" in said["content"]
    assert "No module named tests.no_such_module" in said["content"]


def test_an_evaluation_claimed_but_never_started_is_reported_not_evaluating_forever(session_with_finished_run):
    """The app stopped between claiming the evaluation and starting its process: once the grace has passed the
    conversation says so, with how to evaluate, instead of "evaluating" for ever."""
    from datetime import UTC, datetime, timedelta

    session, tid, run = session_with_finished_run
    long_ago = datetime.now(UTC) - timedelta(seconds=run_folder.STARTING_GRACE_S + 5)
    (run / run_folder.EVALUATION_PROGRESS_FILE).write_text(json.dumps({"event": "queued",
                                                                       "time": long_ago.isoformat()}) + "\n")
    session.watch_runs_once()  # records the end; the evaluation was claimed already, so none is started
    assert session.view(tid).run_phase == "evaluating"
    session.watch_runs_once()
    view = session.view(tid)
    assert view.run_phase == "finished" and "Evaluating `run-1` failed" in view.messages[-1]["content"]
    assert "was never started" in view.messages[-1]["content"]
    assert f"tunesmith evaluate --run {run}" in view.messages[-1]["content"]
