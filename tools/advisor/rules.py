"""The decision rules as one readable table: condition → which approach it favours, how strongly, why, source.

A rule fires when every field in `when` has one of the listed values (after assumptions are filled in).
Scores per need: "rag" (retrieval) and "fine-tune"; a need counts when its score reaches NEED_THRESHOLD.
Rows that favour "icl" carry no points: they explain why prompting fits where another approach might seem to.
Each `why` completes a sentence that starts with the person's answers ("You said ...: <why>").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

META_ADAPT = "https://ai.meta.com/blog/adapting-large-language-models-llms/"
META_WHEN = "https://ai.meta.com/blog/when-to-fine-tune-llms-vs-other-techniques/"
META_DATA = "https://ai.meta.com/blog/how-to-fine-tune-llms-peft-dataset-curation/"
OPENAI_FT = "https://platform.openai.com/docs/guides/fine-tuning"
AZURE_FT = "https://learn.microsoft.com/en-us/azure/ai-studio/concepts/fine-tuning-overview"
CHAIN_OF_THOUGHT = "https://arxiv.org/abs/2201.11903"
FORM_NOT_FACTS = "https://www.anyscale.com/blog/fine-tuning-is-for-form-not-facts"
QLORA = "https://arxiv.org/abs/2305.14314"

NEED_THRESHOLD = 2
# Where fine-tuning starts to pay for a style or format need (said in the advice, used by the rules below).
FINE_TUNE_PAYS = ("fine-tuning pays off once you have tens to hundreds of good examples, or when the volume makes "
                  "long prompts costly")


@dataclass(frozen=True)
class Rule:
    id: str
    when: dict[str, tuple[Any, ...]]
    favours: str  # "rag" or "fine-tune" (scored), or "icl" (an explanation, no points)
    weight: int  # negative weights argue against that need
    why: str
    source: str


RULES: tuple[Rule, ...] = (
    Rule("external-knowledge", {"requires_external_knowledge": (True,)}, "rag", 3,
         "retrieval hands the model those facts at query time, while fine-tuning is a poor way to add knowledge.",
         META_WHEN),
    Rule("dynamic-data", {"requires_external_knowledge": (True,), "data_dynamics": ("dynamic",)}, "rag", 2,
         "a fine-tuned model would go stale, while a retrieval index is simply updated.", META_WHEN),
    Rule("low-hallucination-tolerance", {"requires_external_knowledge": (True,), "hallucination_tolerance": ("low",)},
         "rag", 1, "grounding each answer in retrieved passages keeps it from being made up.", META_WHEN),
    Rule("transparency", {"requires_external_knowledge": (True,), "transparency_required": (True,)}, "rag", 2,
         "retrieval lets each answer cite the passage it came from.", META_WHEN),
    Rule("transparency-without-source", {"requires_external_knowledge": (False,), "transparency_required": (True,)},
         "icl", 0,
         "with no documents to retrieve, RAG would have nothing to cite; ask the model to show its reasoning step by "
         "step in the answer, with worked examples in the prompt.", CHAIN_OF_THOUGHT),
    Rule("low-tolerance-without-source", {"requires_external_knowledge": (False,), "hallucination_tolerance": ("low",)},
         "icl", 0,
         "with no knowledge source, retrieval has nothing to ground answers in; use worked examples, let the model "
         "say when it is unsure, and check it on examples you held back.", META_WHEN),
    Rule("custom-style", {"custom_tone_behavior_style": (True,)}, "fine-tune", 3,
         "a custom tone, behaviour or strict format is what fine-tuning teaches best.", META_WHEN),
    Rule("style-few-examples",
         {"custom_tone_behavior_style": (True,), "labeled_data": ("none", "few"),
          "scale_latency_pressure": ("low", "medium")}, "fine-tune", -2,
         f"a few demonstrations in the prompt usually fix a tone or format, so start there and measure; "
         f"{FINE_TUNE_PAYS}.", OPENAI_FT),
    Rule("scale-latency", {"scale_latency_pressure": ("high",)}, "fine-tune", 1,
         "long few-shot prompts cost tokens and time on every call, a tuned small model does not.", META_WHEN),
    Rule("narrow-at-scale", {"scale_latency_pressure": ("high",), "task_diversity": ("narrow",)}, "fine-tune", 1,
         "distilling one narrow task into a small tuned model cuts cost and latency.", META_WHEN),
    Rule("enough-examples", {"labeled_data": ("hundreds",), "task_diversity": ("narrow", "moderate")},
         "fine-tune", 1,
         "hundreds of examples for a focused task are enough to teach edge cases that prompting misses.", META_DATA),
    Rule("many-examples", {"labeled_data": ("thousands",), "task_diversity": ("narrow", "moderate")},
         "fine-tune", 2,
         "thousands of examples for a focused task are enough to train a model that beats prompting on it.",
         AZURE_FT),
    Rule("broad-tasks", {"task_diversity": ("broad",)}, "fine-tune", -2,
         "a strong general model with good prompts covers broad tasks, and fine-tuning narrows a model.", META_WHEN),
    Rule("no-examples", {"labeled_data": ("none",)}, "fine-tune", -1,
         "there is nothing to train on yet: start with prompting and collect examples as you go.", OPENAI_FT),
    Rule("baseline-good", {"baseline_quality": ("good",)}, "fine-tune", -3,
         "prompting is already good enough, so stop at ICL.", META_WHEN),
    Rule("baseline-poor", {"baseline_quality": ("poor",), "task_diversity": ("narrow", "moderate")}, "fine-tune", 2,
         "starting under ~50%, a few hundred good examples usually give a large gain.", META_WHEN),
    Rule("low-budget-no-experience",
         {"cost_complexity_expertise.budget": ("low",), "cost_complexity_expertise.finetuning_experience": (False,)},
         "fine-tune", -1, "exhaust the cheaper options first.", META_ADAPT),
)


@dataclass(frozen=True)
class Caution:
    """A warning shown with the advice; tools.advisor.recommend decides when each applies."""

    id: str
    text: str
    source: str


# The knowledge-injection trap, worded for the case at hand (tools.advisor.recommend picks the row).
TRAP_FACTS_BY_TRAINING = Caution(
    "knowledge-injection-trap",
    "Knowledge-injection trap: fine-tuning teaches behaviour and format, not reliable facts. Serve the facts through "
    "retrieval; fine-tune only for how answers look and sound.", FORM_NOT_FACTS)
TRAP_KEEP_FACTS_IN_INDEX = Caution(
    "knowledge-injection-trap",
    "Knowledge-injection trap: don't try to teach the model your documents by fine-tuning; it picks up their style, "
    "not reliable facts, and what it learned goes stale. Keep the facts in the retrieval index.", FORM_NOT_FACTS)
TRAP_FORM_NOT_FACTS = Caution(
    "knowledge-injection-trap",
    "Knowledge-injection trap: fine-tuning teaches form, not facts. If the task later needs your own facts, add "
    "retrieval rather than training them in.", FORM_NOT_FACTS)

# What is cheapest first (Meta's cost ladder); pre-training steps are named only to rule them out.
COST_LADDER = ("icl", "rag", "fine-tune (PEFT)", "full fine-tuning", "continued pre-training", "pre-training")
NOT_FOR_SMALL_TEAMS = (
    "Pre-training and continued pre-training are not options for a small team: they take 10^5 to 10^7 GPU hours "
    "and large curated corpora (Meta, 'Adapting LLMs')."
)


def rule_fires(rule: Rule, answers: dict[str, Any]) -> bool:
    return all(answers.get(field) in values for field, values in rule.when.items())


def supports(rule: Rule, approach: str) -> bool:
    """Whether a fired rule argues for `approach` (so its reason belongs with that advice)."""
    if rule.favours == "icl":
        return approach == "icl"
    if rule.weight > 0:
        return rule.favours in approach
    return rule.favours not in approach
