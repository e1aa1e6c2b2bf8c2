"""Seeded train/eval split that keeps every group of (near-)duplicates on one side, so eval never leaks."""

from __future__ import annotations

import random

import numpy as np

from tools.dataset.clean import keyed, sample_grams_of
from tools.dataset.dedup import group_labels
from tools.dataset.schema import AlpacaSample
from tools.errors import UserError


def eval_size(n_samples: int, eval_fraction: float) -> int:
    """round(n * fraction), at least 1 when fraction > 0 and n >= 2, and always leaving >= 1 for training."""
    if not 0 <= eval_fraction < 1:
        raise UserError(f"eval fraction {eval_fraction} must be in [0, 1), e.g. 0.1 for 10% held out")
    if eval_fraction == 0 or n_samples < 2:
        return 0
    return min(max(1, round(n_samples * eval_fraction)), n_samples - 1)


def split_train_eval(
    samples: list[AlpacaSample],
    eval_fraction: float = 0.1,
    seed: int = 42,
    near_duplicate_threshold: float = 0.8,
) -> tuple[list[int], list[int]]:
    """Indices (train, eval) into samples, each in original order. Groups of duplicates move together."""
    keys, questions = keyed(samples)  # twins by the rule a build uses (clean.row_keys, exact Jaccard)
    labels = group_labels(keys.sample_keys, keys.sample_sigs, near_duplicate_threshold,
                          sample_grams_of(questions, samples))
    held = held_out(labels, eval_fraction, seed)
    return np.flatnonzero(~held).tolist(), np.flatnonzero(held).tolist()


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
