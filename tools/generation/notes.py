"""Error notes: short lessons drawn from reviews (reject reasons, what editors changed) for the next batch.

A note is scoped to the case it came from ('... (for cases like "Rate the urgency: printer jam")'), so one edit
does not push every later sample the same way; a reject reason written as "general: ..." (or "rule: ...") is a
general rule, and a person makes any note general by deleting its "(for cases like ...)" part."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tools.dataset.dedup import canonical_text
from tools.dataset.passages import compared_question
from tools.dataset.schema import AlpacaSample

EDITED_FIELDS = ("instruction", "input", "output")
MAX_PHRASE_TOKENS = 3  # a longer changed span is a rewrite, not a word choice
REWRITE_SIMILARITY = 0.5  # below this share of common words the edit is a rewrite
SHORTER, LONGER = 0.8, 1.25  # word-count ratios that count as shortening / lengthening
MIN_LENGTH_CHANGE = 3  # words: a missing word put back is a correction of content, not of length
_IMPERATIVE = re.compile(
    r"^(avoid|do not|don't|never|always|use|keep|write|make|include|add|remove)\b", re.IGNORECASE
)
_TOKEN = re.compile(r"\w+|[^\w\s]")
_GENERAL = re.compile(r"^\s*(?:general|rule)\s*:\s*", re.IGNORECASE)
RESOLUTION_REASON = "conflict:"  # a conflict resolved by rejecting a twin is no lesson for the model
CASE_CHARS = 60
CASES_SHOWN = 2


class ReviewedSample(Protocol):
    """What notes need from a review (tools.generation.store.StoredSample fits)."""

    original: AlpacaSample
    current: AlpacaSample
    status: str
    reason: str


def clean_notes(notes: Iterable[str]) -> list[str]:
    """Notes stripped, blanks dropped, duplicates (case/punctuation-insensitive) removed; order kept."""
    seen: set[str] = set()
    cleaned = []
    for note in notes:
        note = " ".join(note.split())
        key = canonical_text(note)
        if key and key not in seen:
            seen.add(key)
            cleaned.append(note)
    return cleaned


def merge_notes(existing: Sequence[str], new: Iterable[str]) -> list[str]:
    """Existing notes (as the person left them) followed by new ones not already there. A new note that says the
    opposite of an existing one replaces it (newest wins) and says so, so the notes panel shows what was dropped."""
    notes = list(existing)
    for note in clean_notes(new):
        replaced = [old for old in notes if contradicts(old, note)]
        notes = [old for old in notes if old not in replaced]
        notes.append(note + "".join(f' (replaces the earlier note "{note_core(old)}")' for old in replaced))
    return clean_notes(notes)


_LENGTH_NOTE = re.compile(r"^Reviewers (shortened|lengthened) (\w+)s: ")
_SWAP_NOTE = re.compile(r"^In the (\w+), write '(.+?)' instead of '(.+?)'\.")
_REMOVAL_NOTE = re.compile(r"^Do not write '(.+?)' in the (\w+)\.")
_NOTE_TAIL = re.compile(r" \((?:for cases like|replaces the earlier note) .*$")


def note_core(note: str) -> str:
    """A note without its scope and replacement remarks."""
    return _NOTE_TAIL.sub("", note)


def _stances(note: str) -> dict[tuple, str]:
    """What an edit note asks, as {topic: stance}: two notes on one topic with different stances contradict."""
    if found := _LENGTH_NOTE.match(note):
        return {("length", found[2]): found[1]}
    if found := _SWAP_NOTE.match(note):
        field, new, old = found[1], found[2].lower(), found[3].lower()
        return {("swap", field, frozenset((new, old))): new, ("word", field, new): "use"}
    if found := _REMOVAL_NOTE.match(note):
        return {("word", found[2], found[1].lower()): "avoid"}
    return {}


def contradicts(older: str, newer: str) -> bool:
    """The newer note asks the opposite of the older one (shorter vs fuller, 'a' for 'b' vs 'b' for 'a', ...)."""
    old, new = _stances(older), _stances(newer)
    return any(topic in old and old[topic] != stance for topic, stance in new.items())


def case_label(sample: AlpacaSample) -> str:
    """The case a note came from, short: the instruction (and input) as the reviewer saw it; a retrieval sample's
    question without its passages (their header would crowd the question out)."""
    text = " ".join(compared_question(sample).split())
    return text if len(text) <= CASE_CHARS else text[: CASE_CHARS - 1].rstrip() + "…"


def scoped(note: str, cases: Sequence[str]) -> str:
    """The note limited to the cases it came from (none given: a general rule)."""
    shown = list(dict.fromkeys(cases))[:CASES_SHOWN]
    return f"{note} (for cases like {' / '.join(f'{chr(34)}{c}{chr(34)}' for c in shown)})" if shown else note


def is_general(reason: str) -> bool:
    return bool(_GENERAL.match(reason))


def note_from_reason(reason: str) -> str:
    """A reject reason as an instruction to the model: 'too vague' -> 'Avoid: too vague'."""
    reason = " ".join(_GENERAL.sub("", reason).split()).rstrip(".")
    return reason[0].upper() + reason[1:] if _IMPERATIVE.match(reason) else f"Avoid: {reason}"


def _changed_phrases(before: str, after: str) -> tuple[list[tuple[str, str]], list[str], bool]:
    """Short word replacements (old, new), short removals, and whether a larger span was rewritten."""
    old, new = list(_TOKEN.finditer(before)), list(_TOKEN.finditer(after))

    def phrase(text: str, tokens: list[re.Match], start: int, end: int) -> str:  # as written, spacing kept
        return text[tokens[start].start() : tokens[end - 1].end()]

    replacements, removals = [], []
    matcher = difflib.SequenceMatcher(a=[t.group() for t in old], b=[t.group() for t in new], autojunk=False)
    if max(len(old), len(new)) > MAX_PHRASE_TOKENS and matcher.ratio() < REWRITE_SIMILARITY:
        return [], [], True
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal" and max(i2 - i1, j2 - j1) > MAX_PHRASE_TOKENS:
            return [], [], True  # small changes inside a rewrite are not lessons of their own
        if op == "replace":
            replacements.append((phrase(before, old, i1, i2), phrase(after, new, j1, j2)))
        elif op == "delete":
            removals.append(phrase(before, old, i1, i2))
        elif op == "insert" and old:  # shown with a neighbouring word: 'disc brakes' instead of 'brakes'
            i1, i2, j1, j2 = (i1, i1 + 1, j1, j2 + 1) if i1 < len(old) else (i1 - 1, i1, j1 - 1, j2)
            replacements.append((phrase(before, old, i1, i2), phrase(after, new, j1, j2)))
    return replacements, removals, False


@dataclass(frozen=True)
class FieldChange:
    """What a reviewer's edit did to one field of a sample."""

    name: str
    words_before: int
    words_after: int
    length_change: str | None = None  # "shortened" | "lengthened"
    swapped: tuple[tuple[str, str], ...] = ()  # short word replacements (old, new)
    removed: tuple[str, ...] = ()  # short removals
    rewritten: bool = False  # a larger span was rewritten
    whitespace_only: bool = False


def field_changes(original: AlpacaSample, edited: AlpacaSample) -> list[FieldChange]:
    """Each edited field and what the edit did to it (the one reading of an edit: notes and corrections use it)."""
    changes = []
    for name in EDITED_FIELDS:
        before, after = getattr(original, name), getattr(edited, name)
        if before == after:
            continue
        counts = {"name": name, "words_before": len(before.split()), "words_after": len(after.split())}
        if " ".join(before.split()) == " ".join(after.split()):
            changes.append(FieldChange(**counts, whitespace_only=True))
            continue
        length_change = None
        if abs(counts["words_after"] - counts["words_before"]) >= MIN_LENGTH_CHANGE:
            length_change = ("shortened" if counts["words_after"] < SHORTER * counts["words_before"] else
                             "lengthened" if counts["words_after"] > LONGER * max(counts["words_before"], 1) else None)
        swapped, removed, rewritten = _changed_phrases(before, after)
        changes.append(FieldChange(**counts, length_change=length_change, swapped=tuple(swapped),
                                   removed=tuple(removed), rewritten=rewritten))
    return changes


def _edit_notes(edits: Sequence[tuple[AlpacaSample, AlpacaSample]]) -> list[str]:
    replacements: Counter[tuple[str, str, str]] = Counter()
    removals: Counter[tuple[str, str]] = Counter()
    length_changes: Counter[tuple[str, str]] = Counter()
    rewrites: Counter[str] = Counter()
    whitespace: Counter[str] = Counter()
    cases: dict[tuple, list[str]] = {}  # each lesson's key -> the cases it was drawn from
    latest: dict[tuple, int] = {}  # each lesson's key -> the last edit it was drawn from (edits come in order made)
    for number, (original, edited) in enumerate(edits):
        before_counts = (dict(replacements), dict(removals), dict(length_changes), dict(rewrites), dict(whitespace))
        for change in field_changes(original, edited):
            name = change.name
            if change.whitespace_only:
                whitespace[name] += 1
                continue
            if change.length_change:
                length_changes[(name, change.length_change)] += 1
            replacements.update((name, old, new) for old, new in change.swapped)
            removals.update((name, old) for old in change.removed)
            if change.rewritten and not change.length_change:  # a length note already says what the rewrite did
                rewrites[name] += 1
        for kind, (counter, earlier) in enumerate(zip((replacements, removals, length_changes, rewrites, whitespace),
                                                      before_counts, strict=True)):
            for key in counter:
                if counter[key] != earlier.get(key, 0):
                    cases.setdefault((kind, key), []).append(case_label(original))
                    latest[(kind, key)] = number

    recency: dict[str, int] = {}

    def note(kind: int, key, text: str) -> str:
        text = scoped(text, cases.get((kind, key), []))
        recency[text] = latest.get((kind, key), -1)
        return text

    notes = []
    for (name, change), _ in length_changes.most_common():
        advice = (
            "keep them shorter and to the point"
            if change == "shortened"
            else "give fuller, more complete ones"
        )
        notes.append(note(2, (name, change), f"Reviewers {change} {name}s: {advice}."))
    for (name, old, new), _ in replacements.most_common():
        notes.append(note(0, (name, old, new), f"In the {name}, write '{new}' instead of '{old}'."))
    for (name, old), _ in removals.most_common():
        notes.append(note(1, (name, old), f"Do not write '{old}' in the {name}."))
    for name, _ in whitespace.most_common():
        notes.append(f"Trim stray spaces and blank lines in the {name}.")  # tidiness holds everywhere
    for name, _ in rewrites.most_common():
        notes.append(note(3, name, f"Reviewers rewrote {name}s: follow the seed examples more closely."))
    # two edits of one batch that teach opposite lessons: the later edit's lesson wins (and says what it replaced)
    reconciled = merge_notes([], sorted(notes, key=lambda text: recency.get(text, -1)))
    return [kept for text in notes for kept in reconciled if kept == text or kept.startswith(text + " (replaces")]


def what_was_wrong(change: FieldChange) -> str:
    """One field's edit as what was wrong with the draft, in words."""
    name = change.name
    if change.whitespace_only:
        return f"stray spaces or blank lines in the {name}"
    parts = []
    if change.length_change == "shortened":
        parts.append(f"the {name} was too long ({change.words_before} words, cut to {change.words_after})")
    elif change.length_change == "lengthened":
        parts.append(f"the {name} was too short or incomplete ({change.words_before} words, "
                     f"{change.words_after} after)")
    parts += [f"in the {name}, '{old}' should be '{new}'" for old, new in change.swapped]
    parts += [f"'{old}' did not belong in the {name}" for old in change.removed]
    if change.rewritten and not change.length_change:
        parts.append(f"the {name} was rewritten")
    return "; ".join(parts) or f"the {name} needed a correction"


@dataclass(frozen=True)
class Correction:
    """A reviewer's edit as a worked example for the generator: the draft, the corrected sample, what was wrong."""

    before: AlpacaSample
    after: AlpacaSample
    changes: tuple[FieldChange, ...]

    @property
    def wrong(self) -> str:
        return "; ".join(what_was_wrong(change) for change in self.changes)


def corrections_from_reviews(reviews: Iterable[ReviewedSample]) -> list[Correction]:
    """The edited samples among the reviews, in the order given, each as a before → after Correction."""
    return [Correction(r.original, r.current, tuple(field_changes(r.original, r.current)))
            for r in reviews if r.status == "edited" and r.original != r.current]


def notes_from_reviews(reviews: Iterable[ReviewedSample]) -> list[str]:
    """Deterministic notes from a batch's decisions: reject reasons (most frequent first), then edits; each scoped
    to the cases it came from unless the reason was marked general. Conflict resolutions teach nothing."""
    reasons: Counter[str] = Counter()
    first_wording: dict[str, str] = {}
    reason_cases: dict[str, list[str]] = {}
    general: set[str] = set()
    edits = []
    for review in reviews:
        if review.status == "rejected" and review.reason.strip():
            if review.reason.startswith(RESOLUTION_REASON):
                continue
            key = canonical_text(_GENERAL.sub("", review.reason))
            first_wording.setdefault(key, review.reason)
            reasons[key] += 1
            reason_cases.setdefault(key, []).append(case_label(review.original))
            if is_general(review.reason):  # given once as general, the note is general
                general.add(key)
        elif review.status == "edited":
            edits.append((review.original, review.current))
    reason_notes = [scoped(note_from_reason(first_wording[key]), [] if key in general else reason_cases[key])
                    for key, _ in reasons.most_common()]
    return clean_notes(reason_notes + _edit_notes(edits))


# Notes drawn from an evaluation start with this; the next Improve replaces them with the model's new mistakes.
EVALUATION_NOTE = "Held-out mistake"
MAX_EVALUATION_NOTES = 8  # failing cases turned into notes per round (the prompt stays short)
HELD_OUT_CHARS = 400  # the question and its correct answer: whole, unless very long (the generator needs them)
WRONG_ANSWER_CHARS = 120  # what the model said: enough to show the failure
UNNAMED_FAILURE = "wrong answer"


def failing_cases(result: dict) -> list[dict]:
    """The evaluated rows the tuned model got wrong that can teach it: a near-twin of a training row measures a
    leak, not the task, so it is left out."""
    return [case for case in result.get("cases") or []
            if not case.get("correct") and "near_twin" not in (case.get("kinds") or [])]


def _quoted(text: str, limit: int = HELD_OUT_CHARS) -> str:
    text = " ".join(text.split())
    return '"' + (text if len(text) <= limit else text[: limit - 1].rstrip() + "…") + '"'


def notes_from_evaluation(cases: Sequence[dict], labels: dict[str, str] | None = None,
                          shared: Sequence[dict] = ()) -> list[str]:
    """Failing evaluation cases as error notes for the next batch, like a reviewer's reject reason: the failure
    named (labels: error kind -> words), the correct answer, what the model said, scoped to the case. At most
    MAX_EVALUATION_NOTES, taken in turn from each failure kind so every kind is represented. First, what the
    misses share (the verdict's "shared": question words nearly every question holding them got wrong)."""
    labels = labels or {}
    from tools.training.verdict import shared_sentence

    common = [f"{EVALUATION_NOTE}s share {shared_sentence(item)}. Write new samples whose inputs contain "
              f"{'it' if len(item['words']) == 1 else 'them'}, and others like these, with their correct answers"
              for item in shared]
    by_kind: dict[str, list[dict]] = {}
    for case in cases:
        by_kind.setdefault(next(iter(case.get("kinds") or []), ""), []).append(case)
    chosen: list[dict] = []
    while len(chosen) < MAX_EVALUATION_NOTES and any(by_kind.values()):
        for group in by_kind.values():
            if group and len(chosen) < MAX_EVALUATION_NOTES:
                chosen.append(group.pop(0))
    notes = []
    for case in chosen:
        failure = ", ".join(labels.get(kind, kind.replace("_", " ")) for kind in case.get("kinds") or []) \
            or UNNAMED_FAILURE
        question = " ".join(f"{case['instruction']}\n\n{case.get('input') or ''}".split())
        notes.append(scoped(
            f"{EVALUATION_NOTE} ({failure}): the correct answer is {_quoted(case['reference'])}, the tuned model "
            f"answered {_quoted(case['answer'], WRONG_ANSWER_CHARS)}. Write new samples with inputs of this kind "
            "and their correct answers, never this held-out input or a reworded copy of it",
            [_quoted(question)[1:-1]]))
    return clean_notes([*common, *notes])


def replace_evaluation_notes(existing: Sequence[str], new: Iterable[str]) -> list[str]:
    """The person's notes kept as they are; the earlier evaluation's notes replaced by the new ones."""
    return merge_notes([note for note in existing if not note.startswith(EVALUATION_NOTE)], new)
