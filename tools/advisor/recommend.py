"""Turns a task profile into a deterministic, explainable recommendation (ICL / RAG / fine-tune / both)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tools.advisor.profile import QUESTIONS, TaskProfile, flatten
from tools.advisor.rules import NEED_THRESHOLD, NOT_FOR_SMALL_TEAMS, RULES, rule_fires

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
    reasons: list[str]
    warnings: list[str]
    next_steps: list[str]
    assumed: dict[str, dict[str, Any]]
    scores: dict[str, int]
    fired_rules: list[str]
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fill_assumptions(profile: TaskProfile) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Answers with every unknown filled in; `assumed` says the value used and why (inferred where implied)."""
    answers = flatten(profile.model_dump())
    assumed: dict[str, dict[str, Any]] = {}

    def assume(name: str, value: Any, why: str) -> None:
        if answers.get(name) is None:
            answers[name] = value
            assumed[name] = {"value": value, "why": why}

    if answers["data_dynamics"] == "dynamic" or answers["transparency_required"]:
        assume("requires_external_knowledge", True, "inferred: changing data or cited answers imply a knowledge source")
    assume("requires_external_knowledge", False, "default: the task can be done from general knowledge")
    if answers["requires_external_knowledge"]:
        assume("data_dynamics", "static", "default: assumed the knowledge changes rarely")
    else:
        assume("data_dynamics", "n/a", "inferred: no external knowledge, so nothing goes stale")
    assume("custom_tone_behavior_style", False, "default: no special tone or format was mentioned")
    if answers["transparency_required"]:
        assume("hallucination_tolerance", "low", "inferred: answers that must cite sources must not be made up")
    assume("hallucination_tolerance", "medium", "default")
    assume("transparency_required", False, "default")
    assume("labeled_data", "few", "default: most teams can write a few examples")
    assume("task_diversity", "moderate", "default")
    assume("scale_latency_pressure", "low", "default")
    assume("cost_complexity_expertise.budget", "medium", "default")
    assume("cost_complexity_expertise.search_expertise", False, "default: assumed no search-system experience")
    assume("cost_complexity_expertise.finetuning_experience", False, "default: assumed no fine-tuning experience")
    return answers, assumed


def decide(answers: dict[str, Any]) -> tuple[str, dict[str, int], list[str]]:
    """Approach, need scores and the ids of the rules that fired, for fully filled-in answers."""
    scores = {"rag": 0, "fine-tune": 0}
    fired = [rule for rule in RULES if rule_fires(rule, answers)]
    for rule in fired:
        scores[rule.favours] += rule.weight
    needs_rag = scores["rag"] >= NEED_THRESHOLD
    needs_ft = scores["fine-tune"] >= NEED_THRESHOLD
    approach = "rag+fine-tune" if needs_rag and needs_ft else "rag" if needs_rag else "fine-tune" if needs_ft else "icl"
    return approach, scores, [rule.id for rule in fired]


def _sensitivity(answers: dict[str, Any], assumed: dict[str, dict[str, Any]], approach: str) -> list[str]:
    """Which single unknown answer, if different, would change the recommendation."""
    choices = {q.field: q.choices for q in QUESTIONS}
    lines = []
    for name in assumed:
        flips = []
        for label, value in choices.get(name, ()):
            if value == answers[name]:
                continue
            other, _, _ = decide({**answers, name: value})
            if other != approach:
                flips.append(f"'{label}' would make it {other}")
        if flips:
            lines.append(f"Unknown '{name}' (assumed {answers[name]!r}): " + "; ".join(flips) + ".")
    return lines


def recommend(profile: TaskProfile, baseline: dict | None = None) -> Recommendation:
    """baseline: the result of tools.advisor.baseline.run_baseline, when a measurement was made."""
    answers, assumed = fill_assumptions(profile)
    answers["baseline_quality"] = baseline["verdict"] if baseline else "unmeasured"
    approach, scores, fired_ids = decide(answers)
    by_id = {rule.id: rule for rule in RULES}
    fired = [by_id[i] for i in fired_ids]
    reasons = [f"{r.reason} ({_answer_text(r, answers, assumed)})" for r in fired]
    if approach == "icl":
        reasons.append("Nothing calls for retrieval or training yet: start simple with prompting, the cheapest "
                       "option (Meta's cost ladder: ICL < RAG < PEFT < full fine-tuning).")
    if "fine-tune" in approach:
        reasons.append("Parameter-efficient fine-tuning (QLoRA: LoRA on a 4-bit base) trains 1-6% of the weights on "
                       "one GPU; full fine-tuning costs far more and risks catastrophic forgetting.")
    reasons += _sensitivity(answers, assumed, approach)
    warnings = _warnings(profile, answers, approach)
    return Recommendation(
        approach=approach, reasons=reasons, warnings=warnings, next_steps=list(NEXT_STEPS[approach]),
        assumed=assumed, scores=scores, fired_rules=fired_ids, sources=sorted({r.source for r in fired}),
    )


def _answer_text(rule, answers: dict[str, Any], assumed: dict[str, dict[str, Any]]) -> str:
    parts = []
    for name in rule.when:
        tag = " (assumed)" if name in assumed else ""
        parts.append(f"{name}={answers[name]!r}{tag}")
    return "because " + ", ".join(parts)


def _warnings(profile: TaskProfile, answers: dict[str, Any], approach: str) -> list[str]:
    warnings = []
    wants_ft = profile.preferred_approach in ("fine-tune", "rag+fine-tune")
    if answers["requires_external_knowledge"] and (wants_ft or "fine-tune" in approach):
        warnings.append("Knowledge-injection trap: fine-tuning teaches behaviour and format, not reliable facts. "
                        "Serve the facts through retrieval; fine-tune only for how answers look and sound.")
    if profile.preferred_approach and profile.preferred_approach != approach:
        warnings.append(f"You had {profile.preferred_approach} in mind; the answers point to {approach}. "
                        "The reasons above say which answers drove that.")
    if "fine-tune" in approach and answers["labeled_data"] in ("none", "few"):
        warnings.append("Few or no examples yet: plan 50-100 good examples at least (Tunesmith can draft them from "
                        "20-50 seeds for you to review). Quality beats quantity.")
    if "rag" in approach and answers["cost_complexity_expertise.search_expertise"] is False:
        warnings.append("No search-system experience assumed: start with Tunesmith's built-in index and check "
                        "retrieval hits by hand before trusting answers.")
    if answers["cost_complexity_expertise.budget"] == "low" and "fine-tune" in approach:
        warnings.append("Low budget: QLoRA on a 0.5B-3B model fits a single consumer GPU; try ICL first to see "
                        "whether fine-tuning is needed at all.")
    warnings.append(NOT_FOR_SMALL_TEAMS)
    return warnings


def render_report(rec: Recommendation) -> str:
    """A readable plain-text report for the terminal."""
    lines = [f"Recommendation: {APPROACH_TITLES[rec.approach]} [{rec.approach}]", "", "Why:"]
    lines += [f"  - {r}" for r in rec.reasons]
    if rec.warnings:
        lines += ["", "Watch out:"] + [f"  ! {w}" for w in rec.warnings]
    lines += ["", "Next steps:"] + [f"  {i}. {s}" for i, s in enumerate(rec.next_steps, 1)]
    if rec.assumed:
        lines += ["", "Assumed (you did not say):"]
        lines += [f"  - {k} = {v['value']!r}: {v['why']}" for k, v in rec.assumed.items()]
    if rec.sources:
        lines += ["", "Sources: " + ", ".join(rec.sources)]
    return "\n".join(lines)
