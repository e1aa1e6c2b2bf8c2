"""Normalise samples and drop those that would hurt training, counting each drop with its reason and id."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

import numpy as np
from pydantic import ValidationError

from tools.dataset.dedup import (
    NUM_PERM,
    GramsOf,
    canonical_key,
    canonical_text,
    exact_groups,
    grams_of,
    group_labels,
    group_near_duplicates,
    label_groups,
    minhashes_of_canonical,
    similar_pairs,
    text_key,
    to_bbit,
    word_grams,
)
from tools.dataset.passages import without_passages
from tools.dataset.schema import AlpacaSample
from tools.dataset.values import text_keys
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


def template_instructions(samples: list[AlpacaSample]) -> list[bool]:
    """Per sample, whether its instruction is shared by several samples (a template) while it has an input."""
    counts = Counter(text_key(s.instruction) for s in samples)
    return [counts[text_key(s.instruction)] > 1 and bool(s.input.strip()) for s in samples]


def question_text(instruction: str, input_: str, system: str, history: Sequence, template: bool) -> str:
    """The question as compared for twins. A template instruction is left out, so that samples differing only
    in a short input are not taken for twins. A retrieval sample's passages are left out too: questions about one
    passage share them (tools.dataset.passages)."""
    input_ = without_passages(input_)
    turns = " ".join(f"{q} {a}" for q, a in history)
    return f"{system} {turns} {input_ if template else (f'{instruction} {input_}' if input_ else instruction)}"


def question_texts(samples: list[AlpacaSample]) -> list[str]:
    return [question_text(s.instruction, s.input, s.system, s.history, t)
            for s, t in zip(samples, template_instructions(samples), strict=True)]


def dedup_texts(samples: list[AlpacaSample]) -> list[str]:
    """The question (see question_text) and the answer as one text each, for a NearDuplicateIndex; row_keys
    hashes the two apart, so a 3-gram never spans them."""
    return [f"{question} {s.output}" for question, s in zip(question_texts(samples), samples, strict=True)]


def sample_grams(question: str, output: str) -> set[int]:
    """A sample's word 3-grams: its question's and its answer's (as its signature in row_keys)."""
    return word_grams(question) | word_grams(output)


@dataclass
class RowKeys:
    """What twin detection needs of each row, a few bytes each: exact keys and 8-bit MinHash signatures of the
    question and of question + answer, and the question's word key (filler and clause order ignored) and numbers
    key (see values.text_keys)."""

    question_keys: np.ndarray
    question_sigs: np.ndarray
    sample_keys: np.ndarray
    sample_sigs: np.ndarray
    word_keys: np.ndarray
    number_keys: np.ndarray


def row_keys(questions: list[str], outputs: list[str]) -> RowKeys:
    """Keys of rows given as question and answer texts (a sample's 3-grams are its question's and answer's)."""
    asked, answered = [canonical_text(q) for q in questions], [canonical_text(o) for o in outputs]
    signatures = minhashes_of_canonical([*asked, *answered])
    word_keys, number_keys = zip(*map(text_keys, questions), strict=True) if questions else ((), ())
    return RowKeys(
        question_keys=np.array([canonical_key(q) for q in asked], dtype=np.int64),
        question_sigs=to_bbit(signatures[: len(asked)]),
        sample_keys=np.array([canonical_key(q, o) for q, o in zip(asked, answered, strict=True)], dtype=np.int64),
        sample_sigs=to_bbit(np.minimum(signatures[: len(asked)], signatures[len(asked) :])),
        word_keys=np.array(word_keys, dtype=np.int64), number_keys=np.array(number_keys, dtype=np.int64),
    )


def keyed(samples: list[AlpacaSample]) -> tuple[RowKeys, list[str]]:
    """row_keys of samples held in memory, and their question texts."""
    questions = question_texts(samples)
    return row_keys(questions, [s.output for s in samples]), questions


def sample_grams_of(questions: list[str], samples: list[AlpacaSample]) -> GramsOf:
    """GramsOf for samples held in memory (questions: their question_texts)."""
    return lambda rows: [sample_grams(questions[i], samples[i].output) for i in rows]


def empty_keys(n: int) -> RowKeys:
    """Room for the keys of n rows, filled a batch at a time (fill_keys)."""
    return RowKeys(np.empty(n, dtype=np.int64), np.empty((n, NUM_PERM), dtype=np.uint8),
                   np.empty(n, dtype=np.int64), np.empty((n, NUM_PERM), dtype=np.uint8), np.empty(n, dtype=np.int64),
                   np.empty(n, dtype=np.int64))


def fill_keys(keys: RowKeys, start: int, part: RowKeys) -> None:
    for column in fields(RowKeys):
        getattr(keys, column.name)[start : start + len(part.question_keys)] = getattr(part, column.name)


def conflict_groups(
    keys: RowKeys, outputs_of: Callable[[list[int]], list[str]], threshold: float = 0.8,
    questions_grams: GramsOf | None = None,
) -> list[list[int]]:
    """Groups of row indices whose questions are the same or nearly so while their answers differ (answers that
    are near duplicates of each other count as one answer): contradictions a person has to resolve.
    outputs_of(indices) gives those rows' answers (a build reads them back from disk); questions_grams decides
    near questions exactly (see dedup.similar_pairs)."""
    labels = group_labels(keys.question_keys, keys.question_sigs, threshold, questions_grams)
    return [group for group in label_groups(labels, min_size=2)
            if len(group_near_duplicates(outputs_of(group), threshold)) > 1]


def find_conflicts(samples: list[AlpacaSample], threshold: float = 0.8) -> list[list[int]]:
    """conflict_groups of samples held in memory."""
    keys, questions = keyed(samples)
    return conflict_groups(keys, lambda group: [samples[i].output for i in group], threshold, grams_of(questions))


def settle_duplicates(
    keys: np.ndarray, sigs: np.ndarray, order: np.ndarray, protected: np.ndarray, threshold: float,
    sample_grams: GramsOf | None = None,
) -> dict[int, tuple[str, int]]:
    """Rows to drop as {index: (reason, index of the twin kept)}. Rows are visited in `order` (best first); a row
    that repeats a kept one exactly, or nearly (Jaccard >= threshold, see dedup.similar_pairs), is dropped unless
    protected."""
    in_order = keys[order]
    first = exact_groups(in_order)
    dropped: dict[int, tuple[str, int]] = {}
    for position in np.flatnonzero(first != np.arange(len(order))).tolist():
        row = int(order[position])
        if not protected[row]:
            dropped[row] = ("exact_duplicate", int(order[first[position]]))
    gone = np.zeros(len(keys), dtype=bool)
    gone[list(dropped)] = True
    survivors = order[~gone[order]]
    pairs = similar_pairs(sigs, survivors, threshold, sample_grams)
    place = np.empty(len(keys), dtype=np.int64)
    place[survivors] = np.arange(len(survivors))
    for earlier, later in sorted(pairs.tolist(), key=lambda pair: place[pair[1]]):
        if later not in dropped and earlier not in dropped and not protected[later]:
            dropped[later] = ("near_duplicate", earlier)
    for row, (reason, twin) in dropped.items():
        if twin in dropped:  # the exact twin was itself dropped as a near duplicate: name the one kept
            dropped[row] = (reason, dropped[twin][1])
    return dropped


def visiting_order(ranks: Sequence[int], protected: Sequence[bool]) -> np.ndarray:
    """Best first: highest rank, then protected, then earliest."""
    n = len(ranks)
    return np.lexsort((np.arange(n), -np.asarray(protected, dtype=np.int64), -np.asarray(ranks, dtype=np.int64)))


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
        reason = limit_violation(cleaned, config)
        if reason:
            _drop(result, reason, sample_id)
        else:
            normalized.append((position, cleaned))
    positions = [p for p, _ in normalized]
    kept_samples = [s for _, s in normalized]
    keys, questions = keyed(kept_samples)
    dropped = settle_duplicates(keys.sample_keys, keys.sample_sigs,
                                visiting_order([ranks[p] for p in positions], [protected[p] for p in positions]),
                                np.array([protected[p] for p in positions], dtype=bool),
                                config.near_duplicate_threshold, sample_grams_of(questions, kept_samples))
    for i, (position, sample) in enumerate(normalized):
        if i in dropped:
            reason, twin = dropped[i]
            _drop(result, reason, ids[position], ids[positions[twin]])
        else:
            result.samples.append(sample)
            result.ids.append(ids[position])
    result.fixes = dict(fixes)
    return result


def limit_violation(sample: AlpacaSample | None, config: CleanConfig) -> str | None:
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
