"""Seeded train/eval split that keeps every group of twins on one side, so eval never leaks: rows alike in words
(question and answer, or the question alone: exact, word 3-gram Jaccard, the same word key) and, up to
MEANING_MAX_ROWS rows, questions alike in meaning (tools.dataset.meaning)."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from tools.dataset.dedup import GramsOf, exact_groups, group_labels, join_labels
from tools.dataset.meaning import MEANING_MAX_ROWS, meaning_pairs
from tools.dataset.row_keys import RowKeys
from tools.errors import UserError


def eval_size(n_samples: int, eval_fraction: float) -> int:
    """round(n * fraction), at least 1 when fraction > 0 and n >= 2, and always leaving >= 1 for training."""
    if not 0 <= eval_fraction < 1:
        raise UserError(f"eval fraction {eval_fraction} must be in [0, 1), e.g. 0.1 for 10% held out")
    if eval_fraction == 0 or n_samples < 2:
        return 0
    return min(max(1, round(n_samples * eval_fraction)), n_samples - 1)


def twin_labels(keys: RowKeys, threshold: float, sample_grams: GramsOf, question_grams: GramsOf,
                questions: Callable[[np.ndarray], list[str]], max_meaning_rows: int = MEANING_MAX_ROWS,
                ) -> tuple[np.ndarray, dict]:
    """A label per row (the smallest index of its group) joining every kind of twin a held-out set must not
    split, and what was checked, for the build report. Twins by words: the same or nearly the same sample
    (question + answer) or question (Jaccard >= threshold), or the same question word key. Twins by meaning
    (questions(rows) gives those rows' question texts, rows ascending): only rows that share their numbers with
    another row can be one (values.same_values), and only up to max_meaning_rows such rows are embedded (a few
    hundred questions a second on a 2-core CPU)."""
    labels = group_labels(keys.sample_keys, keys.sample_sigs, threshold, sample_grams)
    labels = join_labels(labels, _pairs(group_labels(keys.question_keys, keys.question_sigs, threshold,
                                                     question_grams)))
    labels = join_labels(labels, _pairs(exact_groups(keys.word_keys)))
    _, inverse, counts = np.unique(keys.number_keys, return_inverse=True, return_counts=True)
    candidates = np.flatnonzero(counts[inverse.reshape(-1)] > 1)
    check = {"by_meaning": len(candidates) <= max_meaning_rows, "meaning_candidates": len(candidates),
             "meaning_max_rows": max_meaning_rows}
    if not check["by_meaning"]:
        return labels, {**check, "note": (
            f"twins by meaning not checked: {len(candidates):,} rows share their numbers with another row, over "
            f"the {max_meaning_rows:,}-row limit for embedding (about a minute on 2 CPU cores); twins by words, "
            "incl. added filler words and reordered clauses, were kept on one side")}
    pairs = [(candidates[i], candidates[j]) for i, j, _ in meaning_pairs(questions(candidates))]
    return join_labels(labels, pairs), {**check, "meaning_pairs": len(pairs), "note": (
        f"twins by meaning checked on {len(candidates):,} of {len(labels):,} rows (the others share their numbers "
        f"with no row); {len(pairs)} pairs kept on one side")}


def _pairs(labels: np.ndarray) -> np.ndarray:
    """(row, label) for each row in a group it does not head."""
    rows = np.flatnonzero(labels != np.arange(len(labels)))
    return np.stack((rows, labels[rows]), axis=1)


def held_out(labels: np.ndarray, eval_fraction: float = 0.1, seed: int = 42) -> np.ndarray:
    """Which rows go to eval (a bool per row), given a group label per row: whole groups, chosen at random
    (seeded) until the eval size is reached."""
    target = eval_size(len(labels), eval_fraction)
    groups, first, sizes = np.unique(labels, return_index=True, return_counts=True)
    in_order = np.argsort(first)  # groups in first-seen order, then shuffled
    shuffled = in_order.tolist()
    random.Random(seed).shuffle(shuffled)
    chosen, taken = [], 0
    for g in shuffled:
        if taken >= target:
            break
        if taken + sizes[g] <= target or not chosen:
            chosen.append(g)
            taken += int(sizes[g])
    if taken >= len(labels):  # one group holds everything: nothing can be held out without leaking
        chosen = []
    return np.isin(labels, groups[chosen])
