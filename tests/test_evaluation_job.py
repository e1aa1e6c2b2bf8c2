"""The evaluation process of a finished run: claimed once, "running" only once its process has started, and a start
that fails (or never happens) is a failure with its reason, never "evaluating" forever."""
from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tools.training import evaluation_job, run_folder
from tools.training.run_folder import EVALUATION_PROGRESS_FILE, read_run

ROOT = Path(__file__).resolve().parents[1]


def events(run: Path) -> list[str]:
    return [e["event"] for e in run_folder.read_events(run / EVALUATION_PROGRESS_FILE)[0]]


def test_a_start_that_fails_is_reported_not_left_evaluating(tmp_path, monkeypatch):
    def no_process(*args, **kwargs):
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    assert evaluation_job.start_evaluation(tmp_path) is False
    evaluation = read_run(tmp_path).evaluation
    assert evaluation.status == "failed" and "could not start (Cannot allocate memory)" in evaluation.failure
    assert "running" not in events(tmp_path), "nothing ran, so nothing says it did"
    assert evaluation_job.start_evaluation(tmp_path) is False  # claimed once: no second start behind the report


def test_running_is_recorded_only_once_the_process_has_started(tmp_path, monkeypatch):
    monkeypatch.setattr(run_folder, "EVALUATION_MODULE", "tests.fake_evaluation_job")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    assert read_run(tmp_path).evaluation.status == "not_started"
    assert evaluation_job.start_evaluation(tmp_path) is True
    assert events(tmp_path)[0] == "queued" and "running" in events(tmp_path)
    pid = next(e["pid"] for e in run_folder.read_events(tmp_path / EVALUATION_PROGRESS_FILE)[0]
               if e["event"] == "running")
    assert (tmp_path / run_folder.EVALUATION_PID_FILE).read_text() == str(pid)
    deadline = time.monotonic() + 20
    while read_run(tmp_path).evaluation.status != "done" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert read_run(tmp_path).evaluation.status == "done"


def test_a_claim_whose_process_never_started_fails_with_the_reason(tmp_path):
    """The app stopped between the claim and the start: once the grace has passed, the run says why."""
    claimed = {"event": "queued", "time": datetime.now(UTC).isoformat(timespec="seconds")}
    (tmp_path / EVALUATION_PROGRESS_FILE).write_text(json.dumps(claimed) + "\n")
    assert read_run(tmp_path).evaluation.status == "starting"  # being started right now
    long_ago = datetime.now(UTC) - timedelta(seconds=run_folder.STARTING_GRACE_S + 5)
    (tmp_path / EVALUATION_PROGRESS_FILE).write_text(json.dumps({**claimed, "time": long_ago.isoformat()}) + "\n")
    evaluation = read_run(tmp_path).evaluation
    assert evaluation.status == "failed" and "never started" in evaluation.failure
    assert f"tunesmith evaluate --run {tmp_path}" in evaluation.failure
