"""The closed set of things that can resume a pause, and the one parser of resume values.

Every button, quick reply and typed message becomes a Reply with one Action; the app's own events (the run
watcher) are Actions too. A pause routes each Action explicitly (see the route_from_* routers) and an unknown
one is refused, never read as a question.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError


class Action(StrEnum):
    TEXT = "text"  # words the person typed: a statement or a question
    ANSWER = "answer"  # a quick-choice answer to the pending profile question (field, value)
    SKIP = "skip"  # "Don't know" to the pending question
    RECOMMEND = "recommend"
    START_PATH = "start_path"
    START_FINETUNE = "start_finetune"  # the hybrid's second half
    GENERATE = "generate"  # draft the next batch of samples
    SUBMIT = "submit"  # close the batch under review
    BUILD_DATASET = "build_dataset"
    IMPROVE = "improve"  # the next batch from the last evaluation's failing cases (a new round)
    PREPARE_TRAINING = "prepare_training"  # "Check and propose" with the settings in `config`
    APPROVE = "approve"  # "Start training"
    REVISE = "revise"  # "Change settings"
    BASELINE = "baseline"  # a zero-shot vs few-shot measurement in `baseline`
    RESUME_RUN = "resume_run"
    CANCEL_RUN = "cancel_run"
    RUN_ENDED = "run_ended"  # the app: the watcher saw the training run stop (done, failed, died, cancelled)
    EVALUATED = "evaluated"  # the app: the evaluation subprocess ended


# Sent by the app itself, never by a person: shown as system events, not in the person's name.
APP_ACTIONS = frozenset({Action.RUN_ENDED, Action.EVALUATED})


# Typed words that are a command, not a question: the whole message (case, spaces and end punctuation aside)
# must be one of these, so "how do I improve the model?" stays a question.
TYPED_COMMANDS = {Action.IMPROVE: ("improve", "improve it", "improve the model", "improve my model",
                                   "improve the tuned model", "improve the model from its mistakes", "next round",
                                   "start the next round")}


def typed_command(text: str) -> Action | None:
    """The command a typed message is, when the whole message is one of TYPED_COMMANDS' phrasings."""
    words = " ".join(text.lower().split()).strip(" .!")
    return next((action for action, phrases in TYPED_COMMANDS.items() if words in phrases), None)


class Reply(BaseModel):
    """What resumes a pause. `tab` names the tab whose button sent it (None: the chat)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    text: str = ""
    field: str | None = None
    value: Any = None
    config: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    tab: str | None = None

    @property
    def by_app(self) -> bool:
        return self.action in APP_ACTIONS


def parse_reply(raw: Any) -> Reply:
    """A resume value as a Reply; a bare {"text"} is typed text (or the command it words, see TYPED_COMMANDS),
    a bare {"field", "value"} a quick answer.

    Anything else (unknown action, unknown key, wrong type) raises ValueError: a bug in the caller, not a question.
    """
    if isinstance(raw, Reply):
        return raw
    if not isinstance(raw, dict) or not ("action" in raw or "field" in raw or isinstance(raw.get("text"), str)):
        raise ValueError(f"resume value must be a dict with an 'action' or a 'text' string, got {raw!r}")
    if "action" not in raw:
        raw = {**raw, "action": Action.ANSWER if "field" in raw else typed_command(raw["text"]) or Action.TEXT}
    try:
        reply = Reply.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"resume value {raw!r} is not a known reply: {exc.errors()[0]['msg']}") from None
    if reply.action is Action.ANSWER and reply.field is None:
        raise ValueError(f"resume value {raw!r}: an answer needs a 'field' and a 'value'")
    return reply


def transcript_entry(reply: Reply) -> dict[str, str]:
    """How a reply appears in the conversation: the person's words as theirs, everything else as an event."""
    if reply.by_app:
        return {"role": "system", "content": reply.text}
    if reply.tab:
        return {"role": "system", "content": f"You pressed **{reply.text}** in the {reply.tab} tab."}
    return {"role": "user", "content": reply.text}


PauseName = Literal["wait_for_user", "review_batch", "approve_training"]


def received(raw: Any, pause: PauseName) -> dict[str, Any]:
    """The state update of a pause that was resumed: the reply (checked), where it came from, its transcript line."""
    reply = parse_reply(raw)
    update: dict[str, Any] = {"last_reply": reply.model_dump(mode="json"), "pause": pause, "stay": False,
                              "notice": None}
    if reply.text:
        update["messages"] = [transcript_entry(reply)]
    return update


def last_reply(state: dict[str, Any]) -> Reply:
    """The reply being handled (parsed again: conversations saved by older versions hold the legacy shapes)."""
    return parse_reply(state["last_reply"])
