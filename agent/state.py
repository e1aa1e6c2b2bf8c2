"""The conversation state: JSON-plain values only, so the SQLite checkpointer stores it as is."""
from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from agent.actions import PauseName


class ChatMessage(TypedDict):
    role: str  # "user" (the person's words) | "assistant" | "system" (something the app did)
    content: str


# How understand_reply read typed text (from any pause) or a quick answer: "step" means the words asked for a step,
# and last_reply is now that step's action.
Reading = Literal["answer", "question", "recommend", "unclear", "step"]
# Where the last training run is: training → evaluating → finished, or stopped (failed, cancelled, died).
RunPhase = Literal["training", "evaluating", "finished", "stopped"]


class AgentState(TypedDict, total=False):
    messages: Annotated[list[ChatMessage], operator.add]  # append-only transcript
    profile: dict[str, Any]  # TaskProfile fields given so far (unknowns left out)
    asked: list[str]  # profile fields already asked or skipped, so they are not asked again
    pending_fields: list[str]  # fields the last question asked about
    last_reply: dict[str, Any]  # the last Reply (agent.actions), as a plain dict
    pause: PauseName  # the pause the last reply came from: where answers, refusals and events return to
    reading: Reading  # how understand_reply read the last typed text or answer
    stay: bool  # the last action changed nothing (refused or a side note): go back to the pause it came from
    recommendation: dict[str, Any] | None
    baseline: dict[str, Any] | None  # zero-shot vs few-shot measurement (tools.advisor.baseline), when made
    stage: str  # where the journey is: interview | recommended | seeds | rag | icl | review | dataset | training | done
    review_batch_id: int | None  # the batch the review pause is waiting on
    target_reached: bool  # the last submitted batch brought the accepted samples to the project's target
    dataset_dir: str | None  # the last built dataset
    training_plan: dict[str, Any] | None  # proposed config + preflight (ok or not), awaiting approval
    run_dir: str | None  # the training run in progress or last finished
    run_phase: RunPhase | None
    evaluation: dict[str, Any] | None  # base vs tuned on the eval split
    # a round in the making after "Improve": the run it continues, the rows it was scored on, the person's
    # training choices, the batch drafted from its mistakes, and its step: drafting → reviewed → built (then the
    # proposal takes it and clears it)
    improvement: dict[str, Any] | None
    notice: str | None  # a plain-words problem to show (e.g. the LLM endpoint failed); state is kept


def say(text: str) -> ChatMessage:
    """An assistant turn for the transcript."""
    return {"role": "assistant", "content": text}


def event(text: str) -> ChatMessage:
    """Something the app did or saw (a run finished, an evaluation ended), shown as such."""
    return {"role": "system", "content": text}
