"""The evaluation process of a finished run: claimed once, and a start that fails is a failure with its reason."""
from __future__ import annotations

import subprocess

from tools import evaluation_job


def test_a_start_that_fails_is_reported_not_left_evaluating(tmp_path, monkeypatch):
    def no_process(*args, **kwargs):
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    assert evaluation_job.start_evaluation(tmp_path) is False
    assert evaluation_job.evaluation_status(tmp_path) == "failed"
    assert "could not start (Cannot allocate memory)" in evaluation_job.evaluation_failure(tmp_path)
    assert evaluation_job.start_evaluation(tmp_path) is False  # claimed once: no second start behind the report
