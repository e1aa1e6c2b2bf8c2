"""Twins by meaning: the same question reworded, found with the all-MiniLM-L6-v2 embeddings the project ships
(tools.embeddings_numpy: no torch) beside the word 3-gram engine of tools.dataset.dedup.

Two questions are meaning twins when the cosine of their embeddings is >= MEANING_THRESHOLD and they ask about
the same values (tools.dataset.values.same_values: numbers, names, content words). The cosine alone cannot be
the rule: "1 1/2 cups of rice" / "2 1/2 cups of rice" (0.97) or "3 March" / "3 May" (0.97) sit above real
paraphrases such as "Convert 2 cups of flour to grams" / "How many grams is 2 cups of flour?" (0.89). The
threshold and SYNONYM_THRESHOLD are chosen on tests/fixtures/dataset/twin_pairs.json (bench/bench_twins.py
prints the table). The model loads on first use only.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

import numpy as np

from tools.dataset.values import Values, numbers_key, same_values, values_of

MEANING_THRESHOLD = 0.85  # cosine of two questions' embeddings
SYNONYM_THRESHOLD = 0.75  # cosine of two single words' embeddings for one to stand for the other
MEANING_MAX_ROWS = 10_000  # a build embeds its questions up to this many rows (about 1-2 min on 2 CPU cores)
_CACHE_SIZE = 50_000  # vectors kept per process (1.5 kB each): a review embeds only what it has not seen
_BLOCK = 512  # rows of the cosine matrix computed at once (512 x 10,000 floats: 20 MB)
_cache: dict[str, np.ndarray] = {}
_lock = threading.Lock()


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length vectors (one float32 row per text), each text embedded once per process while it is cached.
    Texts are embedded shortest first, so that a batch pads little."""
    with _lock:
        missing = sorted({t for t in texts if t not in _cache}, key=len)
        if missing:
            from tools.embeddings_numpy import embed as minilm

            if len(_cache) + len(missing) > _CACHE_SIZE:
                _cache.clear()
            _cache.update(zip(missing, minilm(missing, batch_size=64), strict=True))
        return np.stack([_cache[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)


def words_alike(pairs: list[tuple[str, str]]) -> list[bool]:
    """Per pair of single words, whether their embeddings are close enough for synonyms ("oz" / "ounce")."""
    if not pairs:
        return []
    vectors = embed([word for pair in pairs for word in pair])
    return ((vectors[0::2] * vectors[1::2]).sum(axis=1) >= SYNONYM_THRESHOLD).tolist()


def is_twin(a: Values, b: Values, cosine: float) -> bool:
    return cosine >= MEANING_THRESHOLD and same_values(a, b, words_alike)


def meaning_pairs(texts: Sequence[str], rows: Sequence[int] | None = None, against: Sequence[int] | None = None,
                  ) -> list[tuple[int, int, float]]:
    """Meaning twins (i, j, cosine) among texts: with `against`, each of `rows` against each of `against` (i from
    rows, j from against); else every pair of `rows` (default: all), i < j. Texts whose numbers no text on the
    other side shares are not embedded, and pairs whose numbers differ are left out before any word is compared
    (a template's rows differ mostly in numbers)."""
    rows = list(range(len(texts))) if rows is None else list(rows)
    others = rows if against is None else list(against)
    values = {k: values_of(texts[k]) for k in {*rows, *others}}
    numbers = {k: numbers_key(v.numbers) for k, v in values.items()}
    if against is None:
        seen = Counter(numbers[i] for i in rows)
        rows = others = [i for i in rows if seen[numbers[i]] > 1]
    else:
        mine, theirs = {numbers[i] for i in rows}, {numbers[j] for j in others}
        rows, others = [i for i in rows if numbers[i] in theirs], [j for j in others if numbers[j] in mine]
    if not rows or not others:
        return []
    row_numbers = np.array([numbers[i] for i in rows], dtype=np.int64)
    other_numbers = np.array([numbers[j] for j in others], dtype=np.int64)
    vectors = embed([texts[i] for i in rows])
    other_vectors = vectors if against is None else embed([texts[j] for j in others])
    found = []
    for start in range(0, len(rows), _BLOCK):
        cosines = vectors[start : start + _BLOCK] @ other_vectors.T
        close = (cosines >= MEANING_THRESHOLD) & (row_numbers[start : start + _BLOCK, None] == other_numbers)
        for a, b in np.argwhere(close).tolist():
            i, j = rows[start + a], others[b]
            if against is None and i >= j:
                continue
            cosine = float(cosines[a, b])
            if is_twin(values[i], values[j], cosine):
                found.append((i, j, cosine))
    return found


class MeaningIndex:
    """Remembers questions by key; `find` returns the key of the closest remembered meaning twin (see is_twin).
    For the few hundred questions of a review: a text is embedded only when a question with the same numbers is
    looked up (only those can be twins), and then once per process."""

    def __init__(self) -> None:
        self._by_numbers: dict[int, list[tuple[str, str, Values]]] = {}

    def find(self, text: str) -> str | None:
        values = values_of(text)
        candidates = self._by_numbers.get(numbers_key(values.numbers), [])
        if not candidates:
            return None
        vectors = embed([text, *(other for _, other, _ in candidates)])
        cosines = vectors[1:] @ vectors[0]
        for i in np.argsort(-cosines).tolist():
            if cosines[i] < MEANING_THRESHOLD:
                return None
            if is_twin(values, candidates[i][2], float(cosines[i])):
                return candidates[i][0]
        return None

    def add(self, key: str, text: str) -> None:
        values = values_of(text)
        self._by_numbers.setdefault(numbers_key(values.numbers), []).append((key, text, values))
