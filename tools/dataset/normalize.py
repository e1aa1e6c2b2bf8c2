"""What a row becomes before it is compared or kept: text normalised (NFC, no invisible characters, one blank line
at most), an "Output:" prefix or a code fence around the whole answer removed, and the length limits a row must
fit (CleanConfig), each change counted as a fix."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pydantic import ValidationError

from tools.dataset.schema import AlpacaSample
from tools.errors import UserError

# Invisible characters that only add noise; non-breaking spaces become plain spaces.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None) | {0xA0: " ", 0x202F: " "}
_WHOLE_FENCE = re.compile(r"^```[\w+-]*[ \t]*\n(.*?)\n?```$", re.DOTALL)
_ANSWER_PREFIX = re.compile(r"^(?:output|answer|response|assistant)\s*:\s*", re.IGNORECASE)


@dataclass
class CleanConfig:
    """Limits are in characters. The near-duplicate threshold is a Jaccard similarity of word 3-grams."""

    max_prompt_chars: int = 8000
    max_output_chars: int = 8000
    near_duplicate_threshold: float = 0.8
    strip_code_fences: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.near_duplicate_threshold <= 1:
            raise UserError(
                f"near-duplicate threshold {self.near_duplicate_threshold} must be in (0, 1], e.g. 0.8"
            )
        if self.max_prompt_chars < 1 or self.max_output_chars < 1:
            raise UserError("length limits must be positive numbers of characters, e.g. 8000")


def normalize_text(text: str) -> str:
    """NFC (not NFKC: it turns x² into x2), no invisible characters or trailing spaces, one blank line max."""
    if text.isascii() and "\n" not in text and "\r" not in text and text == text.strip():
        return text  # most texts: nothing to do, found 20x faster than doing it
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def strip_output_wrapper(output: str, strip_code_fences: bool = True) -> tuple[str, list[str]]:
    """Removes an "Output:"-style prefix and a code fence around the whole output; returns (text, fixes)."""
    fixes = []
    if _ANSWER_PREFIX.match(output):
        output, fixes = _ANSWER_PREFIX.sub("", output, count=1).strip(), ["answer_prefix_stripped"]
    fence = _WHOLE_FENCE.match(output) if strip_code_fences else None
    if fence and "```" not in fence.group(1):
        output, fixes = fence.group(1).strip(), [*fixes, "code_fence_stripped"]
    return output, fixes


def normalize_sample(sample: AlpacaSample, config: CleanConfig) -> tuple[AlpacaSample | None, list[str]]:
    """The sample with normalised text (None when a required field ends up empty) and the fixes made."""
    values = {
        key: normalize_text(getattr(sample, key)) for key in ("instruction", "input", "output", "system")
    }
    history = [(normalize_text(q), normalize_text(a)) for q, a in sample.history]
    changed = any(values[key] != getattr(sample, key) for key in values) or history != sample.history
    values["output"], fixes = strip_output_wrapper(values["output"], config.strip_code_fences)
    fixes += ["text_normalized"] if changed else []
    try:
        return AlpacaSample(**values, history=history), fixes
    except ValidationError:
        return None, fixes


def limit_violation(sample: AlpacaSample | None, config: CleanConfig) -> str | None:
    if sample is None:
        return "empty_after_cleaning"
    if len(sample.prompt_text()) + sum(len(q) + len(a) for q, a in sample.history) > config.max_prompt_chars:
        return "prompt_too_long"
    if len(sample.output) > config.max_output_chars:
        return "output_too_long"
    return None
