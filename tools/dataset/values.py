"""What a question asks about, read from its words: its numbers, its names and its other content words, and a
cheap key that two rewordings share when they differ only in filler words or in the order of their clauses.

A near-twin is the same question reworded, not the same template with other values: "2 cups flour" and
"2 cups of flour" ask the same, "2 cups flour" and "2 cups sugar" do not. tools.dataset.meaning compares what
this module reads; embeddings alone cannot tell the two cases apart (bench/bench_twins.py).
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Words that change no value when added, dropped or swapped for each other. Words that flip a meaning (not, no,
# in/out, on/off, up/down, before/after, more/less, but, or, if) are not here.
FILLER = frozenset("""
a an the of to for at by with from as and please kindly just some any this that these those it its is are was
were be been being am do does did can could would should will shall might must i me my we us our you your he she
they them their his her what which who whom whose how many much there here so then now also s
""".split())
# Small words that turn a meaning around when one replaces another ("log in" / "log out") or when one side has
# a negation the other lacks; added alone ("in metric" / "the metric amount") they change nothing.
PARTICLES = frozenset("in out on off up down over under before after above below more less".split())
NEGATIONS = frozenset("not no never without".split())
_NUMBER_WORDS = {word: str(i) for i, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_CONTRACTIONS = [(re.compile(pattern, re.IGNORECASE), repl) for pattern, repl in (
    (r"\bcan't\b", "can not"), (r"\bwon't\b", "will not"), (r"n't\b", " not"), (r"\bcannot\b", "can not"),
    (r"'(?:s|re|ve|ll|d|m)\b", ""), (r"\binto\b", "in to"), (r"\bonto\b", "on to"))]
_MAYBE_CONTRACTED = re.compile(r"'|nto\b|annot\b", re.IGNORECASE)
# an e-mail, a number (1, 1/2, 3.5, 3,000, 10:30, 5th), a word, or what ends a clause
_TOKEN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(\d+(?:[.,/:]\d+)*)(?:(?:st|nd|rd|th)\b)?|([^\W\d_]+)|([.!?;:,\n])")
_SENTENCE_END = frozenset(".!?\n")


@dataclass(frozen=True)
class Values:
    """numbers: in order of appearance; names: words written with a capital inside a sentence, and e-mails;
    words: the other content words (filler, particles and negations left out), normalised (see norm_word);
    particles and negated: see PARTICLES and NEGATIONS."""

    numbers: tuple[str, ...]
    names: frozenset[str]
    words: frozenset[str]
    particles: frozenset[str]
    negated: bool


@functools.lru_cache(maxsize=65536)  # words repeat far more often than they are new
def norm_word(word: str) -> str:
    """Case, number words, plural -s and British -ise/-tre spellings folded: "Litres" -> "liter"."""
    word = word.casefold()
    if word in _NUMBER_WORDS:
        return _NUMBER_WORDS[word]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for british, american in (("isation", "ization"), ("ise", "ize"), ("ised", "ized"), ("ising", "izing"),
                              ("tre", "ter")):
        if word.endswith(british):
            return word[: -len(british)] + american
    return word


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, token) in order; kind is "number", "name", "word" or "end" (a clause ends)."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).replace("\u2044", "/")
    if _MAYBE_CONTRACTED.search(text):
        for pattern, repl in _CONTRACTIONS:
            text = pattern.sub(repl, text)
    out: list[tuple[str, str]] = []
    start_of_sentence = True
    for match in _TOKEN.finditer(text):
        number, word, end = match.groups()
        if end is not None:
            out.append(("end", end))
            start_of_sentence = start_of_sentence or end in _SENTENCE_END
            continue
        if number is not None:
            out.append(("number", number.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+", number)
                        else number))
        elif word is None:  # an e-mail address
            out.append(("name", match.group(0).casefold()))
        else:
            folded = norm_word(word)
            if folded.isdigit():
                out.append(("number", folded))
            elif word[0].isupper() and not start_of_sentence and folded not in FILLER:
                out.append(("name", folded))
            else:
                out.append(("word", folded))
        start_of_sentence = False
    return out


def values_of(text: str) -> Values:
    tokens = _tokens(text)
    words = {t for kind, t in tokens if kind == "word" and t not in FILLER}
    return Values(numbers=tuple(t for kind, t in tokens if kind == "number"),
                  names=frozenset(t for kind, t in tokens if kind == "name"),
                  words=frozenset(words - PARTICLES - NEGATIONS), particles=frozenset(words & PARTICLES),
                  negated=bool(words & NEGATIONS))


def word_key(text: str) -> int:
    """A 64-bit key equal for texts with the same numbers, names and content words in the same order within each
    clause, whatever the filler words and the order of the clauses: "1 1/2 cups of rice" = "1 1/2 cups rice",
    "If it rains, bring an umbrella" = "Bring an umbrella, if it rains". Case-insensitive (a name is its word)."""
    return text_keys(text)[0]


def text_keys(text: str) -> tuple[int, int]:
    """(word_key, numbers_key) of a text, read in one pass."""
    clauses, current, numbers = [], [], []
    for kind, token in _tokens(text):
        if kind == "end":
            if current:
                clauses.append(" ".join(current))
            current = []
        elif token not in FILLER:
            current.append(token)
            if kind == "number":
                numbers.append(token)
    if current:
        clauses.append(" ".join(current))
    joined = "\x1f".join(sorted(clauses)).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(joined, digest_size=8).digest(), "little", signed=True), numbers_key(numbers)


def numbers_key(numbers: Iterable[str]) -> int:
    """Equal for texts with the same numbers in any order: only such texts can be twins (same_values). Valid within
    one process (Python's string hash is salted per process)."""
    return hash(tuple(sorted(numbers)))


def _abbreviates(short: str, long: str) -> bool:
    """"tbsp" of "tablespoon", "ml" of "milliliter", "jan" of "january": the same first letter, and every letter
    of the short one in order in a word at least twice as long."""
    if len(short) > len(long):
        short, long = long, short
    if not long.isalpha() or not short or short[0] != long[0] or len(long) < 2 * len(short):
        return False
    letters = iter(long)
    return all(letter in letters for letter in short)


def _unmatched(mine: frozenset[str], theirs: frozenset[str]) -> list[str]:
    return sorted(w for w in mine if w not in theirs and not any(_abbreviates(w, other) for other in theirs))


WordsAlike = Callable[[list[tuple[str, str]]], list[bool]]  # per pair of words: are they synonyms


def same_values(a: Values, b: Values, alike: WordsAlike) -> bool:
    """Whether two questions ask about the same things: the same numbers (in any order), names and negation, no
    particle replaced by another, and content words that differ only by words added or dropped, abbreviations,
    or words that `alike` calls synonyms. A word in one replaced by a word in the other that is not a synonym
    ("flour" by "sugar") is another value."""
    if sorted(a.numbers) != sorted(b.numbers) or a.negated != b.negated:
        return False
    if a.particles - b.particles and b.particles - a.particles:
        return False
    if _unmatched(a.names, b.names) or _unmatched(b.names, a.names):
        return False
    only_a, only_b = _unmatched(a.words, b.words), _unmatched(b.words, a.words)
    if not only_a or not only_b:  # words only added or dropped
        return True
    pairs = [(x, y) for x in only_a for y in only_b]
    verdicts = dict(zip(pairs, alike(pairs), strict=True))
    return all(any(verdicts[x, y] for y in only_b) for x in only_a)
