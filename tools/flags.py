"""What every command-line value must be, checked before a command runs: argparse types for the flags with a
range (a count, a size, a folder to write), and the checks every parsed value gets (finite, not absurdly large,
text without NUL bytes, lone surrogates or control characters). A refused value is usage: exit 2."""
from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path

# No count, size or seed a person gives is larger; beyond it sqlite, numpy and float() overflow.
MAX_FLAG_INT = 2**53
# Characters no flag's text may hold: NUL, other C0 controls but tab and newlines, DEL, and lone surrogates
# (what Python makes of bytes that are not UTF-8 in a command line).
_BAD_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (steps, samples, attempts, a target)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number of at least 1")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number above 0 (GB of memory, MB of a file)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give e.g. 24") from None
    if value <= 0:  # nan and inf pass here: flag_problems names every non-finite flag in one message
        raise argparse.ArgumentTypeError(f"{text!r} must be a number above 0, e.g. 24")
    return value


def output_path(text: str) -> Path:
    """argparse type: a path to write to; an empty one would silently mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the path is empty; name the folder or file to write, e.g. --out my-dataset")
    return Path(text)


def _int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if abs(value) > MAX_FLAG_INT:
        raise argparse.ArgumentTypeError(f"{text[:20]}… is too large (at most {MAX_FLAG_INT:,})")
    return value


def flag_problems(args: argparse.Namespace) -> list[str]:
    """A line for every parsed value no command can use: nan/inf, an absurdly large number, text with NUL bytes,
    control characters or lone surrogates."""
    problems = []
    for name, value in vars(args).items():
        flag = f"--{name.replace('_', '-')}"
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, float) and not math.isfinite(item):
                problems.append(f"{flag} {item}: not a finite number; give a plain number such as 0.1 or 24")
            elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_FLAG_INT:
                problems.append(f"{flag} {str(item)[:20]}…: too large; no setting needs more than {MAX_FLAG_INT:,}")
            elif isinstance(item, (str, Path)) and (bad := _BAD_TEXT.search(str(item))) and not _existing(item):
                problems.append(f"{flag}: {describe_bad_char(bad.group())} at position {bad.start() + 1}; "
                                "retype it without that character")
    return problems


def _existing(value: str | Path) -> bool:
    """Whether value names a file or folder that exists: its name may hold any byte but NUL (Linux names need
    not be UTF-8; Python hands such bytes over as lone surrogates)."""
    try:
        return os.path.lexists(value)
    except (ValueError, OSError):  # a NUL byte, a name too long
        return False


def describe_bad_char(char: str) -> str:
    """Words for a character no text may hold (see _BAD_TEXT)."""
    if char == "\x00":
        return "a NUL byte (U+0000)"
    if "\ud800" <= char <= "\udfff":
        return f"a lone surrogate (U+{ord(char):04X}, half of a UTF-16 pair, or bytes that are not UTF-8)"
    return f"a control character (U+{ord(char):04X})"
