"""The keys rows are compared by (exact hashes and MinHash signatures of each row's question and of question +
answer, its word and numbers keys) and what is settled with them: which twin a build keeps (settle_duplicates,
best first by visiting_order) and which questions carry contradicting answers (conflict_groups)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np

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
