"""One program at a time for a piece of work two programs must not do together (numbering a dataset version,
drafting a project's batch): an advisory lock file that the OS frees when its holder ends, even when killed."""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.errors import FAILED, UserError


@contextmanager
def exclusive(lock_file: Path, busy_message: str, wait_s: float = 0.0) -> Iterator[None]:
    """Holds lock_file's lock for the block; waits up to wait_s for another holder, then UserError(busy_message)
    (exit 1: nothing was done)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UserError(busy_message, FAILED) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing frees the lock
