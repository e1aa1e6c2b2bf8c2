"""Each profile answer as a clause about the person's task, so advice reads as sentences, not as field names.

A clause fits after "You said", "I assumed" and "If": "you said *the knowledge changes often (weekly or faster)*".
"""
from __future__ import annotations

from typing import Any

CLAUSES: dict[tuple[str, Any], str] = {
    ("requires_external_knowledge", True): "the answers need knowledge the model can't have learned (your documents, "
                                           "products or internal facts)",
    ("requires_external_knowledge", False): "the task needs no knowledge beyond what a general model already has",
    ("data_dynamics", "static"): "that knowledge rarely changes",
    ("data_dynamics", "dynamic"): "that knowledge changes often (weekly or faster)",
    ("data_dynamics", "n/a"): "there is no such knowledge to keep current",
    ("custom_tone_behavior_style", True): "answers must follow a custom tone, vocabulary, behaviour or strict format",
    ("custom_tone_behavior_style", False): "answers need no special tone or format",
    ("hallucination_tolerance", "low"): "a made-up answer would be very costly",
    ("hallucination_tolerance", "medium"): "a made-up answer would be somewhat costly",
    ("hallucination_tolerance", "high"): "a made-up answer would be harmless",
    ("transparency_required", True): "answers must show where they come from",
    ("transparency_required", False): "answers need not cite sources",
    ("labeled_data", "none"): "you have no worked examples yet",
    ("labeled_data", "few"): "you have only a few worked examples (under 100)",
    ("labeled_data", "hundreds"): "you have hundreds of worked examples",
    ("labeled_data", "thousands"): "you have thousands of worked examples",
    ("task_diversity", "narrow"): "the model does one narrow task",
    ("task_diversity", "moderate"): "the model does a few related tasks",
    ("task_diversity", "broad"): "the tasks are very broad",
    ("scale_latency_pressure", "low"): "cost per call and latency matter little (low volume)",
    ("scale_latency_pressure", "medium"): "cost per call and latency matter somewhat",
    ("scale_latency_pressure", "high"): "cost per call and latency matter a lot (high volume or real time)",
    ("cost_complexity_expertise.budget", "low"): "the budget is low",
    ("cost_complexity_expertise.budget", "medium"): "the budget is medium",
    ("cost_complexity_expertise.budget", "high"): "the budget is high",
    ("cost_complexity_expertise.search_expertise", True): "your team has run a search system before",
    ("cost_complexity_expertise.search_expertise", False): "your team has not run a search system before",
    ("cost_complexity_expertise.finetuning_experience", True): "your team has fine-tuned a model before",
    ("cost_complexity_expertise.finetuning_experience", False): "your team has not fine-tuned a model before",
    ("baseline_quality", "good"): "few-shot prompting already scores well on your held-out examples",
    ("baseline_quality", "poor"): "few-shot prompting scores poorly on your held-out examples",
}


def clause(field: str, value: Any) -> str:
    return CLAUSES.get((field, value), f"{field.rsplit('.', 1)[-1].replace('_', ' ')} is {value}")


def join_clauses(parts: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def answers_sentence(fields: list[str], answers: dict[str, Any], assumed: set[str]) -> str:
    """'You said A and B, and I assumed C' (or 'I measured that ...') for the answers a rule rests on."""
    measured = [clause(f, answers[f]) for f in fields if f == "baseline_quality"]
    said = [clause(f, answers[f]) for f in fields if f not in assumed and f != "baseline_quality"]
    guessed = [clause(f, answers[f]) for f in fields if f in assumed]
    parts = [f"{lead} {join_clauses(group)}" for lead, group in
             (("I measured that", measured), ("you said", said), ("I assumed", guessed)) if group]
    sentence = ", and ".join(parts)
    return sentence[0].upper() + sentence[1:]
