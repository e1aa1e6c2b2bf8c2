"""Base-vs-tuned evaluation of a finished run as its own process, started at most once per run.

`python -m tools.training.evaluation_job RUN` writes RUN/evaluation.jsonl and RUN/eval.json; its output goes to
RUN/evaluation.log. The events: queued (the once-only claim) → running (only once the process has started) →
start (the job itself) → done | error; a start that fails is recorded as an error with the reason. The run folder
is the whole protocol, as for the trainer; run_folder.read_run reads it.
"""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tools.training import run_folder
from tools.training.run_folder import EVALUATION_LOG_FILE, EVALUATION_PID_FILE, EVALUATION_PROGRESS_FILE


def _line(event: str, **fields) -> str:
    return json.dumps({"event": event, "time": datetime.now(UTC).isoformat(timespec="seconds"), **fields}) + "\n"


def _append(run_dir: Path, event: str, **fields) -> None:
    from tools.redact import redact  # an error's text may repeat the key the judge was called with

    with (run_dir / EVALUATION_PROGRESS_FILE).open("a", encoding="utf-8") as handle:
        handle.write(redact(_line(event, **fields)))


def start_evaluation(run_dir: str | Path) -> bool:
    """Starts the evaluation process unless one was started before for this run (any thread, any process).

    Returns whether this call started it."""
    from tools.training.launch import reap_when_done

    run_dir = Path(run_dir)
    try:
        with (run_dir / EVALUATION_PROGRESS_FILE).open("x", encoding="utf-8") as handle:  # the once-only claim
            handle.write(_line("queued"))
    except FileExistsError:
        return False
    try:
        with (run_dir / EVALUATION_LOG_FILE).open("ab") as log:
            # the app's own folder: its .env (the judge's endpoint) is read from there, as the app read it
            popen = subprocess.Popen([sys.executable, "-m", run_folder.EVALUATION_MODULE, str(run_dir.resolve())],
                                     cwd=Path.cwd(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
    except OSError as exc:  # the claim is kept, with why: the conversation says so instead of "evaluating" forever
        _append(run_dir, "error", message=f"the evaluation process could not start ({exc.strerror or exc}); "
                                          "free memory or disk space, then evaluate with `tunesmith evaluate --run "
                                          f"{run_dir}`")
        return False
    (run_dir / EVALUATION_PID_FILE).write_text(str(popen.pid))
    _append(run_dir, "running", pid=popen.pid)
    reap_when_done(popen)
    return True


def main(argv: list[str] | None = None) -> int:
    from tools.errors import UserError
    from tools.training.evaluate import evaluate_run

    run_dir = Path((argv or sys.argv[1:])[0])
    _append(run_dir, "start")
    try:
        result = evaluate_run(run_dir)  # a later round: its first round's held-out rows
    except UserError as exc:
        _append(run_dir, "error", message=exc.message)
        return 1
    except Exception as exc:  # noqa: BLE001 - any crash becomes a plain report the app shows
        _append(run_dir, "error", message=f"{type(exc).__name__}: {exc}")
        return 1
    _append(run_dir, "done", samples=result["samples"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
