"""A run folder: its layout (the whole protocol between the app, the CLI, the trainer and the evaluation job) and
the one reader of what it says now: status, progress, losses, the log as a person reads it, and the evaluation.

Writers live with their processes (launch.py starts and follows the trainer, evaluation_job.py the evaluation);
everything that reads a run (the run watcher, the nodes, the Training tab, the CLI) reads it through `read_run`.
Standard library only, so importing it is cheap.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

CONFIG_FILE = "config.json"
PROGRESS_FILE = "progress.jsonl"  # the trainer's JSON-lines events
PID_FILE = "trainer.pid"
LOG_FILE = "train.log"
EVALUATION_PROGRESS_FILE = "evaluation.jsonl"  # the evaluation job's events, its first line the once-only claim
EVALUATION_PID_FILE = "evaluation.pid"
EVALUATION_LOG_FILE = "evaluation.log"
RESULT_FILE = "eval.json"  # base vs tuned, written by the evaluation
ADAPTER_CONFIG = Path("adapter") / "adapter_config.json"  # a run that trained a LoRA adapter (a round continues it)
# what the Training tab redraws from: equal sizes mean nothing new to show
SHOWN_FILES = (PROGRESS_FILE, LOG_FILE, RESULT_FILE, EVALUATION_PROGRESS_FILE)

TRAINER_MODULE = "tools.training.train"  # `python -m` names: a pid whose command line holds one is still ours
EVALUATION_MODULE = "tools.training.evaluation_job"

RunStatus = Literal["not_started", "running", "done", "failed", "cancelled", "interrupted"]
EvaluationStatus = Literal["not_started", "starting", "running", "done", "failed"]
STOPPED: tuple[RunStatus, ...] = ("failed", "cancelled", "interrupted")  # resumable from the last checkpoint
TERMINAL_EVENTS = ("done", "error", "cancelled")
STARTING_GRACE_S = 60  # a claim older than this whose process never started was cut off (the app stopped)


def read_events(path: Path, offset: int = 0) -> tuple[list[dict], int]:
    """Events in complete JSON lines after offset, and the offset after the last complete line."""
    if not path.is_file():
        return [], offset
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    end = data.rfind(b"\n") + 1  # a line still being written is read next time
    events = []
    for number, line in enumerate(data[:end].decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a crash: keep it visible rather than dropping it
            events.append({"event": "unreadable", "message": f"line {number} is not JSON: {line[:200]}"})
    return events, offset + end


def read_progress(run_dir: str | Path) -> list[dict]:
    """All complete progress events of a run folder, oldest first ([] when the run has not started)."""
    return read_events(Path(run_dir) / PROGRESS_FILE)[0]


def process_alive(pid_file: Path, commands: tuple[str, ...]) -> bool:
    """True when the pid in pid_file is running one of these commands (a reused pid runs something else)."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError):
        return False
    return any(command in cmdline for command in commands)


def trainer_alive(run_dir: Path) -> bool:
    """The pid recorded for this run still belongs to a trainer (directly or under accelerate)."""
    return process_alive(run_dir / PID_FILE, (TRAINER_MODULE, "accelerate"))


def _run_status(run_dir: Path, events: list[dict]) -> RunStatus:
    """The run's status from its events and its trainer: no final event and no trainer is 'interrupted'
    (resumable), and so is a trainer that was launched (pid recorded) and died before its first event."""
    events = [e for e in events if e.get("event") != "unreadable"]
    if trainer_alive(run_dir) and (not events or events[-1]["event"] not in TERMINAL_EVENTS):
        return "running"
    if not events:
        return "interrupted" if (run_dir / PID_FILE).is_file() else "not_started"
    return {"done": "done", "error": "failed", "cancelled": "cancelled"}.get(events[-1]["event"], "interrupted")


@dataclass(frozen=True)
class EvaluationState:
    """The evaluation job of a run: where it stands, one line while it runs, and why it failed."""

    status: EvaluationStatus
    note: str = ""  # for the Training tab while it runs
    failure: str = ""  # in plain words with the fix (only when failed)


def read_evaluation(run_dir: Path) -> EvaluationState:
    """not_started | starting (claimed, the process not yet started) | running | done | failed (an error event, a
    process that vanished without a report, or a claim whose process never started)."""
    events = [e for e in read_events(run_dir / EVALUATION_PROGRESS_FILE)[0] if e.get("event") != "unreadable"]
    kinds = [e["event"] for e in events]  # the job may write "start" before the app has written "running"
    retry = f"Run `tunesmith evaluate --run {run_dir}` to evaluate it."
    if not events:
        return EvaluationState("not_started")
    if "done" in kinds:
        return EvaluationState("done", "evaluation done")
    if "error" in kinds:
        error = next(e for e in reversed(events) if e["event"] == "error")
        return EvaluationState("failed", "evaluation failed", error.get("message") or "no message")
    if "running" not in kinds:  # claimed; the process is being started (its pid not yet recorded)
        if _age_s(events[0]) < STARTING_GRACE_S:
            return EvaluationState("starting", "evaluation starting")
        return EvaluationState("failed", "evaluation failed", "the evaluation process was never started (the app "
                                                              f"stopped while starting it). {retry}")
    if process_alive(run_dir / EVALUATION_PID_FILE, (EVALUATION_MODULE,)):
        started = next((e for e in events if e["event"] == "start"), None)
        note = ("evaluating base vs tuned (loading both models, then "
                f"{started.get('samples', 'the')} held-out samples)" if started else "evaluation process started")
        return EvaluationState("running", note)
    log = run_dir / EVALUATION_LOG_FILE
    return EvaluationState("failed", "evaluation failed", f"the evaluation process stopped without a report; last "
                                                          f"lines of {log}:\n{tail_log(log, 8)}\n{retry}")


def _age_s(event: dict) -> float:
    """Seconds since the event was written (a line without a time counts as new)."""
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(event["time"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        return 0.0


@dataclass(frozen=True)
class RunState:
    """What a run folder says now, read once: the trainer's status and events, and the evaluation's state."""

    run_dir: Path
    status: RunStatus
    events: tuple[dict, ...]
    evaluation: EvaluationState

    @property
    def losses(self) -> list[tuple[int, float]]:
        """(step, training loss) of every logged step, oldest first."""
        return [(e["step"], e["loss"]) for e in self.events if e.get("event") == "log" and e.get("loss") is not None]

    @property
    def last_loss(self) -> float | None:
        return self.losses[-1][1] if self.losses else None

    @property
    def step(self) -> int:
        """The last step an event reported (0 before the first)."""
        return next((e["step"] for e in reversed(self.events) if isinstance(e.get("step"), int)), 0)

    @property
    def max_steps(self) -> int | None:
        """The planned optimizer steps, once the trainer has said them."""
        return next((e["max_steps"] for e in reversed(self.events) if e.get("max_steps")), None)

    @property
    def message(self) -> str | None:
        """The last message an event carried (an error's text, how a run was cancelled)."""
        return next((e["message"] for e in reversed(self.events) if e.get("message")), None)

    @property
    def stopped(self) -> bool:
        return self.status in STOPPED

    def log_tail(self, lines: int = 15) -> str:
        return tail_log(self.run_dir / LOG_FILE, lines)


def read_run(run_dir: str | Path) -> RunState:
    """The one reader of a run folder (a folder that does not exist reads as not started)."""
    run_dir = Path(run_dir)
    events = read_progress(run_dir)
    return RunState(run_dir, _run_status(run_dir, events), tuple(events), read_evaluation(run_dir))


def shown_sizes(run_dir: str | Path) -> list[int]:
    """Sizes of the files the Training tab shows (-1: absent): equal sizes mean nothing to redraw."""
    return [(Path(run_dir) / name).stat().st_size if (Path(run_dir) / name).exists() else -1 for name in SHOWN_FILES]


def has_adapter(run_dir: str | Path) -> bool:
    """The run trained a LoRA adapter (what a new round continues)."""
    return (Path(run_dir) / ADAPTER_CONFIG).is_file()


def read_result(run_dir: str | Path) -> dict | None:
    """The evaluation's result (eval.json), or None when there is none or it cannot be read."""
    path = Path(run_dir) / RESULT_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# Library messages that say nothing about the run: kept in the raw train.log, left out where a person reads it.
LOG_NOISE = re.compile(
    r"kernels-community|pip install kernels|publisher trust check"  # bitsandbytes looking for optional hub kernels
    r"|^\S.*:\d+: (?:Future|Deprecation|PendingDeprecation)Warning: "  # a library's notice about its own future
)
LOG_TAIL_BYTES = 256 * 1024  # the end of a long log is enough for its last lines


def tail_log(path: Path, lines: int = 15) -> str:
    """The last lines of a log as a person reads them (the Training tab, error messages): without library noise
    (LOG_NOISE, and the source line a warning prints under itself), and a progress bar redrawn with carriage
    returns shown as its last state. The file itself keeps everything."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(readable_log_lines(text.split("\n"))[-lines:])  # not splitlines(): it splits at \r too


def readable_log_lines(raw: list[str]) -> list[str]:
    """raw log lines without library noise; a line redrawn with '\r' becomes what a terminal last showed."""
    kept, after_noise = [], False
    for line in raw:
        line = line.rstrip("\r").rsplit("\r", 1)[-1]
        if after_noise and line.startswith((" ", "\t")):
            continue  # `warnings` prints the offending source line indented under the warning
        after_noise = bool(LOG_NOISE.search(line))
        if not after_noise and line.strip():
            kept.append(line)
    return kept
