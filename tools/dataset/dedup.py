"""Exact and near-duplicate detection (MinHash LSH over word shingles)."""
from __future__ import annotations

import re
import unicodedata

from datasketch import MinHash, MinHashLSH

NUM_PERM = 64


def canonical_text(text: str) -> str:
    """Case-, unicode- and whitespace-insensitive form used for exact-duplicate keys."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text)).strip()


def _shingles(text: str, size: int = 3) -> set[str]:
    words = canonical_text(text).split()
    if len(words) < size:
        return {" ".join(words)} if words else {""}
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def _minhash(text: str) -> MinHash:
    mh = MinHash(num_perm=NUM_PERM, seed=7)
    for shingle in _shingles(text):
        mh.update(shingle.encode("utf-8"))
    return mh


class NearDuplicateIndex:
    """Remembers texts by key; `find` returns the key of an exact or near (Jaccard >= threshold) duplicate."""

    def __init__(self, threshold: float = 0.8):
        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._exact: dict[str, str] = {}
        self._hashes: dict[str, MinHash] = {}

    def find(self, text: str) -> str | None:
        key = self._exact.get(canonical_text(text))
        if key is not None:
            return key
        mh = _minhash(text)
        for candidate in self._lsh.query(mh):
            if self._hashes[candidate].jaccard(mh) >= self.threshold:
                return candidate
        return None

    def add(self, key: str, text: str) -> None:
        if key in self._hashes:
            return
        mh = _minhash(text)
        self._exact.setdefault(canonical_text(text), key)
        self._hashes[key] = mh
        self._lsh.insert(key, mh)

    def add_if_new(self, key: str, text: str) -> str | None:
        """Adds text unless it duplicates an earlier one; returns the earlier key when it does."""
        earlier = self.find(text)
        if earlier is None:
            self.add(key, text)
        return earlier
