"""What an evaluation means, in words: each held-out answer sorted into an error class, a verdict (works / partly /
not yet), and the next step that fits the evidence. The one home of those words: the CLI, the Training tab and the
chat all show `verdict_markdown`.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass

from tools.shown_text import QUOTE_CHARS, quoted

WORKS_SCORE, PARTLY_SCORE = 0.85, 0.4  # share of held-out answers right for "works" / "partly"
MAX_NO_STOP_FOR_WORKS = 0.05  # a model that runs on past its answer is not finished, however right it starts
COLLAPSE_MIN = 3  # the same answer to this many different questions (with different references) is a collapse
ECHO_SIMILARITY = 0.8  # an answer this close to the question's own text repeats the prompt
# a question word is what misses share when this many questions with it were wrong, at least this share of them,
# and it is in at most this share of all questions (a word in most of them sets nothing apart)
SHARED_MIN_MISSES, SHARED_MISS_SHARE, SHARED_MAX_QUESTIONS, SHARED_MAX_SHOWN = 2, 0.6, 0.5, 3
_WORD = re.compile(r"[^\W\d_]{3,}")  # a word of three or more letters, in any script

KIND_LABELS = {
    "wrong_content": "right format, wrong content",
    "wrong_format": "wrong format",
    "collapse": "the same answer for many different inputs",
    "no_stop": "did not stop (cut at the length cap)",
    "repeats_prompt": "repeats the prompt",
    "near_twin": "near-twin of a training row (left out of the score)",
}
LEVEL_WORDS = {"works": "Works", "partly": "Partly works", "not_yet": "Does not work yet"}
DIFFERENCE_CONTEXT = 24  # characters kept before the first difference of an answer and its reference
_SHAPE_RUNS = re.compile(r"([a9])\1+")


@dataclass(frozen=True)
class Case:
    """One held-out row and the tuned model's answer."""

    prompt: str
    question_input: str
    reference: str
    answer: str
    stopped: bool
    correct: bool
    near_twin: bool = False


def shape(text: str) -> str:
    """The answer's format without its content: letters → a, digits → 9, runs collapsed ('+1-415-555-0132' and
    '+1-212-555-0199' share one shape; '{"name": "Ana"}' and '{"name": "Bo"}' too)."""
    mapped = "".join("a" if ch.isalpha() else "9" if ch.isdigit() else ch for ch in text.strip().lower())
    return _SHAPE_RUNS.sub(r"\1", mapped)


def classify(cases: list[Case], similarity) -> list[list[str]]:
    """The error classes of each case (empty when right); similarity(a, b) in [0, 1] compares two texts."""
    wrong_answers = Counter(" ".join(c.answer.lower().split()) for c in cases if not c.correct and not c.near_twin)
    references_by_answer: dict[str, set[str]] = {}
    for c in cases:
        references_by_answer.setdefault(" ".join(c.answer.lower().split()), set()).add(c.reference)
    kinds = []
    for c in cases:
        found = []
        if c.near_twin:
            found.append("near_twin")
        if not c.correct and not c.near_twin:
            said = " ".join(c.answer.lower().split())
            if not c.stopped:
                found.append("no_stop")
            if wrong_answers[said] >= COLLAPSE_MIN and len(references_by_answer[said]) >= COLLAPSE_MIN:
                found.append("collapse")
            echoed = c.question_input or c.prompt
            if echoed.strip() and similarity(c.answer, echoed) >= ECHO_SIMILARITY:
                found.append("repeats_prompt")
            if not found:
                found.append("wrong_content" if shape(c.answer) == shape(c.reference) else "wrong_format")
        kinds.append(found)
    return kinds


def judge(cases: list[Case], kinds: list[list[str]], facts: dict) -> dict:
    """The verdict: level, headline, classes with counts and one example each, and next steps with why.

    facts: {"score": tuned score on the scored rows, "base_score": the base's, "metric": "exact match"|"ROUGE-L",
    "computed_share": share of training answers computed from numbers, "long_answers": bool, "rows": train rows}.
    """
    scored = [c for c in cases if not c.near_twin]
    no_stop = sum(not c.stopped for c in scored) / max(len(scored), 1)
    score = facts["score"]
    level = ("works" if score >= WORKS_SCORE and no_stop <= MAX_NO_STOP_FOR_WORKS
             else "partly" if score >= PARTLY_SCORE else "not_yet")
    counts = Counter(kind for found in kinds for kind in found)
    classes = []
    for kind in KIND_LABELS:
        if counts[kind]:
            example = next(c for c, found in zip(cases, kinds) if kind in found)
            classes.append({"kind": kind, "label": KIND_LABELS[kind], "count": counts[kind],
                            "example": {"prompt": example.prompt, "reference": example.reference,
                                        "answer": example.answer}})
    headline = (f"{LEVEL_WORDS[level]}: {facts['metric']} {score:.0%} on {len(scored)} held-out rows "
                f"(base model {facts['base_score']:.0%}); {1 - no_stop:.0%} of the answers stopped by themselves.")
    if not scored:
        level, headline = "not_yet", (f"No honest score: all {len(cases)} held-out rows have a near-twin in "
                                      "training, so right answers may be remembered rather than learned.")
    shared = shared_by_misses(scored, facts.get("train_word_rows", {}))
    return {"level": level, "headline": headline, "score": score, "stop_rate": round(1 - no_stop, 4),
            "classes": classes, "shared": shared, "next_steps": next_steps(level, counts, no_stop, facts, shared)}


def question_words(prompt: str) -> set[str]:
    """The words of a question (a retrieval sample's passages left out), lower-cased."""
    from tools.dataset.passages import without_passages

    return set(_WORD.findall(without_passages(prompt).lower()))


def shared_by_misses(cases: list[Case], train_word_rows: dict[str, int]) -> list[dict]:
    """What the wrong answers have in common: question words (grouped when they mark the same questions) that most
    questions holding them got wrong, e.g. a name no training row has; most misses first.
    train_word_rows: how many training questions hold each word."""
    if all(not c.correct for c in cases):
        return []  # nothing was right, so no word sets the misses apart
    rows_by_word: dict[str, list[int]] = {}
    for i, c in enumerate(cases):
        for word in question_words(c.prompt):
            rows_by_word.setdefault(word, []).append(i)
    groups: dict[tuple[int, ...], list[str]] = {}
    for word, rows in rows_by_word.items():
        misses = sum(not cases[i].correct for i in rows)
        if (misses >= SHARED_MIN_MISSES and misses / len(rows) >= SHARED_MISS_SHARE
                and len(rows) <= SHARED_MAX_QUESTIONS * len(cases)):
            groups.setdefault(tuple(rows), []).append(word)
    found = [{"words": sorted(words, key=cases[rows[0]].prompt.lower().find), "questions": len(rows),
              "misses": sum(not cases[i].correct for i in rows),
              "in_training": min(train_word_rows.get(word, 0) for word in words)}
             for rows, words in groups.items()]
    return sorted(found, key=lambda item: (-item["misses"], item["in_training"]))[:SHARED_MAX_SHOWN]


def shared_sentence(item: dict) -> str:
    """One thing the misses share, in words."""
    it = "it" if len(item["words"]) == 1 else "them"
    known = item["in_training"]
    seen = (f"no training question has {it}" if known == 0
            else f"{known} training question{'s have' if known > 1 else ' has'} {it}")
    return (f"{', '.join(quoted(word) for word in item['words'])}: {item['misses']} of the {item['questions']} "
            f"questions with {it} were answered wrong; {seen}")


def next_steps(level: str, counts: Counter, no_stop: float, facts: dict, shared: list[dict]) -> list[dict]:
    """What to do next, each with the evidence that calls for it, most useful first."""
    steps = []
    if facts.get("computed_share", 0) >= 0.5 and level != "works":
        steps.append({"step": "Use a bigger model on a GPU, or let a program compute the numbers",
                      "why": f"{facts['computed_share']:.0%} of the training answers are computed from numbers in "
                             "the question; arithmetic is beyond a model this small, more data will not fix it"})
    if no_stop > MAX_NO_STOP_FOR_WORKS or counts["wrong_format"] > counts["wrong_content"]:
        steps.append({"step": "Train longer or at a higher rate (continue from this run)",
                      "why": f"{no_stop:.0%} of the answers did not stop and {counts['wrong_format']} had the wrong "
                             "format: the model has not yet learned the shape of the answers (under-trained)"})
    if counts["collapse"]:
        steps.append({"step": "Add more varied data for the failing kinds (press Improve)",
                      "why": f"{counts['collapse']} answers repeat one memorised answer for different inputs: "
                             "the training rows are too alike"})
    if counts["wrong_content"] and not facts.get("computed_share", 0) >= 0.5:
        about = (f"; the misses share {' and '.join(quoted(' '.join(item['words'])) for item in shared[:2])}"
                 if shared else "")
        steps.append({"step": "Add rows like the ones it failed on (press Improve)",
                      "why": f"{counts['wrong_content']} answers have the right format but wrong content: more "
                             f"examples of those inputs teach the content{about}"})
    if counts["repeats_prompt"]:
        steps.append({"step": "Add rows whose answers differ clearly from the question",
                      "why": f"{counts['repeats_prompt']} answers repeat the question instead of answering it"})
    if level == "not_yet" and facts.get("long_answers"):
        steps.append({"step": "Try prompting a larger model, or RAG if the answers need facts",
                      "why": "answers are long: long reasoning and world knowledge are beyond a 270M model"})
    if counts["near_twin"]:
        steps.append({"step": "Rebuild the dataset so near-twins stay on one side of the split",
                      "why": f"{counts['near_twin']} held-out rows have a near-twin in training; they were left "
                             "out of the score, which is honest but smaller"})
    if level == "works":
        steps.insert(0, {"step": "Try it and export it",
                         "why": "it answers the held-out rows right and stops where it should"})
    return steps


def verdict_markdown(result: dict) -> str:
    """The evaluation in plain sentences: verdict, error classes with one example each, next steps."""
    verdict = result.get("verdict")
    if not verdict:
        return ""
    lines = [f"**{verdict['headline']}**"]
    if verdict["classes"]:
        lines += ["", "What went wrong:"]
        for item in verdict["classes"]:
            example = item["example"]
            answer, reference = where_they_differ(example["answer"], example["reference"])
            lines.append(f"- {item['label']}: {item['count']} — e.g. {quoted(_asked(example['prompt']))} "
                         f"→ {quoted(answer)} (expected {quoted(reference)})")
    if verdict.get("shared"):
        lines += ["", "What the misses share:"]
        lines += [f"- {shared_sentence(item)}." for item in verdict["shared"]]
    if result.get("judge"):
        from tools.training.judge import judge_markdown

        lines += ["", judge_markdown(result["judge"])]
    if verdict["next_steps"]:
        lines += ["", "Next:"]
        lines += [f"{n}. **{item['step']}** — {item['why']}." for n, item in enumerate(verdict["next_steps"], 1)]
    return "\n".join(lines)


def where_they_differ(answer: str, reference: str, shown: int = QUOTE_CHARS) -> tuple[str, str]:
    """Both texts from a little before their first difference when it lies beyond what a quote shows: a long
    answer wrong only in its last field would otherwise be shown cut exactly like the reference."""
    answer, reference = " ".join(answer.split()), " ".join(reference.split())
    same = len(os.path.commonprefix([answer, reference]))
    if same < shown - DIFFERENCE_CONTEXT:
        return answer, reference
    start = same - DIFFERENCE_CONTEXT
    space = answer.find(" ", start, same)
    start = space + 1 if space >= 0 else start
    return "…" + answer[start:], "…" + reference[start:]


def _asked(prompt: str) -> str:
    """The prompt's last line, what varies from row to row; a retrieval sample's question, not its passages."""
    from tools.dataset.passages import without_passages

    return (without_passages(prompt).splitlines() or [""])[-1]
