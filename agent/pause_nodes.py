"""Nodes any pause can reach: the plain 'not now, do this first' for an action that cannot be done where the
person is, and the record of a zero-shot vs few-shot measurement (which never sends the journey back)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from agent.actions import Action, last_reply, say_command
from agent.finetune_nodes import route_back
from agent.state import AgentState, say
from tools.advisor.profile import TaskProfile, unflatten
from tools.advisor.recommend import APPROACH_TITLES, recommend

if TYPE_CHECKING:
    from tools.generation.store import ReviewStore

EARLY_STAGES = ("interview", "recommended")  # where a measurement re-runs the advice in full


def why_not_now(state: AgentState, batch_number: int | None) -> str:
    """Why the last action cannot be done at this pause, and what to do first."""
    action, pause = last_reply(state).action, state.get("pause")
    if pause == "review_batch":
        first = f"Batch {batch_number} is still open for review: decide each sample and press **Submit batch** first"
        then = {Action.GENERATE: "; then I'll draft the next batch with your notes.",
                Action.BUILD_DATASET: " (its accepted samples then count); then build the dataset.",
                Action.PREPARE_TRAINING: ", then build the dataset, then check and propose training.",
                Action.APPROVE: ", then build the dataset and check a training plan before starting one.",
                Action.IMPROVE: "; then **Improve** drafts the next batch from the tuned model's mistakes."}
        return first + then.get(action, ", then carry on from there.")
    if action is Action.SUBMIT:
        return "No batch is waiting for review: press **Generate a batch** in the Data studio first."
    if action is Action.REVISE:
        return ("Change the settings in the **Training** tab and press **Check and propose**: I'll check them "
                "again before anything starts." + (" Until then, **Start training** uses the plan above."
                                                    if pause == "approve_training" else ""))
    if action is Action.APPROVE:
        plan, phase = state.get("training_plan"), state.get("run_phase")
        if phase in ("training", "evaluating"):
            return (f"`{Path(state['run_dir']).name}` is already {phase}: follow it in the **Training** tab "
                    "(or cancel it there).")
        if plan and not plan["preflight"]["ok"]:
            return "The last check found problems (see **Preflight**): fix them and press **Check and propose** again."
        if not state.get("dataset_dir"):
            return "There is nothing to train on yet: build the dataset in the **Data studio** first."
        return ("There is no checked plan to start yet: choose a base model and settings in the **Training** tab "
                "and press **Check and propose** first; **Start training** then starts the run it proposes.")
    if action in (Action.ANSWER, Action.SKIP):
        return ("There is no question waiting for an answer right now; to revisit your answers, press "
                "**Recommend now**.")
    raise ValueError(f"no explanation for {action!r} at {pause!r}")


def steps_here(state: AgentState) -> list[Action]:
    """The steps that can be done from where the person is (what the reply to unmapped words offers)."""
    from agent.improve_nodes import can_improve

    pause, stage, phase = state.get("pause") or "wait_for_user", state.get("stage", "interview"), state.get("run_phase")
    if pause == "review_batch":
        return [Action.SUBMIT]
    if pause == "approve_training":
        return [Action.APPROVE, Action.PREPARE_TRAINING]
    steps = {"interview": [Action.RECOMMEND], "recommended": [Action.START_PATH, Action.RECOMMEND],
             "rag": [Action.START_PATH], "icl": [Action.START_PATH],
             "seeds": [Action.GENERATE, Action.BUILD_DATASET], "dataset": [Action.PREPARE_TRAINING, Action.GENERATE],
             }.get(stage, [])
    if stage == "rag" and (state.get("recommendation") or {}).get("approach") == "rag+fine-tune":
        steps.insert(0, Action.START_FINETUNE)
    if stage in ("training", "done"):
        steps = {"training": [Action.CANCEL_RUN, Action.EVALUATE], "evaluating": [Action.EVALUATE],
                 "stopped": [Action.RESUME_RUN, Action.PREPARE_TRAINING],
                 "finished": [Action.EVALUATE, Action.TRY, Action.EXPORT, Action.GENERATE],
                 }.get(phase, [Action.PREPARE_TRAINING])
        if can_improve(state):
            steps.insert(0, Action.IMPROVE)
    return steps


def options_here(state: AgentState) -> str:
    """What the person can ask for from here, worded as they can type it."""
    steps = ", ".join(f"**{say_command(action)}**" for action in steps_here(state))
    then = f"From here you can type {steps}, " if steps else "From here you can "
    return then + "or ask me a question about adapting your model (end it with '?')."


class PauseNodes:
    def __init__(self, store: ReviewStore | None):
        self.store = store

    def explain_not_now(self, state: AgentState) -> dict:
        batch_id = state.get("review_batch_id")
        number = self.store.batch(batch_id).number if self.store and batch_id else None
        return {"messages": [say(why_not_now(state, number))], "stay": True}

    def record_baseline(self, state: AgentState) -> dict:
        """Keeps the measurement; early on it re-runs the advice, later it updates the advice but keeps the place."""
        baseline = last_reply(state).baseline
        if not baseline:
            return {"messages": [say("The measurement came back empty; run it again in the **Prompt** tab.")],
                    "stay": True}
        if state.get("stage", "interview") in EARLY_STAGES:
            return {"baseline": baseline}
        previous = (state.get("recommendation") or {}).get("approach")
        rec = recommend(TaskProfile.model_validate(unflatten(state.get("profile") or {})), baseline=baseline).to_dict()
        advice = APPROACH_TITLES[rec["approach"]]
        change = ("unchanged" if rec["approach"] == previous else
                  f"it was {APPROACH_TITLES[previous]}" if previous else "new")
        text = (f"Measured zero-shot vs few-shot: prompting is **{baseline.get('verdict', '?')}**. With it the advice "
                f"is **{advice}** ({change}). You stay at this step; press **Recommend now** to revisit the advice.")
        return {"baseline": baseline, "recommendation": rec, "messages": [say(text)], "stay": True}


def route_after_baseline(state: AgentState) -> Literal["recommend_approach", "wait_for_user", "review_batch",
                                                        "approve_training"]:
    return route_back(state) if state.get("stay") else "recommend_approach"
