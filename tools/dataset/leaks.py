"""Held-out rows that are near-twins of training rows, so that an evaluation can leave them out of its score.

A leak is a twin by the rules a build's split keeps on one side (tools.dataset.split.twin_labels): by words
(the same question up to case and punctuation, the same word key, or word 3-gram Jaccard >= threshold on the
question or on question + answer) or by meaning (tools.dataset.meaning: MiniLM cosine on the question, same
values). Made for a few thousand rows: the embedding model loads on the first call only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.dataset.dedup import jaccard, similar_pairs, word_grams
from tools.dataset.meaning import meaning_pairs
from tools.dataset.row_keys import question_texts, row_keys, sample_grams
from tools.dataset.schema import AlpacaSample


@dataclass(frozen=True)
class Leak:
    """eval_index / train_index: positions in the lists given; similarity: word 3-gram Jaccard (1.0 for the same
    question or word key) when by == "words", the embeddings' cosine when by == "meaning"."""

    eval_index: int
    train_index: int
    similarity: float
    by: str  # "words" or "meaning"


def find_leaks(train: list[AlpacaSample], evaluation: list[AlpacaSample], threshold: float = 0.8) -> list[Leak]:
    """One Leak per evaluation row that has a twin in train (the closest; a twin by words before one by meaning),
    in evaluation order."""
    if not train or not evaluation:
        return []
    samples = [*train, *evaluation]
    questions = question_texts(samples)  # a template instruction is left out when both sides share it
    n = len(train)
    keys = row_keys(questions, [s.output for s in samples])
    best: dict[int, tuple[float, int]] = {}  # eval row -> (similarity, train row), by words

    def offer(eval_row: int, train_row: int, similarity: float) -> None:
        if similarity > best.get(eval_row, (-1.0, 0))[0]:
            best[eval_row] = (similarity, train_row)

    for exact in (keys.question_keys, keys.word_keys):
        first_in_train: dict[int, int] = {}
        for i, key in enumerate(exact[:n].tolist()):
            first_in_train.setdefault(key, i)
        for j, key in enumerate(exact[n:].tolist()):
            if key in first_in_train:
                offer(j, first_in_train[key], 1.0)
    grams = {"question": lambda i: word_grams(questions[i]),
             "sample": lambda i: sample_grams(questions[i], samples[i].output)}
    for kind, sigs in (("question", keys.question_sigs), ("sample", keys.sample_sigs)):
        pairs = similar_pairs(sigs, np.arange(len(samples)), threshold,
                              lambda rows, kind=kind: [grams[kind](i) for i in rows])
        for a, b in pairs[(pairs.min(axis=1) < n) & (pairs.max(axis=1) >= n)].tolist():
            train_row, eval_row = min(a, b), max(a, b)
            offer(eval_row - n, train_row, jaccard(grams[kind](train_row), grams[kind](eval_row)))
    leaks = {j: Leak(j, i, round(similarity, 4), "words") for j, (similarity, i) in best.items()}
    by_meaning: dict[int, tuple[float, int]] = {}
    for eval_row, train_row, cosine in meaning_pairs(questions, rows=range(n, len(samples)), against=range(n)):
        if eval_row - n not in leaks and cosine > by_meaning.get(eval_row - n, (-1.0, 0))[0]:
            by_meaning[eval_row - n] = (cosine, train_row)
    leaks.update({j: Leak(j, i, round(cosine, 4), "meaning") for j, (cosine, i) in by_meaning.items()})
    return [leaks[j] for j in sorted(leaks)]
