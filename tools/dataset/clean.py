"""Normalise samples and drop those that would hurt training, counting each drop with its reason and id."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from pydantic import ValidationError

from tools.dataset.dedup import NearDuplicateIndex, canonical_text, group_near_duplicates
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


@dataclass
class CleanResult:
    """Kept samples with their ids, drop counts by reason, the dropped ids by reason, and fixes applied."""

    samples: list[AlpacaSample]
    ids: list[str]
    drops: dict[str, int] = field(default_factory=dict)
    dropped_ids: dict[str, list[str]] = field(default_factory=dict)
    dropped_rows: list[dict] = field(default_factory=list)  # {"id", "reason", "kept": id of the twin kept or None}
    fixes: dict[str, int] = field(default_factory=dict)


def normalize_text(text: str) -> str:
    """NFC (not NFKC: it turns x² into x2), no invisible characters or trailing spaces, one blank line max."""
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


def question_texts(samples: list[AlpacaSample]) -> list[str]:
    """The question of each sample as compared for twins. An instruction shared by several samples (a template)
    is left out when there is an input, so that samples differing only in a short input are not taken for twins."""
    counts = Counter(canonical_text(s.instruction) for s in samples)
    texts = []
    for s in samples:
        template = counts[canonical_text(s.instruction)] > 1 and s.input.strip()
        turns = " ".join(f"{q} {a}" for q, a in s.history)
        texts.append(f"{s.system} {turns} {s.input if template else s.prompt_text()}")
    return texts


def dedup_texts(samples: list[AlpacaSample]) -> list[str]:
    """The text compared for duplicates: the question (see question_texts) and the answer."""
    return [f"{question} {s.output}" for question, s in zip(question_texts(samples), samples, strict=True)]


def find_conflicts(samples: list[AlpacaSample], threshold: float = 0.8) -> list[list[int]]:
    """Groups of indices whose questions are the same or nearly so while their answers differ (answers that are
    near duplicates of each other count as one answer): contradictions a person has to resolve."""
    conflicts = []
    for group in group_near_duplicates(question_texts(samples), threshold):
        if len(group) > 1 and len(group_near_duplicates([samples[i].output for i in group], threshold)) > 1:
            conflicts.append(group)
    return conflicts


def clean_samples(
    samples: list[AlpacaSample],
    ids: list[str] | None = None,
    config: CleanConfig | None = None,
    ranks: list[int] | None = None,
    protected: list[bool] | None = None,
) -> CleanResult:
    """Normalise, then drop (in order) samples empty after cleaning, too long, exact and near duplicates.

    Among duplicates the highest rank survives (earliest on ties), so an edited sample outranks its unedited twin;
    protected samples (a person kept them on purpose) are never dropped as duplicates. Kept order = input order."""
    config = config or CleanConfig()
    ids = ids or [f"sample:{i}" for i in range(1, len(samples) + 1)]
    ranks = ranks or [0] * len(samples)
    protected = protected or [False] * len(samples)
    result = CleanResult(samples=[], ids=[])
    fixes: Counter[str] = Counter()
    normalized: list[tuple[int, AlpacaSample]] = []
    for position, (sample_id, sample) in enumerate(zip(ids, samples, strict=True)):
        cleaned, made = normalize_sample(sample, config)
        fixes.update(made)
        reason = _limit_violation(cleaned, config)
        if reason:
            _drop(result, reason, sample_id)
        else:
            normalized.append((position, cleaned))
    texts = dict(zip((p for p, _ in normalized), dedup_texts([s for _, s in normalized]), strict=True))
    exact_keys: dict[str, str] = {}
    index = NearDuplicateIndex(config.near_duplicate_threshold)
    kept: list[tuple[int, AlpacaSample]] = []
    for position, sample in sorted(normalized, key=lambda item: (-ranks[item[0]], -protected[item[0]], item[0])):
        sample_id, text = ids[position], texts[position]
        exact_key = canonical_text(text)
        twin = exact_keys.get(exact_key) or index.find(text)
        if twin is not None and not protected[position]:
            _drop(result, "exact_duplicate" if exact_key in exact_keys else "near_duplicate", sample_id, twin)
            continue
        exact_keys.setdefault(exact_key, sample_id)
        index.add(sample_id, text)
        kept.append((position, sample))
    for position, sample in sorted(kept, key=lambda item: item[0]):
        result.samples.append(sample)
        result.ids.append(ids[position])
    result.fixes = dict(fixes)
    return result


def _limit_violation(sample: AlpacaSample | None, config: CleanConfig) -> str | None:
    if sample is None:
        return "empty_after_cleaning"
    if len(sample.prompt_text()) + sum(len(q) + len(a) for q, a in sample.history) > config.max_prompt_chars:
        return "prompt_too_long"
    if len(sample.output) > config.max_output_chars:
        return "output_too_long"
    return None


def _drop(result: CleanResult, reason: str, sample_id: str, kept: str | None = None) -> None:
    result.drops[reason] = result.drops.get(reason, 0) + 1
    result.dropped_ids.setdefault(reason, []).append(sample_id)
    result.dropped_rows.append({"id": sample_id, "reason": reason, "kept": kept})
