"""Where every action goes from each pause. Each router names every Action (a test checks the match is total
over the whole Action set at every pause); anything else raises, as an unknown resume value is a bug."""
from __future__ import annotations

from typing import Literal

from agent.actions import Action, last_reply
from agent.state import AgentState

# Actions that go to the same node whichever pause they reach (run control, app events, measurements).
ANYWHERE = {Action.BASELINE: "record_baseline", Action.RESUME_RUN: "resume_training",
            Action.CANCEL_RUN: "cancel_training", Action.RUN_ENDED: "record_run_end",
            Action.EVALUATED: "record_evaluation", Action.EVALUATE: "report_evaluation", Action.TRY: "try_model",
            Action.EXPORT: "export_model"}
Anywhere = Literal["record_baseline", "resume_training", "cancel_training", "record_run_end", "record_evaluation",
                   "report_evaluation", "try_model", "export_model"]
Journey = Literal["recommend_approach", "start_path", "generate_samples", "build_training_dataset",
                  "prepare_training", "start_improvement"]


def _journey(action: Action, state: AgentState) -> str:
    """The actions that move the journey on (or back a step), from wait_for_user and approve_training."""
    match action:
        case Action.RECOMMEND:
            return "recommend_approach"
        case Action.START_PATH:
            chosen = last_reply(state).value  # a path the person named ("switch to RAG")
            return "start_path" if state.get("recommendation") or chosen else "recommend_approach"
        case Action.START_FINETUNE:
            return "start_path"
        case Action.GENERATE:
            return "generate_samples"
        case Action.BUILD_DATASET:
            return "build_training_dataset"
        case Action.PREPARE_TRAINING:
            return "prepare_training"
        case Action.IMPROVE:
            return "start_improvement"
    raise ValueError(f"{action!r} does not move the journey")


def route_from_wait(state: AgentState) -> Journey | Anywhere | Literal["understand_reply", "explain_not_now"]:
    action = last_reply(state).action
    match action:
        case Action.TEXT:
            return "understand_reply"
        case Action.ANSWER:  # a quick answer still counts once the advice is given (it may change the advice)
            return "understand_reply" if state.get("stage", "interview") in ("interview", "recommended") \
                else "explain_not_now"
        case Action.SKIP:
            return "understand_reply" if state.get("stage", "interview") == "interview" else "explain_not_now"
        case (Action.RECOMMEND | Action.START_PATH | Action.START_FINETUNE | Action.GENERATE | Action.BUILD_DATASET
              | Action.PREPARE_TRAINING | Action.IMPROVE):
            return _journey(action, state)
        case Action.SUBMIT | Action.APPROVE | Action.REVISE:
            return "explain_not_now"  # no batch under review / no checked plan waiting here
        case (Action.BASELINE | Action.RESUME_RUN | Action.CANCEL_RUN | Action.RUN_ENDED | Action.EVALUATED
              | Action.EVALUATE | Action.TRY | Action.EXPORT):
            return ANYWHERE[action]
    raise ValueError(f"wait_for_user cannot handle {action!r}")


def route_from_review(state: AgentState) -> Anywhere | Literal["record_feedback", "understand_reply",
                                                                "explain_not_now"]:
    """While a batch is open only its submission moves on; the rest is answered or explained, the batch kept."""
    action = last_reply(state).action
    match action:
        case Action.SUBMIT:
            return "record_feedback"
        case Action.TEXT:
            return "understand_reply"  # a question, a step asked for in words, or neither
        case (Action.ANSWER | Action.SKIP | Action.RECOMMEND | Action.START_PATH | Action.START_FINETUNE
              | Action.GENERATE | Action.BUILD_DATASET | Action.PREPARE_TRAINING | Action.APPROVE | Action.REVISE
              | Action.IMPROVE):
            return "explain_not_now"
        case (Action.BASELINE | Action.RESUME_RUN | Action.CANCEL_RUN | Action.RUN_ENDED | Action.EVALUATED
              | Action.EVALUATE | Action.TRY | Action.EXPORT):
            return ANYWHERE[action]
    raise ValueError(f"review_batch cannot handle {action!r}")


def route_from_approval(state: AgentState) -> Journey | Anywhere | Literal[
        "start_training", "understand_reply", "explain_not_now"]:
    """Start the checked plan, check new settings (re-propose), or leave the approval for another step."""
    action = last_reply(state).action
    match action:
        case Action.APPROVE:
            return "start_training"
        case Action.TEXT:
            return "understand_reply"
        case (Action.PREPARE_TRAINING | Action.RECOMMEND | Action.START_PATH | Action.START_FINETUNE
              | Action.GENERATE | Action.BUILD_DATASET | Action.IMPROVE):
            return _journey(action, state)
        case Action.REVISE | Action.SUBMIT | Action.ANSWER | Action.SKIP:
            return "explain_not_now"
        case (Action.BASELINE | Action.RESUME_RUN | Action.CANCEL_RUN | Action.RUN_ENDED | Action.EVALUATED
              | Action.EVALUATE | Action.TRY | Action.EXPORT):
            return ANYWHERE[action]
    raise ValueError(f"approve_training cannot handle {action!r}")


PAUSE_ROUTERS = {"wait_for_user": route_from_wait, "review_batch": route_from_review,
                 "approve_training": route_from_approval}


def route_from_pause(state: AgentState) -> str:
    """Where the last reply goes from the pause it came to (used again once typed words were read as a step)."""
    return PAUSE_ROUTERS[state.get("pause") or "wait_for_user"](state)
