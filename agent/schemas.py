"""Pydantic models of what the LLM returns and of interrupt payloads."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# The steps a person can ask for in words (agent.actions Action values; a test keeps the two sets equal).
RequestedStep = Literal["recommend", "start_path", "start_finetune", "generate", "submit", "build_dataset",
                        "prepare_training", "approve", "revise", "cancel_run", "resume_run", "evaluate", "improve",
                        "try", "export"]


class ProfileExtraction(BaseModel):
    """What one user message says: answers about the task profile (fields stay null unless the message implies
    them), a question, or a step of the journey it asks for."""

    requires_external_knowledge: bool | None = Field(
        None, description="needs facts/documents beyond general knowledge")
    custom_tone_behavior_style: bool | None = Field(None, description="needs a custom tone, behaviour or strict format")
    hallucination_tolerance: Literal["low", "medium", "high"] | None = None
    labeled_data: Literal["none", "few", "hundreds", "thousands"] | None = Field(
        None, description="worked examples available: none, few (<100), hundreds, thousands")
    data_dynamics: Literal["static", "dynamic", "n/a"] | None = Field(
        None, description="how often the knowledge changes")
    transparency_required: bool | None = Field(None, description="answers must cite sources")
    budget: Literal["low", "medium", "high"] | None = None
    search_expertise: bool | None = None
    finetuning_experience: bool | None = None
    task_diversity: Literal["narrow", "moderate", "broad"] | None = None
    scale_latency_pressure: Literal["low", "medium", "high"] | None = None
    preferred_approach: Literal["icl", "rag", "fine-tune", "rag+fine-tune"] | None = Field(
        None, description="the approach the user says they want, if they say one")
    user_question: str | None = Field(None, description="a question the user asked the assistant, verbatim, if any")
    wants_recommendation_now: bool = Field(False, description="the user asks for the recommendation now")
    requested_step: RequestedStep | None = Field(
        None, description="the step the user asks you to do now, if the message asks for one: recommend, start_path "
        "(start the recommended path), start_finetune (continue from RAG to fine-tuning), generate (draft a batch of "
        "samples), submit (submit the batch under review), build_dataset, prepare_training (check and propose a "
        "training run), approve (start the proposed training), revise (change the training settings), cancel_run "
        "(stop training), resume_run, evaluate (evaluate or show the evaluation), improve (the next round from the "
        "model's mistakes), try (try the tuned model), export (export the model); null for a question about how to "
        "do something")
    requested_path: Literal["icl", "rag", "fine-tune"] | None = Field(
        None, description="with start_path: the approach the user wants to switch to, if they name one")
    step_input: str | None = Field(None, description="with try: the input to try the model on, verbatim")

    def profile_fields(self) -> dict:
        """Flattened profile answers (cost/expertise fields nested under cost_complexity_expertise)."""
        data = self.model_dump(exclude={"user_question", "wants_recommendation_now", "requested_step",
                                        "requested_path", "step_input"})
        nested = {"budget", "search_expertise", "finetuning_experience"}
        flat = {k: v for k, v in data.items() if v is not None and k not in nested}
        flat.update({f"cost_complexity_expertise.{k}": data[k] for k in nested if data[k] is not None})
        return flat


class QuickReply(BaseModel):
    label: str
    reply: dict


class ChatPause(BaseModel):
    """Interrupt payload: the app shows quick replies and waits for the person's next message."""

    kind: Literal["chat"] = "chat"
    stage: str
    quick_replies: list[QuickReply] = []
