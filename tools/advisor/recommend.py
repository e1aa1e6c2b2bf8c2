"""Turns a task profile into a deterministic, explainable recommendation (ICL / RAG / fine-tune / both)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from tools.advisor.profile import QUESTION_BY_FIELD, QUESTIONS, TaskProfile, choice_label, flatten
from tools.advisor.rules import (
    NEED_THRESHOLD,
    NOT_FOR_SMALL_TEAMS,
    RULES,
    TRAP_FACTS_BY_TRAINING,
    TRAP_FORM_NOT_FACTS,
    TRAP_KEEP_FACTS_IN_INDEX,
    Rule,
    rule_fires,
    supports,
)
from tools.advisor.wording import answers_sentence, clause
from tools.training.methods import has_gpu

NEXT_STEPS = {
    "icl": [
        "Write 5-20 worked examples (question + ideal answer) and put the best ones in a few-shot prompt.",
        "Measure it on examples you held back; Tunesmith can compare zero-shot and few-shot for you.",
        "If there are many examples, retrieve the most relevant ones per query instead of including them all.",
        "Come back to fine-tuning only if prompting cannot reach the quality you need.",
    ],
    "rag": [
        "Gather the documents the answers must come from (text, Markdown, HTML, JSON, CSV).",
        "Let Tunesmith chunk and index them, then try questions and judge the retrieved passages.",
        "Keep the index current as documents change; answers cite the passages they used.",
    ],
    "fine-tune": [
        "Collect 20-50 seed examples of the exact input and output you want.",
        "Generate samples 20 at a time, review each batch, and let your corrections steer the next batch.",
        "Build the dataset (cleaned, de-duplicated, split), check its health report, then run QLoRA training.",
        "Compare the tuned model with its base on held-out examples before you ship it.",
    ],
}
NEXT_STEPS["rag+fine-tune"] = (
    ["First set up retrieval so answers get the facts: " + NEXT_STEPS["rag"][0]]
    + NEXT_STEPS["rag"][1:]
    + ["Then fine-tune for behaviour and format, with retrieved passages in the training inputs: "
       + NEXT_STEPS["fine-tune"][0]]
    + NEXT_STEPS["fine-tune"][1:]
)
APPROACH_TITLES = {"icl": "In-context learning (prompting)", "rag": "Retrieval-augmented generation (RAG)",
                   "fine-tune": "Parameter-efficient fine-tuning (QLoRA)", "rag+fine-tune": "RAG + fine-tuning"}


@dataclass
class Recommendation:
    approach: str
    reasons: list[str]  # sentences about the person's task, only those that argue for `approach`
    warnings: list[str]
    next_steps: list[str]
    # field -> value, why, topic (the question's short label), label (the answer as the question words it), example
    assumed: dict[str, dict[str, Any]]
    scores: dict[str, int]
    fired_rules: list[str]
    sources: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # "what would change my mind": one different answer each

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fill_assumptions(profile: TaskProfile) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Answers with every unknown filled in; `assumed` says the value used and why (inferred where implied)."""
    answers = flatten(profile.model_dump())
    assumed: dict[str, dict[str, Any]] = {}

    def assume(name: str, value: Any, why: str) -> None:
        if answers.get(name) is None:
            answers[name] = value
            question = QUESTION_BY_FIELD[name]
            assumed[name] = {"value": value, "why": why, "topic": question.topic,
                             "label": choice_label(name, value), "example": question.example}

    if answers["data_dynamics"] == "dynamic" or answers["transparency_required"]:
        assume("requires_external_knowledge", True, "changing data or cited answers imply a knowledge source")
    assume("requires_external_knowledge", False, "nothing you said needs facts beyond general knowledge")
    if answers["requires_external_knowledge"]:
        assume("data_dynamics", "static", "knowledge usually changes rarely")
    else:
        assume("data_dynamics", "n/a", "with no knowledge of your own, nothing goes stale")
    assume("custom_tone_behavior_style", False, "no special tone or format was mentioned")
    if answers["transparency_required"]:
        assume("hallucination_tolerance", "low", "answers that must cite sources must not be made up")
    assume("hallucination_tolerance", "medium", "the middle answer")
    assume("transparency_required", False, "citations were not mentioned")
    assume("labeled_data", "few", "most teams can write a few examples")
    assume("task_diversity", "moderate", "the middle answer")
    assume("scale_latency_pressure", "low", "volume and latency were not mentioned")
    assume("cost_complexity_expertise.budget", "medium", "the middle answer")
    assume("cost_complexity_expertise.search_expertise", False, "the cautious answer")
    assume("cost_complexity_expertise.finetuning_experience", False, "the cautious answer")
    return answers, assumed


def decide(answers: dict[str, Any]) -> tuple[str, dict[str, int], list[str]]:
    """Approach, need scores and the ids of the rules that fired, for fully filled-in answers."""
    scores = {"rag": 0, "fine-tune": 0}
    fired = [rule for rule in RULES if rule_fires(rule, answers)]
    for rule in fired:
        if rule.favours in scores:
            scores[rule.favours] += rule.weight
    needs_rag = scores["rag"] >= NEED_THRESHOLD
    needs_ft = scores["fine-tune"] >= NEED_THRESHOLD
    approach = "rag+fine-tune" if needs_rag and needs_ft else "rag" if needs_rag else "fine-tune" if needs_ft else "icl"
    return approach, scores, [rule.id for rule in fired]


def reason_sentences(rules: list[Rule], answers: dict[str, Any], assumed: dict[str, dict[str, Any]]) -> list[str]:
    """'You said <answers>: <why>' per rule; an answer named by an earlier reason is not repeated."""
    named: set[str] = set()
    sentences = []
    for rule in rules:
        fields = [f for f in rule.when if f not in named] or list(rule.when)
        named |= set(fields)
        sentences.append(f"{answers_sentence(fields, answers, set(assumed))}: {rule.why}")
    return sentences


def what_would_change(answers: dict[str, Any], assumed: dict[str, dict[str, Any]], approach: str,
                      limit: int = 5) -> list[str]:
    """Single answers that, if different, would change the recommendation; unknown answers first."""
    lines = []
    ordered = [q for q in QUESTIONS if q.field in assumed] + [q for q in QUESTIONS if q.field not in assumed]
    for question in ordered:
        seen: set[str] = set()
        values = [value for _, value in question.choices]
        here = values.index(answers[question.field]) if answers[question.field] in values else 0
        for value in sorted(values, key=lambda v: abs(values.index(v) - here)):  # the nearest different answer first
            if value == answers[question.field]:
                continue
            other, _, _ = decide({**answers, question.field: value})
            if other != approach and other not in seen:
                seen.add(other)
                guess = " (I assumed otherwise)" if question.field in assumed else ""
                text = clause(question.field, value)
                lines.append(f"If {text}{guess}, I would recommend {APPROACH_TITLES[other]}.")
    return lines[:limit]


def describe_scores(scores: dict[str, int]) -> str:
    """The scoreboard in words: each need's points and whether it counts."""
    def one(name: str, points: int) -> str:
        unit = "point" if abs(points) == 1 else "points"
        return f"{name} {points} {unit} ({'needed' if points >= NEED_THRESHOLD else 'not needed'})"
    return (f"How your answers add up: {one('retrieval', scores.get('rag', 0))}, "
            f"{one('fine-tuning', scores.get('fine-tune', 0))}; {NEED_THRESHOLD} points make a need.")


def recommend(profile: TaskProfile, baseline: dict | None = None) -> Recommendation:
    """baseline: the result of tools.advisor.baseline.run_baseline, when a measurement was made."""
    answers, assumed = fill_assumptions(profile)
    answers["baseline_quality"] = baseline["verdict"] if baseline else "unmeasured"
    approach, scores, fired_ids = decide(answers)
    fired = [rule for rule in RULES if rule.id in fired_ids]
    backing = [rule for rule in fired if supports(rule, approach)]
    reasons = reason_sentences(backing, answers, assumed)
    if approach == "icl":
        reasons.append("Nothing in your answers calls for retrieval or training yet, so start with prompting, the "
                       "cheapest option (Meta's cost ladder: prompting < RAG < parameter-efficient fine-tuning < "
                       "full fine-tuning).")
    if "fine-tune" in approach:
        reasons.append(method_sentence(has_gpu()))
    warnings, caution_sources = _warnings(profile, answers, approach)
    return Recommendation(
        approach=approach, reasons=reasons, warnings=warnings, next_steps=list(NEXT_STEPS[approach]),
        assumed=assumed, scores=scores, fired_rules=fired_ids,
        sources=sorted({r.source for r in backing} | caution_sources),
        changes=what_would_change(answers, assumed, approach),
    )


def method_sentence(gpu: bool) -> str:
    """Why parameter-efficient fine-tuning, said for the machine it will run on."""
    common = "full fine-tuning costs far more and risks catastrophic forgetting."
    if gpu:
        return ("Parameter-efficient fine-tuning (QLoRA: LoRA on a 4-bit base) trains 1-6% of the weights on this "
                f"machine's GPU; {common}")
    return ("Parameter-efficient fine-tuning trains 1-6% of the weights: with no GPU here, LoRA trains the built-in "
            "270M model on the CPU (QLoRA needs a GPU, for bigger models); " + common)


def _warnings(profile: TaskProfile, answers: dict[str, Any], approach: str) -> tuple[list[str], set[str]]:
    warnings = []
    sources: set[str] = set()
    prefers = profile.preferred_approach
    wants_ft = prefers in ("fine-tune", "rag+fine-tune")
    trap = None
    if answers["requires_external_knowledge"]:
        trap = TRAP_FACTS_BY_TRAINING if wants_ft or "fine-tune" in approach else TRAP_KEEP_FACTS_IN_INDEX
    elif wants_ft or "fine-tune" in approach:
        trap = TRAP_FORM_NOT_FACTS
    if trap:
        warnings.append(trap.text)
        sources.add(trap.source)
    if prefers and prefers != approach:
        text = (f"You had {APPROACH_TITLES[prefers]} in mind; your answers point to {APPROACH_TITLES[approach]} "
                "(the reasons above say why).")
        if "rag" in prefers and not answers["requires_external_knowledge"]:
            text += " RAG needs documents to retrieve from, and your task has none."
        warnings.append(text)
    if "fine-tune" in approach and answers["labeled_data"] in ("none", "few"):
        warnings.append("Few or no examples yet: plan 50-100 good examples at least (Tunesmith can draft them from "
                        "20-50 seeds for you to review). Quality beats quantity.")
    if "rag" in approach and answers["cost_complexity_expertise.search_expertise"] is False:
        warnings.append("Without search-system experience, start with Tunesmith's built-in index and check what it "
                        "retrieves by hand before trusting the answers.")
    if answers["cost_complexity_expertise.budget"] == "low" and "fine-tune" in approach:
        warnings.append("Low budget: LoRA on the built-in 270M model trains on a CPU in minutes, and QLoRA on a "
                        "0.5B-3B model fits a single consumer GPU; try prompting first to see whether fine-tuning is "
                        "needed at all.")
    warnings.append(NOT_FOR_SMALL_TEAMS)
    return warnings, sources


# How a person changes an assumed answer, by where the advice is shown.
HOW_TO_CHANGE = {
    "chat": lambda field, a: f"tell me, e.g. “{a['example']}”" if a.get("example") else "tell me",
    "profile": lambda field, a: f"set \"{field.split('.')[-1]}\" to one of "
                                + ", ".join(json.dumps(v) for _, v in QUESTION_BY_FIELD[field].choices)
                                + (" under \"cost_complexity_expertise\"" if "." in field else "")
                                + " in your profile file",
    "interview": lambda field, a: "answer that question instead of pressing Enter",
}


def assumption_lines(rec: Recommendation, changing: str = "chat") -> list[str]:
    """One line per assumed answer: the question's label, the answer used, why, and how to change it."""
    how = HOW_TO_CHANGE[changing]
    lines = []
    for name, a in rec.assumed.items():
        question = QUESTION_BY_FIELD[name]  # recommendations saved by older versions lack topic/label/example
        a = {"topic": question.topic, "label": choice_label(name, a["value"]), "example": question.example, **a}
        lines.append(f"{a['topic']}: {a['label']} ({a['why']}). To change it, {how(name, a)}.")
    return lines


def render_report(rec: Recommendation, changing: str = "profile") -> str:
    """A readable plain-text report for the terminal."""
    lines = [f"Recommendation: {APPROACH_TITLES[rec.approach]}", "", "Why:"]
    lines += [f"  - {r}" for r in rec.reasons]
    if rec.changes:
        lines += ["", "What would change my mind:"] + [f"  - {c}" for c in rec.changes]
    if rec.warnings:
        lines += ["", "Watch out:"] + [f"  ! {w}" for w in rec.warnings]
    lines += ["", "Next steps:"] + [f"  {i}. {s}" for i, s in enumerate(rec.next_steps, 1)]
    if rec.assumed:
        lines += ["", "What I assumed (you did not say):"] + [f"  - {a}" for a in assumption_lines(rec, changing)]
    lines += ["", describe_scores(rec.scores)]
    if rec.sources:
        lines += ["", "Sources:"] + [f"  - {s}" for s in rec.sources]
    return "\n".join(lines)


def render_markdown(rec: dict, brief: bool = False, lead: str = "") -> str:
    """The recommendation for the app (a Recommendation as a dict) under a bold title."""
    return f"**{lead}{APPROACH_TITLES[rec['approach']]}**\n\n" + render_markdown_body(rec, brief)


def render_markdown_body(rec: dict, brief: bool = False) -> str:
    """Why, what would change it, (warnings, next steps,) assumptions, scoreboard (, sources); brief: the side panel."""
    rec_obj = Recommendation(**rec)
    lines = ["Why:"] + [f"- {r}" for r in rec_obj.reasons]
    if rec_obj.changes:
        lines += ["", "What would change my mind:"] + [f"- {c}" for c in rec_obj.changes]
    if not brief:
        lines += ["", "Watch out:"] + [f"- {w}" for w in rec_obj.warnings]
        lines += ["", "Next steps:"] + [f"{i}. {s}" for i, s in enumerate(rec_obj.next_steps, 1)]
    if rec_obj.assumed:
        lines += ["", "What I assumed (you did not say):"] + [f"- {a}" for a in assumption_lines(rec_obj, "chat")]
    lines += ["", f"_{describe_scores(rec_obj.scores)}_"]
    if not brief and rec_obj.sources:
        lines += ["", "Sources: " + ", ".join(f"<{s}>" for s in rec_obj.sources)]
    return "\n".join(lines)
