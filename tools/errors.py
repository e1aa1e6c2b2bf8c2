"""Errors a person can act on: what is wrong, where, and how to fix it; and the boundary that makes them."""
from __future__ import annotations

import errno
import json
import re
from collections.abc import Sequence

BAD_INPUT = 2  # usage: a wrong flag, path, permission or name; nothing was read
BAD_CONTENT = 1  # a file was read and its content cannot be used (broken JSON/CSV, not UTF-8, too deep, wrong columns)
_SURROGATE = re.compile(r"[\ud800-\udfff]")
FAILED = 1  # the command ran and found problems (a check, preflight) or could not finish (busy database)


class UserError(Exception):
    """Bad input or a failed precondition; the CLI prints it without a traceback.

    exit_code: BAD_INPUT (2) for usage (a wrong flag, path, permission or name; nothing was read),
    BAD_CONTENT (1) when a file the person gave was read and its content cannot be used (malformed JSON/CSV/
    YAML, not UTF-8, nested too deeply, wrong columns, empty), FAILED (1) for a check that found problems.
    """

    def __init__(self, message: str, exit_code: int = BAD_INPUT):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class LLMUnavailable(Exception):
    """The LLM endpoint is missing, unreachable or keeps failing; state is kept, the person is told."""


def printable(text: str) -> str:
    """text with lone surrogates (what Python makes of a file name that is not UTF-8) written as \\udcXX escapes,
    so it can be printed and saved as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if _SURROGATE.search(text) else text


def _which(files: Sequence[str]) -> str:
    """'FILE' when the command named one file, else 'one of FILE, FILE' (or 'an input' when none)."""
    if len(files) == 1:
        return files[0]
    return f"one of {', '.join(files)}" if files else "an input"


# errno -> (what happened, how to fix it); {path} is the file the OS named.
_OS_ERRORS = {
    errno.EACCES: ("permission denied for {path}", "check its permissions (ls -l) or choose a path you may use"),
    errno.EPERM: ("the operation is not permitted on {path}", "check its permissions or choose another path"),
    errno.ENOENT: ("{path} does not exist", "check the path"),
    errno.EISDIR: ("{path} is a folder where a file is needed", "pass a file path"),
    errno.ENOTDIR: ("a part of {path} is a file, not a folder",
                    "choose a path whose parent folders are folders (e.g. another --out)"),
    errno.EEXIST: ("{path} already exists and is not a folder", "remove it or choose another path"),
    errno.ENAMETOOLONG: ("the name {path} is too long for the file system",
                         "use a shorter name (at most 255 characters per name)"),
    errno.ENOSPC: ("the disk is full while writing {path}", "free some space and run the command again"),
    errno.EROFS: ("{path} is on a read-only file system", "choose a writable folder"),
}


def _os_error(exc: OSError, files: Sequence[str]) -> UserError:
    path = exc.filename if exc.filename is not None else _which(files)
    path = str(path)
    if len(path) > 120:
        path = path[:60] + "…" + path[-40:]
    what, fix = _OS_ERRORS.get(exc.errno, ("{path}: " + (exc.strerror or type(exc).__name__).lower(),
                                           "check the path and its permissions"))
    return UserError(f"{what.format(path=path)}; {fix}", BAD_INPUT)


def is_huge_integer(exc: BaseException) -> bool:
    """Whether exc is Python refusing to turn more than 4300 digits into an int (json.loads, int(), YAML)."""
    return isinstance(exc, ValueError) and "integer string conversion" in str(exc)


def as_user_error(exc: BaseException, files: Sequence[str] = ()) -> UserError | None:
    """The message for an OS or parsing error that reached the CLI boundary, or None for anything else (a bug).

    files: the files the command was given, so the message can say where the problem is.
    """
    import sqlite3

    if isinstance(exc, UserError):
        return exc
    if isinstance(exc, OSError):
        return _os_error(exc, files)
    if isinstance(exc, RecursionError):
        return UserError(f"{_which(files)} is nested too deeply to read (hundreds of brackets inside each "
                         "other); a sample, profile or config needs only a few levels: flatten it", BAD_CONTENT)
    if is_huge_integer(exc):
        return UserError(f"{_which(files)} holds a number with more than 4300 digits, which no sample, profile or "
                         "config needs; shorten it, or quote it to keep it as text", BAD_CONTENT)
    if isinstance(exc, UnicodeEncodeError) and "surrogate" in str(exc.reason):
        return UserError(f"{_which(files)} holds text with a lone surrogate (U+{ord(exc.object[exc.start]):04X}: "
                         "half of a UTF-16 pair, e.g. a \\ud800 escape in JSON), which cannot be saved as UTF-8; "
                         "remove it or write the whole character", BAD_CONTENT)
    if isinstance(exc, OverflowError):
        return UserError(f"a number in {_which(files)} is too large to use ({exc}); give a realistic value",
                         BAD_CONTENT)
    if isinstance(exc, UnicodeDecodeError):
        return UserError(f"{_which(files)} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                         f"{exc.start}); re-save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)", BAD_CONTENT)
    if isinstance(exc, json.JSONDecodeError):
        return UserError(f"{_which(files)} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                         "fix the syntax there", BAD_CONTENT)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
        return UserError("the Tunesmith database is busy (another program is writing to it); nothing was "
                         "changed; try again in a moment", FAILED)
    if isinstance(exc, sqlite3.DatabaseError):
        return UserError(f"the Tunesmith database cannot be used ({exc}); move the workspace's .db file aside "
                         "and try again", FAILED)
    if isinstance(exc, MemoryError):
        return UserError(f"ran out of memory reading {_which(files)}; split it into smaller files",
                         BAD_CONTENT)
    if type(exc).__module__.startswith("yaml"):
        return UserError(f"{_which(files)} is not valid YAML ({str(exc).splitlines()[0]}); fix the syntax there",
                         BAD_CONTENT)
    return None
