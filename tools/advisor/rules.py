"""The decision rules as one readable table: condition → which approach it favours, how strongly, why, source.

A rule fires when every field in `when` has one of the listed values (after assumptions are filled in).
Scores per need: "rag" (retrieval) and "fine-tune"; a need counts when its score reaches NEED_THRESHOLD.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

META_ADAPT = "https://ai.meta.com/blog/adapting-large-language-models-llms/"
META_WHEN = "https://ai.meta.com/blog/when-to-fine-tune-llms-vs-other-techniques/"
META_DATA = "https://ai.meta.com/blog/how-to-fine-tune-llms-peft-dataset-curation/"
OPENAI_FT = "https://platform.openai.com/docs/guides/fine-tuning"
QLORA = "https://arxiv.org/abs/2305.14314"

NEED_THRESHOLD = 2


@dataclass(frozen=True)
class Rule:
    id: str
    when: dict[str, tuple[Any, ...]]
    favours: str  # "rag" or "fine-tune"
    weight: int  # negative weights argue against that need
    reason: str
    source: str


RULES: tuple[Rule, ...] = (
    Rule("external-knowledge", {"requires_external_knowledge": (True,)}, "rag", 3,
         "It needs external knowledge: retrieval supplies facts at query time; fine-tuning is a poor way to add "
         "new knowledge.", META_WHEN),
    Rule("dynamic-data", {"data_dynamics": ("dynamic",)}, "rag", 2,
         "The knowledge changes often: a fine-tuned model goes stale, a retrieval index is simply updated.",
         META_WHEN),
    Rule("low-hallucination-tolerance", {"hallucination_tolerance": ("low",)}, "rag", 1,
         "Made-up answers are costly: grounding answers in retrieved passages suppresses hallucinations.",
         META_WHEN),
    Rule("transparency", {"transparency_required": (True,)}, "rag", 2,
         "Answers must be traceable: RAG can cite the passages each answer came from.", META_WHEN),
    Rule("custom-style", {"custom_tone_behavior_style": (True,)}, "fine-tune", 3,
         "It needs a custom tone, behaviour or strict format: that is what fine-tuning does best.", META_WHEN),
    Rule("scale-latency", {"scale_latency_pressure": ("high",)}, "fine-tune", 1,
         "Cost and latency per call matter: long few-shot prompts cost tokens on every call, a tuned small model "
         "does not.", META_WHEN),
    Rule("narrow-at-scale", {"scale_latency_pressure": ("high",), "task_diversity": ("narrow",)}, "fine-tune", 1,
         "A narrow task at high volume: distilling it into a small tuned model cuts cost and latency.", META_WHEN),
    Rule("enough-examples", {"labeled_data": ("hundreds", "thousands"), "task_diversity": ("narrow", "moderate")},
         "fine-tune", 1,
         "There are hundreds of labelled examples for a focused task: enough to teach edge cases that prompting "
         "misses.", META_DATA),
    Rule("broad-tasks", {"task_diversity": ("broad",)}, "fine-tune", -2,
         "The tasks are very broad: a strong general model with good prompts covers them; fine-tuning narrows a "
         "model.", META_WHEN),
    Rule("no-examples", {"labeled_data": ("none",)}, "fine-tune", -1,
         "There are no worked examples yet: start with prompting, and build examples as you go.", OPENAI_FT),
    Rule("baseline-good", {"baseline_quality": ("good",)}, "fine-tune", -3,
         "Measured: few-shot prompting already scores well on your held-out examples, so stop at ICL.", META_WHEN),
    Rule("baseline-poor", {"baseline_quality": ("poor",), "task_diversity": ("narrow", "moderate")}, "fine-tune", 2,
         "Measured: prompting scores poorly on your held-out examples; starting under ~50%, a few hundred good "
         "examples usually give a large gain.", META_WHEN),
    Rule("low-budget-no-experience",
         {"cost_complexity_expertise.budget": ("low",), "cost_complexity_expertise.finetuning_experience": (False,)},
         "fine-tune", -1,
         "A low budget and no fine-tuning experience: exhaust cheaper options first.", META_ADAPT),
)

# What is cheapest first (Meta's cost ladder); pre-training steps are named only to rule them out.
COST_LADDER = ("icl", "rag", "fine-tune (PEFT)", "full fine-tuning", "continued pre-training", "pre-training")
NOT_FOR_SMALL_TEAMS = (
    "Pre-training and continued pre-training are not options for a small team: they take 10^5 to 10^7 GPU hours "
    "and large curated corpora (Meta, 'Adapting LLMs')."
)


def rule_fires(rule: Rule, answers: dict[str, Any]) -> bool:
    return all(answers.get(field) in values for field, values in rule.when.items())
