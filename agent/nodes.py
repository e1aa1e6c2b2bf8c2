"""Interview nodes: one verb_noun method per node, routers named route_*.

LLM calls never sit in an interrupting node (it re-runs from its top on resume)."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from langgraph.types import interrupt

from agent.actions import Action, Reply, last_reply, received
from agent.finetune_nodes import finetune_quick_replies, quick, route_back
from agent.pause_nodes import options_here
from agent.routes import route_from_pause
from agent.schemas import ChatPause, ProfileExtraction, QuickReply
from agent.state import AgentState, say
from prompts import advisor as P
from tools.advisor.keywords import describe_hints, read_profile_hints
from tools.advisor.profile import (
    QUESTION_BY_FIELD,
    Question,
    TaskProfile,
    apply_answer,
    next_questions,
    unflatten,
)
from tools.advisor.recommend import (
    APPROACH_TITLES,
    Recommendation,
    assumption_lines,
    recommend,
    render_markdown,
)
from tools.errors import UserError
from tools.llm import SETUP_HINT, describe_llm_error
from tools.workspace import Workspace

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from tools.generation.store import ReviewStore

QUESTION_WORDS = ("what", "why", "how", "should", "can", "when", "which", "is", "do", "does", "would", "could")
YES = {"y", "yes", "yeah", "yep", "true", "sure", "correct", "right"}
NO = {"n", "no", "nope", "false", "not really"}
# Nodes whose LLM tokens are streamed to the person (the extraction node returns JSON, so it is not).
STREAMED_NODES = {"plan_questions", "explain_recommendation", "answer_free_question"}


@dataclass
class AgentDeps:
    """What the nodes need from outside; tests pass fakes."""

    chat_model: BaseChatModel | None = None
    generation_model: BaseChatModel | None = None  # drafts samples; defaults to chat_model
    store: ReviewStore | None = None  # projects, batches, review decisions, error notes (SQLite)
    workspace: Workspace | None = None  # a folder path is accepted and wrapped
    # (question, profile, chat_model) -> Markdown answer with citations
    answer_question: Callable[[str, dict | None, BaseChatModel | None], str] | None = None

    def __post_init__(self) -> None:
        if self.workspace is not None and not isinstance(self.workspace, Workspace):
            self.workspace = Workspace(self.workspace)


def _profile(state: AgentState) -> TaskProfile:
    return TaskProfile.model_validate(unflatten(state.get("profile") or {}))


def match_choice(text: str, question: Question) -> Any | None:
    """Maps a typed reply onto one of a question's choices (number, yes/no, value or label); None if unclear."""
    reply = text.strip().lower().rstrip(".!")
    if reply.isdigit() and 1 <= int(reply) <= len(question.choices):
        return question.choices[int(reply) - 1][1]
    values = [value for _, value in question.choices]
    if True in values and reply in YES:
        return True
    if False in values and reply in NO:
        return False
    for label, value in question.choices:
        if reply == str(value).lower() or reply == label.lower() or (len(reply) > 2 and reply in label.lower()):
            return value
    return None


def looks_like_question(text: str) -> bool:
    words = text.strip().lower().split()
    return text.strip().endswith("?") or (bool(words) and words[0] in QUESTION_WORDS and len(words) > 3)


class InterviewNodes:
    def __init__(self, deps: AgentDeps):
        self.deps = deps

    def _llm(self, prompt: str, state: AgentState) -> str:
        """One chat call; raises on failure (callers fall back and tell the person)."""
        reply = self.deps.chat_model.invoke([("system", P.INTERVIEWER_SYSTEM), ("human", prompt)])
        return reply.content if isinstance(reply.content, str) else str(reply.content)

    def start_conversation(self, state: AgentState) -> dict:
        if state.get("messages"):
            return {}
        intro = ("Hi, I'm Tunesmith. Tell me about the task you want an LLM to do, and I'll help you choose between "
                 "prompting (ICL), retrieval (RAG) and fine-tuning, then carry you through it.")
        if self.deps.chat_model is None:
            intro += ("\n\n_No LLM endpoint is configured, so I'll interview you with quick choices. Generating "
                      f"samples, and free text beyond plain statements ('our docs change weekly', 'about 30 "
                      f"examples'), need an endpoint: {SETUP_HINT}_")
        return {"messages": [say(intro)], "stage": "interview", "profile": {}, "asked": [], "notice": None}

    def plan_questions(self, state: AgentState) -> dict:
        pending = state.get("pending_fields") or []
        still_open = [f for f in pending if f not in (state.get("profile") or {})]
        action = last_reply(state).action if state.get("last_reply") else None
        if still_open and action is Action.ANSWER:
            return {"pending_fields": still_open}  # one of two questions answered by a button: wait for the other
        if still_open and action is Action.TEXT and len(still_open) < len(pending):
            # typed text answered one of two questions: keep the other open and say which one is left
            left = " ".join(QUESTION_BY_FIELD[f].text for f in still_open)
            return {"pending_fields": still_open, "messages": [say(f"Noted. Still open: {left}")]}
        limit = 2 if self.deps.chat_model else 1
        questions = next_questions(_profile(state), set(state.get("asked") or []), limit=limit)
        if not questions:
            return {"pending_fields": []}
        fields = [q.field for q in questions]
        update = {"pending_fields": fields, "asked": sorted(set(state.get("asked") or []) | set(fields))}
        text = " ".join(q.text for q in questions)
        if self.deps.chat_model is not None:
            try:
                text = self._llm(P.ASK_NEXT.format(profile=json.dumps(state.get("profile") or {}),
                                                   questions="\n".join(q.text for q in questions)), state)
            except Exception as exc:  # the fixed wording still works; say what failed
                update["notice"] = describe_llm_error(exc)
        update["messages"] = [say(text)]
        return update

    def wait_for_user(self, state: AgentState) -> dict:
        raw = interrupt(ChatPause(stage=state.get("stage", "interview"),
                                  quick_replies=quick_replies_for(state)).model_dump())
        return received(raw, "wait_for_user")

    def understand_reply(self, state: AgentState) -> dict:
        """Reads typed text, a quick answer or a skip into a `reading`: an answer, a question, a step asked for in
        words (the reply is then that step's action), or nothing it can map. Typed text comes here from every pause;
        the phrase table (agent.actions.typed_command) has already taken the plain wordings of a step."""
        reply = last_reply(state)
        if reply.action is Action.SKIP:
            return {"reading": "answer"}
        if reply.action is Action.ANSWER:
            update = self._apply({reply.field: reply.value}, state)
            if update["reading"] == "answer" and not in_interview(state):  # the advice stands on the same answers
                update["messages"] = [say("That is what I already had, so the advice stands. " + options_here(state))]
            return update
        if reply.action is not Action.TEXT:
            raise ValueError(f"understand_reply reads text and answers only, got {reply.action!r}")
        text = reply.text
        update: dict[str, Any] = {}
        if self.deps.chat_model is not None:
            try:
                update = self._extract_with_llm(text, state)
            except Exception as exc:
                update = {"notice": describe_llm_error(exc) + " I used the quick-choice reading instead."}
        if not update.get("reading"):
            update = {**self._understand_without_llm(text, state), **update}
        if update["reading"] == "answer" and not in_interview(state):  # a statement about the task, later on
            if update["profile"] == (state.get("profile") or {}):  # nothing new: a question, else not understood
                update["reading"] = "question" if looks_like_question(text) else "unclear"
            elif not update.get("messages"):
                update["messages"] = [say("Noted: *What I know about your task* is updated. Type **recommend now** "
                                          "to see whether the advice changes.")]
        return update

    def _extract_with_llm(self, text: str, state: AgentState) -> dict:
        extractor = self.deps.chat_model.with_structured_output(ProfileExtraction)
        pending = [QUESTION_BY_FIELD[f].text for f in state.get("pending_fields") or []]
        found: ProfileExtraction = extractor.invoke([
            ("system", P.INTERVIEWER_SYSTEM),
            ("human", P.EXTRACT_PROFILE.format(profile=json.dumps(state.get("profile") or {}),
                                               pending="\n".join(pending) or "(none)", message=text)),
        ])
        update = self._apply(found.profile_fields(), state)
        step = found.requested_step or ("recommend" if found.wants_recommendation_now else None)
        if step:
            value = found.requested_path if step == "start_path" else found.step_input if step == "try" else None
            return {**update, **as_step(Action(step), text, value)}
        if found.user_question:
            update["reading"] = "question"
        return update

    def _understand_without_llm(self, text: str, state: AgentState) -> dict:
        pending = state.get("pending_fields") or []
        if pending and state.get("pause", "wait_for_user") == "wait_for_user":
            value = match_choice(text, QUESTION_BY_FIELD[pending[0]])
            if value is not None:
                return self._apply({pending[0]: value}, state)
        if looks_like_question(text):
            return {"reading": "question"}
        hints = read_profile_hints(text)
        if hints:
            return {**self._apply({h.field: h.value for h in hints}, state), "messages": [say(describe_hints(hints))]}
        if "recommend" in text.lower():
            return as_step(Action.RECOMMEND, text)
        return {"reading": "unclear"}

    def _apply(self, fields: dict, state: AgentState) -> dict:
        """Valid answers update the profile; invalid ones are ignored (LLM output is untrusted)."""
        profile = _profile(state)
        for field, value in fields.items():
            try:
                profile = apply_answer(profile, field, value)
            except UserError:
                continue
        flat = profile.known()
        changed = flat != (state.get("profile") or {})
        reading = "recommend" if state.get("stage") == "recommended" and changed else "answer"
        return {"profile": flat, "reading": reading, "asked": sorted(set(state.get("asked") or []) | set(fields))}

    def clarify(self, state: AgentState) -> dict:
        """Words it could not map: in the interview, how to answer; later, what it can do from here."""
        if not in_interview(state):
            return {"messages": [say("I couldn't map that to a step. " + options_here(state))], "stay": True}
        if self.deps.chat_model is None:
            text = ("I couldn't match that to one of the choices. Pick a quick reply, type its number, or ask me a "
                    f"question ending with '?'. To let me understand free text, configure an LLM: {SETUP_HINT}")
        else:
            text = "Sorry, I didn't catch that. Could you say it another way, or pick one of the quick replies?"
        return {"messages": [say(text)]}

    def answer_free_question(self, state: AgentState) -> dict:
        question = last_reply(state).text
        if self.deps.answer_question is None:
            return {"messages": [say("I can't look up guidance right now (no knowledge base is loaded).")]}
        answer = self.deps.answer_question(question, state.get("profile") or None, self.deps.chat_model)
        return {"messages": [say(answer)]}

    def recommend_approach(self, state: AgentState) -> dict:
        rec = recommend(_profile(state), baseline=state.get("baseline")).to_dict()
        return {"recommendation": rec, "stage": "recommended"}

    def explain_recommendation(self, state: AgentState) -> dict:
        rec = state["recommendation"]
        update: dict[str, Any] = {}
        if self.deps.chat_model is not None:
            try:
                text = self._llm(P.EXPLAIN_RECOMMENDATION.format(
                    approach=rec["approach"], profile=json.dumps(state.get("profile") or {}),
                    reasons="\n".join(rec["reasons"]), warnings="\n".join(rec["warnings"]),
                    next_steps="\n".join(rec["next_steps"]), changes="\n".join(rec.get("changes") or []),
                    assumed="\n".join(assumption_lines(Recommendation(**rec)))), state)
                return {"messages": [say(text)]}
            except Exception as exc:
                update["notice"] = describe_llm_error(exc)
        update["messages"] = [say(render_recommendation_markdown(rec))]
        return update

    def start_path(self, state: AgentState) -> dict:
        """Moves to the first actionable step of the recommended path (RAG before fine-tuning in the hybrid), or of
        the path the person named ("switch to RAG")."""
        reply = last_reply(state)
        recommended = (state.get("recommendation") or {}).get("approach")
        approach = reply.value if reply.action is Action.START_PATH and reply.value else recommended or "icl"
        if reply.action is Action.START_FINETUNE and approach != "rag+fine-tune":
            approach = "fine-tune"  # asked for without the hybrid advice: fine-tuning on its own
        if reply.action is Action.START_FINETUNE or approach == "fine-tune":
            stage = "seeds"
        else:
            stage = "icl" if approach == "icl" else "rag"
        intro = {"icl": "let's build a few-shot prompt.", "rag": "let's set up retrieval over your documents.",
                 "seeds": "let's build your training data."}[stage]
        chosen = f" (your choice; I recommended {APPROACH_TITLES[recommended]})" if (
            recommended and approach != recommended and reply.action is Action.START_PATH) else ""
        text = f"**{APPROACH_TITLES[approach]}**{chosen}: {intro} {PATH_INSTRUCTIONS[stage]}"
        if approach == "rag+fine-tune" and stage == "rag":
            text += " When retrieval works, choose **Continue to fine-tuning**."
        return {"messages": [say(text)], "stage": stage}


PATH_INSTRUCTIONS = {
    "seeds": "Open the **Data studio** tab: describe the task, add 20-50 seed examples (upload a file or paste "
             "them) and press **Save seeds**. Then ask me for a batch: I draft 20 samples at a time for you to review.",
    "rag": "Open the **Retrieval** tab, upload your documents and press **Index**; then ask questions there and judge "
           "the passages it retrieves.",
    "icl": "Open the **Prompt** tab: add your examples and try the few-shot prompt on new inputs; copy it when it "
           "works.",
}


def render_recommendation_markdown(rec: dict) -> str:
    return render_markdown(rec, lead="My recommendation: ")


def quick_replies_for(state: AgentState) -> list[QuickReply]:
    """Choices the app shows as buttons: the pending question's answers, skip, and the way forward."""
    replies: list[QuickReply] = []
    stage = state.get("stage", "interview")
    pending = state.get("pending_fields") or []
    if stage == "interview" and pending:
        for field in pending:  # two questions asked at once get two sets, each labelled with its topic
            question = QUESTION_BY_FIELD[field]
            topic = f"{question.topic}: " if len(pending) > 1 else ""
            replies += [QuickReply(label=topic + label, reply={"text": topic + label, "action": Action.ANSWER.value,
                                                               "field": question.field, "value": value})
                        for label, value in question.choices]
        replies.append(quick("Don't know", Action.SKIP))
    if stage in ("interview", "recommended"):
        replies.append(quick("Recommend now", Action.RECOMMEND))
    if stage == "recommended":
        replies.append(quick("Start this path", Action.START_PATH))
    approach = (state.get("recommendation") or {}).get("approach")
    if stage == "rag" and approach == "rag+fine-tune":
        replies.append(quick("Continue to fine-tuning", Action.START_FINETUNE))
    return replies + finetune_quick_replies(state)


def in_interview(state: AgentState) -> bool:
    """The person is answering the interview's questions in the chat (not reviewing, approving or further on)."""
    return state.get("stage", "interview") == "interview" and state.get("pause", "wait_for_user") == "wait_for_user"


def as_step(action: Action, text: str, value: Any = None) -> dict:
    """The state update that turns typed words into the step they ask for: the reply becomes that action."""
    return {"reading": "step", "last_reply": Reply(action=action, text=text, value=value).model_dump(mode="json")}


def route_after_reading(state: AgentState) -> str:
    """A step asked for in words goes where its button would from this pause; anything else is answered."""
    match state.get("reading"):
        case "question":
            return "answer_free_question"
        case "recommend":
            return "recommend_approach"
        case "unclear":
            return "clarify"
        case "step":
            return route_from_pause(state)
        case "answer":
            return "plan_questions" if in_interview(state) else route_back(state)
    raise ValueError(f"unknown reading {state.get('reading')!r}")


def route_after_plan(state: AgentState) -> Literal["wait_for_user", "recommend_approach"]:
    return "wait_for_user" if state.get("pending_fields") else "recommend_approach"
