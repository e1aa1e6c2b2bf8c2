"""The conversation state: JSON-plain values only, so the SQLite checkpointer stores it as is."""
from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class ChatMessage(TypedDict):
    role: str  # "user" | "assistant"
    content: str


class AgentState(TypedDict, total=False):
    messages: Annotated[list[ChatMessage], operator.add]  # append-only transcript
    profile: dict[str, Any]  # TaskProfile fields given so far (unknowns left out)
    asked: list[str]  # profile fields already asked or skipped, so they are not asked again
    pending_fields: list[str]  # fields the last question asked about
    last_reply: dict[str, Any]  # the resume value of the last interrupt
    reply_kind: str  # how understand_reply classified it: answer | question | recommend | start_path | unclear
    recommendation: dict[str, Any] | None
    baseline: dict[str, Any] | None  # zero-shot vs few-shot measurement (tools.advisor.baseline), when made
    stage: str  # where the journey is: interview | recommended | seeds | review | dataset | training | done
    review_batch_id: int | None  # the batch the review pause is waiting on
    dataset_dir: str | None  # the last built dataset
    training_plan: dict[str, Any] | None  # proposed config + preflight, awaiting approval
    run_dir: str | None  # the training run in progress or last finished
    evaluation: dict[str, Any] | None  # base vs tuned on the eval split
    notice: str | None  # a plain-words problem to show (e.g. the LLM endpoint failed); state is kept


def say(text: str) -> ChatMessage:
    """An assistant turn for the transcript."""
    return {"role": "assistant", "content": text}


def checked_resume(reply: Any) -> dict[str, Any]:
    """Every pause is resumed with a dict carrying the person's words in 'text'; anything else is a bug."""
    if not isinstance(reply, dict) or not isinstance(reply.get("text"), str):
        raise ValueError(f"resume value must be a dict with a 'text' string, got {reply!r}")
    return reply
