"""Pydantic models of what the LLM returns and of interrupt payloads."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ProfileExtraction(BaseModel):
    """What one user message says about the task profile; fields stay null unless the message implies them."""

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

    def profile_fields(self) -> dict:
        """Flattened profile answers (cost/expertise fields nested under cost_complexity_expertise)."""
        data = self.model_dump(exclude={"user_question", "wants_recommendation_now"})
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
