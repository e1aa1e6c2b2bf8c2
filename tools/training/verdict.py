"""What an evaluation means, in words: each held-out answer sorted into an error class, a verdict (works / partly /
not yet), and the next step that fits the evidence. The one home of those words: the CLI, the Training tab and the
chat all show `verdict_markdown`.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from tools.shown_text import quoted

WORKS_SCORE, PARTLY_SCORE = 0.85, 0.4  # share of held-out answers right for "works" / "partly"
MAX_NO_STOP_FOR_WORKS = 0.05  # a model that runs on past its answer is not finished, however right it starts
COLLAPSE_MIN = 3  # the same answer to this many different questions (with different references) is a collapse
ECHO_SIMILARITY = 0.8  # an answer this close to the question's own text repeats the prompt

KIND_LABELS = {
    "wrong_content": "right format, wrong content",
    "wrong_format": "wrong format",
    "collapse": "the same answer for many different inputs",
    "no_stop": "did not stop (cut at the length cap)",
    "repeats_prompt": "repeats the prompt",
    "near_twin": "near-twin of a training row (left out of the score)",
}
LEVEL_WORDS = {"works": "Works", "partly": "Partly works", "not_yet": "Does not work yet"}
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
    return {"level": level, "headline": headline, "score": score, "stop_rate": round(1 - no_stop, 4),
            "classes": classes, "next_steps": next_steps(level, counts, no_stop, facts)}


def next_steps(level: str, counts: Counter, no_stop: float, facts: dict) -> list[dict]:
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
        steps.append({"step": "Add rows like the ones it failed on (press Improve)",
                      "why": f"{counts['wrong_content']} answers have the right format but wrong content: more "
                             "examples of those inputs teach the content"})
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
            lines.append(f"- {item['label']}: {item['count']} — e.g. {quoted(_asked(example['prompt']))} "
                         f"→ {quoted(example['answer'])} (expected {quoted(example['reference'])})")
    if result.get("judge"):
        from tools.training.judge import judge_markdown

        lines += ["", judge_markdown(result["judge"])]
    if verdict["next_steps"]:
        lines += ["", "Next:"]
        lines += [f"{n}. **{item['step']}** — {item['why']}." for n, item in enumerate(verdict["next_steps"], 1)]
    return "\n".join(lines)


def _asked(prompt: str) -> str:
    """The prompt's last line, what varies from row to row; a retrieval sample's question, not its passages."""
    from tools.dataset.passages import without_passages

    return (without_passages(prompt).splitlines() or [""])[-1]
