"""Starts the trainer as a subprocess (no shell), follows its JSON-lines progress, cancels it, reports status.

The run folder is the whole protocol between the UI/CLI and the trainer: config.json in, progress.jsonl out.
Importing this module is cheap (standard library only), so the CLI and UI can use it freely.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.errors import UserError
from tools.redact import without_secrets
from tools.training.config import TrainConfig, save_config

PROGRESS_FILE = "progress.jsonl"
PID_FILE = "trainer.pid"
LOG_FILE = "train.log"
CONFIG_FILE = "config.json"
TERMINAL_EVENTS = ("done", "error", "cancelled")
TRAINER_MODULE = "tools.training.train"


def append_event(run_dir: str | Path, event: str, **fields: Any) -> dict:
    """Appends one progress event as a JSON line (the only writer format the followers understand)."""
    record = {"event": event, "time": datetime.now(UTC).isoformat(timespec="seconds"), **fields}
    path = Path(run_dir) / PROGRESS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, default=str) + "\n")
    return record


def read_progress(run_dir: str | Path) -> list[dict]:
    """All complete progress events of a run folder, oldest first ([] when the run has not started)."""
    events, _ = _read_events_from(Path(run_dir) / PROGRESS_FILE, 0)
    return events


def _read_events_from(path: Path, offset: int) -> tuple[list[dict], int]:
    """Events in complete lines after offset, and the offset after the last complete line."""
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
            events.append({"event": "unreadable",
                           "message": f"progress line {number} is not JSON: {line[:200]}"})
    return events, offset + end


def run_status(run_dir: str | Path) -> str:
    """not_started|running|done|failed|cancelled|interrupted (no final event, no trainer: resumable)."""
    run_dir = Path(run_dir)
    events = [e for e in read_progress(run_dir) if e.get("event") != "unreadable"]
    if not events:
        return "running" if _trainer_alive(run_dir) else "not_started"
    last = events[-1]["event"]
    if last == "done":
        return "done"
    if last == "error":
        return "failed"
    if last == "cancelled":
        return "cancelled"
    return "running" if _trainer_alive(run_dir) else "interrupted"


def _trainer_alive(run_dir: Path) -> bool:
    """True when the pid recorded for this run still belongs to a trainer process (pids get reused)."""
    return process_alive(run_dir / PID_FILE, (TRAINER_MODULE, "accelerate"))


def process_alive(pid_file: Path, commands: tuple[str, ...]) -> bool:
    """True when the pid in pid_file is running one of these commands (a reused pid runs something else)."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError):
        return False
    return any(command in cmdline for command in commands)


class TrainingProcess:
    """A running trainer subprocess and its run folder."""

    def __init__(self, run_dir: Path, popen: subprocess.Popen, progress_offset: int):
        self.run_dir = run_dir
        self.popen = popen
        self._offset = progress_offset  # follow() yields only this launch's events
        self._cancelled = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """Exit status once finished (negative = killed by that signal), None while running."""
        return self.popen.poll()

    @property
    def log_path(self) -> Path:
        return self.run_dir / LOG_FILE

    def wait(self, timeout: float | None = None) -> int:
        return self.popen.wait(timeout)

    def follow(self, poll_s: float = 0.5, timeout: float | None = None) -> Iterator[dict]:
        """Yields progress events as the trainer appends them, until a final event or the trainer's exit."""
        path = self.run_dir / PROGRESS_FILE
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            exited = self.popen.poll() is not None  # checked before reading, so no last line is missed
            events, self._offset = _read_events_from(path, self._offset)
            for event in events:
                yield event
                if event.get("event") in TERMINAL_EVENTS:
                    return
            if exited:
                if (report := self._report_silent_exit()) is not None:
                    yield report
                return
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"no final progress event from the trainer within {timeout} s")
            time.sleep(poll_s)

    def _report_silent_exit(self) -> dict | None:
        """Exit without a final event: a crash is logged as an error; a kill stays resumable (interrupted)."""
        code = self.popen.returncode
        if self._cancelled or code is None or code < 0:
            return None
        message = (f"the trainer exited with status {code} without a final report; last lines of "
                   f"{self.log_path}:\n{tail_log(self.log_path)}")
        try:
            return append_event(self.run_dir, "error", message=message)
        except OSError:  # e.g. a full disk: still tell the follower
            return {"event": "error", "message": message}

    def cancel(self, grace_s: float = 10.0) -> None:
        """Stops the trainer (SIGTERM to its process group, SIGKILL after grace_s) and records 'cancelled'."""
        if self.popen.poll() is not None:
            return
        self._cancelled = True
        _signal_group(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        last = _last_step(read_progress(self.run_dir))
        append_event(self.run_dir, "cancelled", step=last,
                     message="cancelled; resume continues from the last saved checkpoint")


def cancel_run(run_dir: str | Path, grace_s: float = 10.0) -> str:
    """Cancels a run from its folder alone (e.g. after an app restart) via the recorded pid; returns what happened."""
    run_dir = Path(run_dir)
    if not _trainer_alive(run_dir):
        return f"No trainer is running in {run_dir}."
    pid = int((run_dir / PID_FILE).read_text().strip())
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while _trainer_alive(run_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _trainer_alive(run_dir):
        _signal_group(pid, signal.SIGKILL)
    append_event(run_dir, "cancelled", step=_last_step(read_progress(run_dir)),
                 message="cancelled; resume continues from the last saved checkpoint")
    return "Cancelled; Resume continues from the last saved checkpoint."


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the trainer leads its own group, so accelerate's workers get the signal too
    except ProcessLookupError:
        pass


def _last_step(events: list[dict]) -> int | None:
    steps = [e["step"] for e in events if isinstance(e.get("step"), int)]
    return steps[-1] if steps else None


# Library messages that say nothing about the run: kept in the raw train.log, left out where a person reads it.
LOG_NOISE = re.compile(
    r"kernels-community|pip install kernels|publisher trust check"  # bitsandbytes looking for optional hub kernels
    r"|^\S.*:\d+: (?:Future|Deprecation|PendingDeprecation)Warning: "  # a library's notice about its own future
)
LOG_TAIL_BYTES = 256 * 1024  # the end of a long log is enough for its last lines


def tail_log(path: Path, lines: int = 15) -> str:
    """The last lines of the trainer's log as a person reads them (the Training tab, error messages): without
    library noise (LOG_NOISE, and the source line a warning prints under itself), and a progress bar redrawn
    with carriage returns shown as its last state. The file itself keeps everything."""
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


def trainer_command(config_path: Path, resume: bool = False, num_processes: int = 1) -> list[str]:
    """The argv that runs the trainer: directly, or under `accelerate launch` for several processes."""
    trainer_args = ["--config", str(config_path)] + (["--resume"] if resume else [])
    if num_processes == 1:
        return [sys.executable, "-m", TRAINER_MODULE, *trainer_args]
    # --multi_gpu picks torch.distributed.run; without a GPU the workers fall back to CPU with gloo.
    # (accelerate's --cpu flag would start a single process unless MPI is installed.)
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
            "--num_processes", str(num_processes), "--num_machines", "1", "--mixed_precision", "no",
            "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
            "-m", TRAINER_MODULE, *trainer_args]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_training(config: TrainConfig, resume: bool = False, num_processes: int = 1) -> TrainingProcess:
    """Writes RUN/config.json, starts the trainer in its own process group; output goes to RUN/train.log."""
    if num_processes < 1:
        raise UserError(f"num_processes={num_processes} must be at least 1 (one per GPU)")
    run_dir = config.out_dir
    if run_status(run_dir) == "running":
        raise UserError(f"a trainer is already running in {run_dir}; wait for it or cancel it first")
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = save_config(config, run_dir / CONFIG_FILE)
    progress = run_dir / PROGRESS_FILE
    offset = progress.stat().st_size if progress.is_file() else 0
    # faulthandler: a crash in native code (a worker's SIGABRT/SIGSEGV) still leaves a Python traceback in the log
    env = {**without_secrets(dict(os.environ)), "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    with (run_dir / LOG_FILE).open("ab") as log:
        popen = subprocess.Popen(
            trainer_command(config_path, resume, num_processes), cwd=run_dir, env=env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (run_dir / PID_FILE).write_text(str(popen.pid))
    reap_when_done(popen)
    return TrainingProcess(run_dir, popen, offset)


def reap_when_done(popen: subprocess.Popen) -> None:
    """Collects the child's exit status as soon as it ends, from a daemon thread, so a finished process never
    lingers as a zombie of the app (whoever holds the Popen may drop it). poll(), wait() and cancel() still work:
    they see the status this thread collected."""
    threading.Thread(target=popen.wait, name=f"reap-{popen.pid}", daemon=True).start()
