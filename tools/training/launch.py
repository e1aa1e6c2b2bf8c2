"""Starts the trainer as a subprocess (no shell), follows its JSON-lines progress and cancels it.

The run folder is the whole protocol between the UI/CLI and the trainer: config.json in, progress.jsonl out
(run_folder.py holds its layout and reads it). Importing this module is cheap, so the CLI and UI can use it freely.
"""
from __future__ import annotations

import json
import os
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
from tools.training import run_folder
from tools.training.config import TrainConfig, save_config
from tools.training.run_folder import (
    CONFIG_FILE,
    LOG_FILE,
    PID_FILE,
    PROGRESS_FILE,
    TERMINAL_EVENTS,
    read_events,
    read_run,
    tail_log,
    trainer_alive,
)


def append_event(run_dir: str | Path, event: str, **fields: Any) -> dict:
    """Appends one progress event as a JSON line (the only writer format the followers understand)."""
    record = {"event": event, "time": datetime.now(UTC).isoformat(timespec="seconds"), **fields}
    path = Path(run_dir) / PROGRESS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, default=str) + "\n")
    return record


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
            events, self._offset = read_events(path, self._offset)
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
        append_event(self.run_dir, "cancelled", step=read_run(self.run_dir).step or None,
                     message="cancelled; resume continues from the last saved checkpoint")


def cancel_run(run_dir: str | Path, grace_s: float = 10.0) -> str:
    """Cancels a run from its folder alone (e.g. after an app restart) via the recorded pid; returns what happened."""
    run_dir = Path(run_dir)
    if not trainer_alive(run_dir):
        return f"No trainer is running in {run_dir}."
    pid = int((run_dir / PID_FILE).read_text().strip())
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while trainer_alive(run_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    if trainer_alive(run_dir):
        _signal_group(pid, signal.SIGKILL)
    append_event(run_dir, "cancelled", step=read_run(run_dir).step or None,
                 message="cancelled; resume continues from the last saved checkpoint")
    return "Cancelled; Resume continues from the last saved checkpoint."


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the trainer leads its own group, so accelerate's workers get the signal too
    except ProcessLookupError:
        pass


def trainer_command(config_path: Path, resume: bool = False, num_processes: int = 1) -> list[str]:
    """The argv that runs the trainer: directly, or under `accelerate launch` for several processes."""
    trainer_args = ["--config", str(config_path)] + (["--resume"] if resume else [])
    if num_processes == 1:
        return [sys.executable, "-m", run_folder.TRAINER_MODULE, *trainer_args]
    # --multi_gpu picks torch.distributed.run; without a GPU the workers fall back to CPU with gloo.
    # (accelerate's --cpu flag would start a single process unless MPI is installed.)
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
            "--num_processes", str(num_processes), "--num_machines", "1", "--mixed_precision", "no",
            "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
            "-m", run_folder.TRAINER_MODULE, *trainer_args]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_training(config: TrainConfig, resume: bool = False, num_processes: int = 1) -> TrainingProcess:
    """Writes RUN/config.json, starts the trainer in its own process group; output goes to RUN/train.log."""
    if num_processes < 1:
        raise UserError(f"num_processes={num_processes} must be at least 1 (one per GPU)")
    run_dir = config.out_dir
    if read_run(run_dir).status == "running":
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
