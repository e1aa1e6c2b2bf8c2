"""Exact and near-duplicate detection: MinHash over word 3-grams, computed for many texts at once with numpy,
kept as 8-bit signatures (b-bit minwise hashing) and matched by banded LSH, so a million rows fit in memory.

A pair is a near duplicate when its estimated Jaccard similarity of 3-gram sets is >= the threshold; exact
duplicates are texts with the same canonical form (case, unicode, punctuation and whitespace ignored).
"""
from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
import zlib
from collections.abc import Callable, Sequence

import numpy as np

NUM_PERM = 64
BAND_ROWS = 4  # 16 bands of 4: a pair at Jaccard 0.8 becomes a candidate with probability > 0.999
BAND_CAP = 64  # a band shared by more texts pairs each with the first 64 only (in the order given)
_RNG = np.random.default_rng(7)
# Multiply-shift hashing: (a * h + b) mod 2**64, top 32 bits; a odd. Numpy's uint64 arithmetic wraps as needed.
_A = _RNG.integers(0, 1 << 63, size=NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _RNG.integers(0, 1 << 63, size=NUM_PERM, dtype=np.uint64)
_CHANCE = 1 / 256  # two unrelated 8-bit minimums agree this often
EXACT_MARGIN = 0.15  # where texts are few, candidates down to threshold - 0.15 get an exact check (3 std devs)
_PUNCTUATION = re.compile(r"[^\w\s]")
_BATCH = 2048  # texts hashed per numpy step: about 30 MB of temporaries


@functools.lru_cache(maxsize=8192)  # a build asks for the same few texts of a row many times in a row
def canonical_text(text: str) -> str:
    """Case-, unicode- and whitespace-insensitive form used for exact-duplicate keys."""
    return " ".join(_PUNCTUATION.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def text_key(*texts: str) -> int:
    """A 64-bit key of the texts' canonical forms: equal keys mean exact duplicates."""
    return canonical_key(*(canonical_text(text) for text in texts))


def canonical_key(*canonical: str) -> int:
    """text_key of texts already in canonical form."""
    joined = "\x1f".join(canonical).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(joined, digest_size=8).digest(), "little", signed=True)


class _WordHashes(dict):
    """crc32 of each word, remembered: words repeat far more often than they are new."""

    def __missing__(self, word: str) -> int:
        if len(self) > 200_000:  # bounded (about 20 MB): a stream of unique tokens must not grow it forever
            self.clear()
        value = self[word] = zlib.crc32(word.encode("utf-8")) + 1  # 0 is the padding of short texts
        return value


_WORDS = _WordHashes()
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


def minhashes(texts: Sequence[str]) -> np.ndarray:
    """Full 32-bit MinHash signatures of the texts' word 3-grams, one row of NUM_PERM values per text."""
    return minhashes_of_canonical([canonical_text(text) for text in texts])


def minhashes_of_canonical(texts: Sequence[str]) -> np.ndarray:
    """minhashes of texts already in canonical form."""
    out = np.empty((len(texts), NUM_PERM), dtype=np.uint32)
    for start in range(0, len(texts), _BATCH):
        grams, counts = _grams(texts[start : start + _BATCH])
        values = (grams[:, None] * _A + _B) >> np.uint64(32)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        out[start : start + len(counts)] = np.minimum.reduceat(values, starts, axis=0)
    return out


def word_grams(text: str) -> set[int]:
    """The hashed word 3-grams of a text, for an exact Jaccard similarity where texts are few."""
    return set(_grams([canonical_text(text)])[0].tolist())


def jaccard(a: set[int] | frozenset[int], b: set[int] | frozenset[int]) -> float:
    return len(a & b) / len(a | b)


def _grams(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hashed word 3-grams of canonical texts, all in one array, and how many each text has. A text of under
    3 words is one 3-gram, padded."""
    words = [text.split() for text in texts]
    words = [w if len(w) >= 3 else [*w, "", "", ""][:3] for w in words]
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    flat = np.fromiter((_WORDS[word] if word else 0 for w in words for word in w), dtype=np.uint64,
                       count=int(lengths.sum()))
    grams = flat[:-2] * _MIX[0] ^ flat[1:-1] * _MIX[1] ^ flat[2:] * _MIX[2]
    ends = np.cumsum(lengths)
    inside = np.ones(len(grams), dtype=bool)  # 3-grams that do not run into the next text
    inside[np.concatenate((ends[:-1] - 2, ends[:-1] - 1))] = False
    return grams[inside], lengths - 2


def to_bbit(signatures: np.ndarray) -> np.ndarray:
    """The low 8 bits of each value: a quarter of the memory, with a known chance of agreeing by accident."""
    return (signatures & 0xFF).astype(np.uint8)


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of rows of 8-bit signatures (a[i] against b[i])."""
    agree = (a == b).mean(axis=-1)
    return (agree - _CHANCE) / (1 - _CHANCE)


GramsOf = Callable[[list[int]], list[set[int]]]  # the word 3-grams (word_grams) of the rows with these indices


def similar_pairs(sig8: np.ndarray, rows: np.ndarray, threshold: float, grams_of: GramsOf | None = None,
                  ) -> np.ndarray:
    """Pairs (i, j) of the given rows (indices into sig8; earlier in `rows` first) that are near duplicates,
    found through LSH bands; shape (m, 2). With grams_of, candidates down to threshold - EXACT_MARGIN by the
    estimate are decided on their exact Jaccard similarity; without it, on the estimate."""
    if grams_of is not None:
        return _exact_pairs(similar_pairs(sig8, rows, threshold - EXACT_MARGIN), grams_of, threshold)
    if len(rows) < 2:
        return np.empty((0, 2), dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    found = []
    for band in range(NUM_PERM // BAND_ROWS):
        keys = np.ascontiguousarray(sig8[rows, band * BAND_ROWS : (band + 1) * BAND_ROWS]).view(np.uint32)[:, 0]
        order = np.argsort(keys, kind="stable")  # stable: within a run, earlier in `rows` first
        sorted_keys = keys[order]
        same = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])  # few: only where a band is shared
        del keys, sorted_keys
        if not len(same):
            continue
        breaks = np.flatnonzero(np.diff(same) > 1)
        starts = same[np.concatenate(([0], breaks + 1))]
        ends = same[np.concatenate((breaks, [len(same) - 1]))] + 2
        candidates = []
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            members = order[start:end]
            first, second = np.triu_indices(len(members), 1)
            keep = first < BAND_CAP
            candidates.append(np.stack((rows[members[first[keep]]], rows[members[second[keep]]]), axis=1))
        found.append(_verified(sig8, np.concatenate(candidates), threshold))  # shared words make many candidates
    pairs = np.unique(np.concatenate(found), axis=0) if found else np.empty((0, 2), dtype=np.int64)
    return pairs


def _exact_pairs(pairs: np.ndarray, grams_of: GramsOf, threshold: float) -> np.ndarray:
    if not len(pairs):
        return pairs
    rows = np.unique(pairs).tolist()
    grams = dict(zip(rows, grams_of(rows), strict=True))
    return pairs[[jaccard(grams[a], grams[b]) >= threshold for a, b in pairs.tolist()]]


def _verified(sig8: np.ndarray, pairs: np.ndarray, threshold: float, block: int = 1 << 18) -> np.ndarray:
    """The pairs whose estimated similarity reaches the threshold, checked a block at a time."""
    kept = [part[similarity(sig8[part[:, 0]], sig8[part[:, 1]]) >= threshold]
            for part in (pairs[i : i + block] for i in range(0, len(pairs), block))]
    return np.concatenate(kept) if kept else pairs


def exact_groups(keys: np.ndarray) -> np.ndarray:
    """A label per index: the first index with the same key."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)]


def group_labels(keys: np.ndarray, sig8: np.ndarray, threshold: float, grams_of: GramsOf | None = None,
                 ) -> np.ndarray:
    """A label per index joining exact duplicates (same key) and chains of near duplicates (see similar_pairs):
    the smallest index of its group."""
    exact = exact_groups(keys)
    heads = np.flatnonzero(exact == np.arange(len(keys)))
    return join_labels(exact, similar_pairs(sig8, heads, threshold, grams_of))


def join_labels(labels: np.ndarray, pairs: np.ndarray | list) -> np.ndarray:
    """Labels (the smallest index of each group, see group_labels) with the groups of each pair (i, j) joined."""
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        while parent.get(i, i) != i:
            i = parent[i]
        return i

    for a, b in np.asarray(pairs, dtype=np.int64).reshape(-1, 2).tolist():  # few: union-find over their groups
        ra, rb = root(int(labels[a])), root(int(labels[b]))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    if not parent:
        return labels
    lookup = np.arange(len(labels))
    lookup[list(parent)] = [root(head) for head in parent]
    return lookup[labels]


def group_near_duplicates(texts: list[str], threshold: float = 0.8) -> list[list[int]]:
    """Indices grouped by "is an exact or near duplicate of" (a chain of near duplicates forms one group); groups
    and their members are in first-seen order."""
    if not texts:
        return []
    keys = np.array([text_key(text) for text in texts], dtype=np.int64)
    return label_groups(group_labels(keys, to_bbit(minhashes(texts)), threshold, grams_of(texts)))


def label_groups(labels: np.ndarray, min_size: int = 1) -> list[list[int]]:
    """Indices sharing a label, as groups of at least min_size in first-seen order (min_size 2 skips the many
    rows that have no twin)."""
    groups: dict[int, list[int]] = {}
    chosen = np.arange(len(labels)) if min_size <= 1 else np.flatnonzero(
        np.bincount(labels, minlength=len(labels))[labels] >= min_size)
    for i in chosen.tolist():
        groups.setdefault(int(labels[i]), []).append(i)
    return list(groups.values())


def grams_of(texts: Sequence[str]) -> GramsOf:
    """GramsOf for texts held in memory."""
    return lambda rows: [word_grams(texts[i]) for i in rows]


class NearDuplicateIndex:
    """Remembers texts by key; `find` returns the key of an exact or near (Jaccard >= threshold) duplicate.
    For the few hundred texts of a review: LSH finds candidates, the exact Jaccard similarity decides."""

    def __init__(self, threshold: float = 0.8):
        self.threshold = threshold
        self._exact: dict[str, str] = {}
        self._bands: dict[tuple[int, bytes], list[str]] = {}
        self._grams: dict[str, frozenset[int]] = {}

    def _near(self, text: str) -> list[str]:
        sig8, grams = _fingerprint(text)
        candidates: dict[str, None] = {}
        for band in range(NUM_PERM // BAND_ROWS):
            candidates.update(dict.fromkeys(self._bands.get((band, _band_bytes(sig8, band)), ())))
        return [key for key in candidates if jaccard(self._grams[key], grams) >= self.threshold]

    def find_all(self, text: str) -> list[str]:
        """Keys of every remembered text that is an exact or near duplicate of text (sorted)."""
        exact = self._exact.get(canonical_text(text))
        return sorted({*([exact] if exact is not None else []), *self._near(text)})

    def find(self, text: str) -> str | None:
        exact = self._exact.get(canonical_text(text))
        return exact if exact is not None else next(iter(self._near(text)), None)

    def add(self, key: str, text: str) -> None:
        if key in self._grams:
            return
        sig8, self._grams[key] = _fingerprint(text)
        self._exact.setdefault(canonical_text(text), key)
        for band in range(NUM_PERM // BAND_ROWS):
            self._bands.setdefault((band, _band_bytes(sig8, band)), []).append(key)

    def add_if_new(self, key: str, text: str) -> str | None:
        """Adds text unless it duplicates an earlier one; returns the earlier key when it does."""
        earlier = self.find(text)
        if earlier is None:
            self.add(key, text)
        return earlier


@functools.lru_cache(maxsize=256)  # add_if_new finds, then adds, the same text; the results are never mutated
def _fingerprint(text: str) -> tuple[np.ndarray, frozenset[int]]:
    return to_bbit(minhashes([text]))[0], frozenset(word_grams(text))


def _band_bytes(sig8: np.ndarray, band: int) -> bytes:
    return sig8[band * BAND_ROWS : (band + 1) * BAND_ROWS].tobytes()
