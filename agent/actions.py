"""The closed set of things that can resume a pause, and the one parser of resume values.

Every button, quick reply and typed message becomes a Reply with one Action; the app's own events (the run
watcher) are Actions too. A pause routes each Action explicitly (see the route_from_* routers) and an unknown
one is refused, never read as a question.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
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
    EVALUATE = "evaluate"  # the last run's evaluation: its report again, or where it stands
    TRY = "try"  # the tuned model on the input in `value` (none: where to type one)
    EXPORT = "export"  # the last run's adapter with serving files (`value` "merged": merged weights too)


# Sent by the app itself, never by a person: shown as system events, not in the person's name.
APP_ACTIONS = frozenset({Action.RUN_ENDED, Action.EVALUATED})


# --- typed words that ask for a step ---------------------------------------------------------------------------
# A message is a command only when all of it (politeness and fillers aside) is one of these phrasings, so
# "how do I build a dataset?" stays a question. With an LLM, other wordings reach the same actions through the
# extraction schema (agent/schemas.py); these work without one.
_DET = r"(?:(?:the|a|an|another|one|more|next|new|my|this|that|our|some|its|first|second|current|tuned|last|" \
       r"fine-?tuned|trained)\s+)*"
_MODEL = rf"(?:{_DET}(?:model|run|adapter|training run|it))"
PATH_NAMES = {"rag": "rag", "retrieval": "rag", "retrieval-augmented generation": "rag", "icl": "icl",
              "prompting": "icl", "few-shot prompting": "icl", "a few-shot prompt": "icl",
              "in-context learning": "icl", "fine-tuning": "fine-tune", "finetuning": "fine-tune",
              "fine-tune": "fine-tune", "fine tuning": "fine-tune"}
_PATH = "(?P<value>" + "|".join(sorted((re.escape(n) for n in PATH_NAMES), key=len, reverse=True)) + ")"
_LEADING = re.compile(r"^(?:please|pls|ok|okay|so|now|then|and|yes|great|thanks|good|cool|alright|right|"
                      r"go ahead and|can you|could you|would you|will you|i want to|i'd like to|i would like to|"
                      r"let's|lets|let us|let me|i'll|kindly|just)[\s,]+")
_TRAILING = re.compile(r"[\s,]+(?:please|now|for me|then|thanks|thank you|again|too|as well)$")
_POLITE_ASK = re.compile(r"^(?:please\s+)?(?:can|could|would|will) you\b")
_TRY_INPUT = re.compile(r"^\s*(?:please\s+)?(?:let me\s+)?try(?:\s+(?:it|the model|the tuned model))?"
                        r"(?:\s+(?:on|with))?\s*:\s*(?P<value>\S.*)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class TypedCommand:
    action: Action
    say: str  # how the reply "what I can do from here" words it
    patterns: tuple[str, ...]  # regexes one of which the whole normalised message must match


TYPED_COMMANDS = (
    TypedCommand(Action.RECOMMEND, "recommend now", (r"recommend(?: now)?", rf"(?:give|show) me {_DET}recommendation",
                                                     rf"(?:make|give) {_DET}recommendation")),
    TypedCommand(Action.START_PATH, "start this path", (
        rf"(?:start|begin|take|follow|go with|go down|start on) {_DET}(?:path|recommended path|recommendation|"
        r"approach)",)),
    TypedCommand(Action.START_FINETUNE, "continue to fine-tuning", (
        r"(?:continue|go on|move on|carry on|proceed) (?:to|with) (?:the )?fine-?tuning(?: part| half)?",)),
    TypedCommand(Action.START_PATH, "switch to RAG / prompting / fine-tuning", (
        rf"(?:switch|change|move|go|go over|change over|switch over) to {_DET}{_PATH}(?: instead| path)?",
        rf"(?:use|do|go with|choose|pick|try) {_DET}{_PATH} instead",)),
    TypedCommand(Action.GENERATE, "generate a batch", (
        rf"(?:generate|draft|make|create|write|produce|get|give me|start|do) {_DET}(?:batch|batches|samples|"
        r"examples|training samples|batch of samples)(?: of samples)?",
        rf"{_DET}(?:batch|batches|samples)", r"more batches")),
    TypedCommand(Action.SUBMIT, "submit the batch", (rf"(?:submit|send|close|finish) {_DET}(?:batch|review)",)),
    TypedCommand(Action.BUILD_DATASET, "build the dataset", (
        rf"(?:build|make|create|assemble|generate) {_DET}(?:training )?(?:dataset|data set|data)(?: version)?",)),
    TypedCommand(Action.PREPARE_TRAINING, "check and propose training", (
        rf"(?:check and propose|propose|prepare|plan|set up)(?: {_DET}(?:training|training run|run|plan|"
        r"training plan|fine-?tun(?:e|ing)))?",)),
    TypedCommand(Action.APPROVE, "start training", (
        rf"(?:start|begin|launch|kick off|run) {_DET}(?:training|training run|run|train)",
        rf"train {_DET}(?:model|it)", r"approve(?: the plan| it)?", r"go ahead(?: and train)?")),
    TypedCommand(Action.REVISE, "change settings", (rf"(?:change|edit|revise) {_DET}(?:settings|plan)",)),
    TypedCommand(Action.CANCEL_RUN, "stop the run", (rf"(?:stop|cancel|abort|halt|kill) (?:{_MODEL}|training)",
                                                     r"stop|cancel")),
    TypedCommand(Action.RESUME_RUN, "resume the run", (rf"(?:resume|restart) (?:{_MODEL}|training)",
                                                       r"continue training|resume")),
    TypedCommand(Action.EVALUATE, "evaluate it", (
        rf"(?:evaluate|score|test|assess)(?: {_MODEL})?", rf"(?:show|give) me {_DET}(?:evaluation|results|report)",
        rf"run {_DET}evaluation")),
    TypedCommand(Action.IMPROVE, "improve the model", (
        rf"improve(?: {_MODEL})?(?: from its mistakes)?", r"(?:start )?(?:the |a |another )?next round",
        r"another round")),
    TypedCommand(Action.TRY, "try: <your input>", (rf"(?:try|try out|chat with|play with|talk to) {_MODEL}",)),
    TypedCommand(Action.EXPORT, "export the model", (
        rf"(?:export|save|package) (?:{_DET}(?P<value>merged) )?(?:{_MODEL}|weights)(?: merged)?",)),
)


def _normalised(text: str) -> str | None:
    """The message as a command would be worded: lower case, no politeness or fillers; None for a question."""
    words = " ".join(text.lower().replace("\u2019", "'").split()).strip(" .!")
    if words.endswith("?"):
        if not _POLITE_ASK.match(words):  # "can you build the dataset?" asks for a step; "how do I...?" does not
            return None
        words = words.rstrip(" ?")
    previous = None
    while words != previous:
        previous = words
        words = _TRAILING.sub("", _LEADING.sub("", words)).strip(" .!,")
    return words


def typed_command(text: str) -> dict[str, Any] | None:
    """The reply a typed message asks for ({"action", "value"}), when all of it words a step; else None."""
    if found := _TRY_INPUT.match(text):
        return {"action": Action.TRY, "value": found["value"].strip()}
    words = _normalised(text)
    if not words:
        return None
    for command in TYPED_COMMANDS:
        for pattern in command.patterns:
            if found := re.fullmatch(pattern, words):
                value = found.groupdict().get("value")
                if command.action is Action.START_PATH and value:
                    value = PATH_NAMES[value]
                return {"action": command.action, "value": value}
    return None


def say_command(action: Action) -> str:
    """What to type for an action, as the replies word it."""
    return next(command.say for command in TYPED_COMMANDS if command.action is action)


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
    """A resume value as a Reply; a bare {"text"} is typed text (or the command it words: agent/typed_commands.py),
    a bare {"field", "value"} a quick answer.

    Anything else (unknown action, unknown key, wrong type) raises ValueError: a bug in the caller, not a question.
    """
    if isinstance(raw, Reply):
        return raw
    if not isinstance(raw, dict) or not ("action" in raw or "field" in raw or isinstance(raw.get("text"), str)):
        raise ValueError(f"resume value must be a dict with an 'action' or a 'text' string, got {raw!r}")
    if "action" not in raw:
        raw = {**raw, **({"action": Action.ANSWER} if "field" in raw else
                         typed_command(raw["text"]) or {"action": Action.TEXT})}
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
