"""Seeded train/eval split that keeps every group of (near-)duplicates on one side, so eval never leaks."""

from __future__ import annotations

import random

from tools.dataset.clean import dedup_texts
from tools.dataset.dedup import group_near_duplicates
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
    target = eval_size(len(samples), eval_fraction)
    groups = _duplicate_groups(samples, near_duplicate_threshold)
    random.Random(seed).shuffle(groups)
    eval_indices: list[int] = []
    for group in groups:
        if len(eval_indices) >= target:
            break
        if len(eval_indices) + len(group) <= target or not eval_indices:
            eval_indices += group
    if len(eval_indices) >= len(
        samples
    ):  # one group holds everything: nothing can be held out without leaking
        eval_indices = []
    chosen = set(eval_indices)
    return [i for i in range(len(samples)) if i not in chosen], sorted(eval_indices)


def _duplicate_groups(samples: list[AlpacaSample], threshold: float) -> list[list[int]]:
    """Groups of (near-)duplicates, so duplicate chains stay together."""
    return group_near_duplicates(dedup_texts(samples), threshold)
