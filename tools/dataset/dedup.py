"""Exact and near-duplicate detection (MinHash LSH over word shingles)."""
from __future__ import annotations

import functools
import re
import unicodedata

from datasketch import MinHash, MinHashLSH

NUM_PERM = 64


_PUNCTUATION = re.compile(r"[^\w\s]")


@functools.lru_cache(maxsize=8192)  # a build asks for the same few texts of a row many times in a row
def canonical_text(text: str) -> str:
    """Case-, unicode- and whitespace-insensitive form used for exact-duplicate keys."""
    return " ".join(_PUNCTUATION.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def _shingles(text: str, size: int = 3) -> set[str]:
    words = canonical_text(text).split()
    if len(words) < size:
        return {" ".join(words)} if words else {""}
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=7)  # permutations generated once, not per text


@functools.lru_cache(maxsize=256)  # find() then add() of one text hash it once; MinHashes are never mutated
def _minhash(text: str) -> MinHash:
    mh = MinHash(num_perm=NUM_PERM, seed=7, permutations=_TEMPLATE.permutations, scheme=_TEMPLATE.scheme)
    mh.update_batch([shingle.encode("utf-8") for shingle in _shingles(text)])  # vectorised; same as update()
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

    def find_all(self, text: str) -> list[str]:
        """Keys of every remembered text that is an exact or near duplicate of text (sorted)."""
        found: set[str] = set()
        exact = self._exact.get(canonical_text(text))
        if exact is not None:
            found.add(exact)
        mh = _minhash(text)
        found.update(c for c in self._lsh.query(mh) if self._hashes[c].jaccard(mh) >= self.threshold)
        return sorted(found)

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


def group_near_duplicates(texts: list[str], threshold: float = 0.8) -> list[list[int]]:
    """Indices grouped by "is an exact or near duplicate of" (connected components via union-find), so that a
    chain of near duplicates forms one group; groups and their members are in first-seen order."""
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    index = NearDuplicateIndex(threshold)
    for i, text in enumerate(texts):
        for earlier in index.find_all(text):
            parent[root(int(earlier))] = root(i)
        index.add(str(i), text)
    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())
