"""Base-vs-tuned evaluation of a finished run as its own process, started at most once per run.

`python -m tools.evaluation_job RUN` writes RUN/evaluation.jsonl (queued → start → done | error) and RUN/eval.json;
its output goes to RUN/evaluation.log. The run folder is the whole protocol, as for the trainer.
"""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

PROGRESS_FILE = "evaluation.jsonl"
PID_FILE = "evaluation.pid"
LOG_FILE = "evaluation.log"
JOB_MODULE = "tools.evaluation_job"
EvaluationStatus = Literal["not_started", "running", "done", "failed"]


def _line(event: str, **fields) -> str:
    return json.dumps({"event": event, "time": datetime.now(UTC).isoformat(timespec="seconds"), **fields}) + "\n"


def _append(run_dir: Path, event: str, **fields) -> None:
    from tools.redact import redact  # an error's text may repeat the key the judge was called with

    with (run_dir / PROGRESS_FILE).open("a", encoding="utf-8") as handle:
        handle.write(redact(_line(event, **fields)))


def start_evaluation(run_dir: str | Path) -> bool:
    """Starts the evaluation process unless one was started before for this run (any thread, any process).

    Returns whether this call started it."""
    from tools.training.launch import reap_when_done

    run_dir = Path(run_dir)
    try:
        with (run_dir / PROGRESS_FILE).open("x", encoding="utf-8") as handle:  # the once-only claim
            handle.write(_line("queued"))
    except FileExistsError:
        return False
    try:
        with (run_dir / LOG_FILE).open("ab") as log:
            # the app's own folder: its .env (the judge's endpoint) is read from there, as the app read it
            popen = subprocess.Popen([sys.executable, "-m", JOB_MODULE, str(run_dir.resolve())], cwd=Path.cwd(),
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
    except OSError as exc:  # the claim is kept, with why: the conversation says so instead of "evaluating" forever
        _append(run_dir, "error", message=f"the evaluation process could not start ({exc.strerror or exc}); "
                                          "free memory or disk space, then evaluate with `tunesmith evaluate --run "
                                          f"{run_dir}`")
        return False
    (run_dir / PID_FILE).write_text(str(popen.pid))
    reap_when_done(popen)
    return True


def read_events(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / PROGRESS_FILE
    if not path.is_file():
        return []
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a crash
    return events


def _alive(run_dir: Path) -> bool:
    from tools.training.launch import process_alive

    return process_alive(run_dir / PID_FILE, (JOB_MODULE,))


def evaluation_status(run_dir: str | Path) -> EvaluationStatus:
    """not_started | running | done | failed (an error event, or a process that vanished without a report)."""
    run_dir = Path(run_dir)
    events = read_events(run_dir)
    if not events:
        return "not_started"
    last = events[-1]["event"]
    if last in ("done", "error"):
        return "done" if last == "done" else "failed"
    if last == "queued" and not (run_dir / PID_FILE).is_file():
        return "running"  # claimed a moment ago; the pid is written right after the start
    return "running" if _alive(run_dir) else "failed"


def evaluation_failure(run_dir: str | Path) -> str:
    """Why an evaluation failed, in plain words with the fix when known."""
    events = read_events(run_dir)
    if events and events[-1]["event"] == "error":
        return events[-1].get("message") or "no message"
    log = Path(run_dir) / LOG_FILE
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-8:]) if log.is_file() else ""
    return (f"the evaluation process stopped without a report; last lines of {log}:\n{tail}\n"
            f"Run `tunesmith evaluate --run {run_dir}` to retry.")


def evaluation_progress(run_dir: str | Path) -> str:
    """One line for the Training tab while it runs."""
    events = read_events(run_dir)
    if not events:
        return ""
    last = events[-1]
    return {"queued": "evaluation queued", "start": "evaluating base vs tuned (loading both models, then "
            f"{last.get('samples', 'the')} held-out samples)", "done": "evaluation done",
            "error": "evaluation failed"}.get(last["event"], last["event"])


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
