"""Fine-tune path nodes: draft a batch, pause for review, turn decisions into error notes, build the dataset.

Side effects (the LLM call, writing the dataset) live in nodes before or after the interrupting node, never in it,
because a node re-runs from its top when it is resumed.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langgraph.types import interrupt

from agent.actions import Action, PauseName, received
from agent.schemas import QuickReply
from agent.state import AgentState, say
from tools.errors import UserError
from tools.llm import SETUP_HINT

if TYPE_CHECKING:
    from tools.generation.store import ReviewStore
    from tools.workspace import Workspace

BATCH_SIZE = 20


class FinetuneNodes:
    def __init__(self, store: ReviewStore | None, generation_model: Any, workspace: Workspace | None):
        self.store = store
        self.model = generation_model
        self.workspace = workspace

    def generate_samples(self, state: AgentState, config) -> dict:
        """Drafts the next batch of 20 with the error notes and rejected examples so far."""
        from tools.generation.rounds import generate_next_batch
        from tools.rag.raft import draft_retrieval_batch

        thread_id = config["configurable"]["thread_id"]
        project = self.store.get_project(thread_id) if self.store else None
        if project is None or not project.seeds:
            return {"messages": [say("Add your task and a few seed examples in the **Data studio** tab first "
                                      "(Save seeds), then ask me for a batch.")], "stay": True}
        if (open_batch := self.store.open_batch(thread_id)) is not None:  # e.g. drafted by `tunesmith studio`
            return {"messages": [say(f"Batch {open_batch.number} is still open for review in the **Data studio**: "
                                      "decide each sample and press **Submit batch**; then I'll draft the next.")],
                    "stage": "review", "review_batch_id": open_batch.id}
        if self.model is None:
            return {"messages": [say("Drafting samples needs an LLM endpoint. " + SETUP_HINT + " Meanwhile you "
                                      "can import a finished dataset in the Data studio and build it.")],
                    "stay": True}
        try:
            documents = self._documents(state, thread_id)  # RAG + fine-tuning: samples that hold passages
            batch, result = (draft_retrieval_batch(self.store, thread_id, self.model, documents, n=BATCH_SIZE)
                             if documents else generate_next_batch(self.store, thread_id, self.model, n=BATCH_SIZE))
        except UserError as exc:
            return {"messages": [say(f"⚠️ {exc.message}")], "stay": True}
        if batch is None:
            return {"messages": [say(f"⚠️ {result.message}")], "notice": result.message, "stay": True}
        text = (f"Batch {batch.number} is ready: {len(result.samples)} samples to review in the **Data studio**"
                + (f", drafted from your documents (each with up to {documents.k} retrieved passages)"
                   if documents else "")
                + ". Approve, reject with a reason, or edit each one, then press **Submit batch**.")
        if not result.complete:
            text += f"\n\n⚠️ {result.message}"
        update = {"messages": [say(text)], "stage": "review", "review_batch_id": batch.id}
        improvement = state.get("improvement")
        if improvement and improvement["step"] == "drafting":  # the batch drafted from the model's mistakes
            update["improvement"] = {**improvement, "batch_id": batch.id}
        return update

    def _documents(self, state: AgentState, thread_id: str):
        from tools.rag.raft import drafting_settings

        return drafting_settings(self.workspace, thread_id, state.get("recommendation")) if self.workspace else None

    def review_batch(self, state: AgentState) -> dict:
        """Pauses until the person submits the batch; every decision is already saved by the app as it is made."""
        raw = interrupt({"kind": "review", "stage": "review", "batch_id": state.get("review_batch_id"),
                         "quick_replies": [QuickReply(label="Submit batch", reply={
                             "text": "Submit batch", "action": Action.SUBMIT.value}).model_dump()]})
        return received(raw, "review_batch")

    def record_feedback(self, state: AgentState, config) -> dict:
        """Closes the batch; reject reasons and edits become error notes for every later batch."""
        from tools.generation.rounds import learn_from_batch

        thread_id = config["configurable"]["thread_id"]
        batch_id = state.get("review_batch_id")
        try:
            samples = self.store.batch_samples(batch_id)
            pending = [s for s in samples if s.status == "pending"]
            if pending:
                return {"messages": [say(f"{len(pending)} sample(s) still need a decision; review them, then "
                                          "submit again.")], "stay": True}
            notes = learn_from_batch(self.store, batch_id)
        except UserError as exc:
            return {"messages": [say(f"⚠️ {exc.message}")], "stay": True}
        stats = {s.batch_id: s for s in self.store.batch_stats(thread_id)}[batch_id]
        accepted = len(self.store.accepted_samples(thread_id))
        target = self.store.project(thread_id).target_count
        progress = (f"{accepted} samples collected (target {target} reached)." if accepted >= target
                    else f"{accepted} of {target} samples collected.")
        lines = [f"Batch {stats.number}: {stats.approved + stats.edited} of {stats.total} accepted "
                 f"({stats.acceptance_rate:.0%}). {progress}"]
        if stats.edited:
            lines.append(f"Your {stats.edited} edit(s) go into the next request as before → after examples with what "
                         "was wrong (Data studio → **Show the next request**).")
        if notes:
            lines += ["", "Error notes for the next batches (edit them in the Data studio):"]
            lines += [f"- {n}" for n in notes]
        # the batch is closed: what follows (a build, a proposal) returns to the chat, not to this review
        update = {"messages": [say("\n".join(lines))], "target_reached": accepted >= target, "stage": "seeds",
                  "review_batch_id": None, "pause": "wait_for_user"}
        improvement = state.get("improvement")
        if improvement and improvement["batch_id"] == batch_id:  # the round's batch: build and propose next
            update["improvement"] = {**improvement, "step": "reviewed"}
        return update

    def build_training_dataset(self, state: AgentState, config) -> dict:
        """A new dataset version from the accepted samples and seeds, with the settings the person chose (format,
        eval fraction, system prompt, seeds on/off): those the Data studio sent with this action, else the last
        ones set there (or of the newest version). A build the journey starts by itself (a submission that reached
        the target) without any chosen settings does not happen: it says so and how to build. Earlier versions stay
        as they were; the message says which version training will now use."""
        from dataclasses import asdict

        from tools.dataset.versions import BuildSettings, chosen_settings, versions_root
        from tools.generation.project_dataset import build_project_version

        thread_id = config["configurable"]["thread_id"]
        if not self.store or self.store.get_project(thread_id) is None:
            return {"messages": [say("There are no accepted samples yet: review a batch or import a dataset "
                                      "in the Data studio first.")], "stay": True}
        root = versions_root(self.workspace.project_dir(thread_id))
        improvement = state.get("improvement")
        improving = bool(improvement and improvement["step"] == "reviewed")
        reply = state.get("last_reply") or {}
        remembered = chosen_settings(root)
        choices = reply.get("config") or (asdict(remembered) if remembered else None)
        if choices is None and reply.get("action") == Action.SUBMIT.value:  # started by itself: only as chosen
            return {"messages": [say(
                "The target is reached. To build the dataset, choose its format, eval share and whether the seeds "
                "go in under **3 · Build a dataset version** in the Data studio and press **Build from reviewed "
                "samples** (or say *build the dataset* here to use the defaults shown there).")], "stay": True}
        said_defaults = choices is None
        held_out = held_out_rows(improvement) if improving else []
        try:
            settings = BuildSettings(**(choices or {}))
            report = build_project_version(self.store, thread_id, root, settings, leave_out=held_out)
        except (UserError, TypeError) as exc:
            return {"messages": [say(f"⚠️ {getattr(exc, 'message', exc)}")], "stay": True}
        version = report["version"]
        warnings = report.get("health", {}).get("warnings", [])
        seeds = "in" if settings.include_seeds else "out"
        how = f"{settings.fmt}, eval share {settings.eval_fraction:g}, seeds {seeds}"
        how += ": the defaults, as no settings were chosen in the Data studio" if said_defaults else ""
        lines = [f"Dataset version **{version['name']}** built ({how}): {report['train']} train and "
                 f"{report['eval']} eval samples ({report['dropped']} dropped, each listed with its reason in the "
                 "Data studio). Training uses it from now on (the newest version) unless you pick another."]
        left_out = next((i["rows"] for i in version["inputs"] if i["source"].startswith("left out")), 0)
        if improving:
            lines.append(f"- This round's version: {left_out} row(s) asking a held-out question of "
                         f"`{Path(improvement['run_dir']).name}` (or a reworded twin of one) left out, so the next "
                         "evaluation scores rows the model never trained on.")
        lines += [f"- ⚠️ {w}" for w in warnings] or ["- The health report found nothing to fix."]
        if not improving:
            lines.append("Download it from the Data studio, prepare training, or draft more batches.")
        # a new dataset makes any checked plan stale: propose again before training on it
        update = {"messages": [say("\n".join(lines))], "stage": "dataset", "dataset_dir": version["path"],
                  "training_plan": None}
        if improving:
            update["improvement"] = {**improvement, "step": "built"}
        return update


def finetune_quick_replies(state: AgentState) -> list[QuickReply]:
    from agent.improve_nodes import can_improve

    stage = state.get("stage")
    replies = []
    if stage == "seeds":
        replies = [quick("Generate a batch", Action.GENERATE), quick("Build the dataset", Action.BUILD_DATASET)]
    if stage == "dataset":
        replies = [quick("Prepare training", Action.PREPARE_TRAINING), quick("More batches", Action.GENERATE)]
    if can_improve(state):
        replies.append(quick("Improve", Action.IMPROVE))  # the next round from the rows it got wrong
    return replies


def quick(label: str, action: Action) -> QuickReply:
    return QuickReply(label=label, reply={"text": label, "action": action.value})


def route_back(state: AgentState) -> PauseName:
    """Back to the pause the last reply came from: a question or a refusal never loses the person's place."""
    return state.get("pause") or "wait_for_user"


def route_after_feedback(state: AgentState) -> Literal["build_training_dataset", "wait_for_user", "review_batch"]:
    """A submitted batch builds the dataset when it reached the target or was an improvement round's batch."""
    if state.get("stay"):
        return "review_batch"
    reviewed_round = (state.get("improvement") or {}).get("step") == "reviewed"
    return "build_training_dataset" if state.get("target_reached") or reviewed_round else "wait_for_user"


def route_after_generation(state: AgentState) -> Literal["review_batch", "wait_for_user", "approve_training"]:
    if state.get("stage") == "review" and not state.get("stay"):
        return "review_batch"
    return route_back(state)


def route_after_dataset(state: AgentState) -> Literal["wait_for_user", "review_batch", "approve_training",
                                                       "prepare_training"]:
    """An improvement round's version goes on to the proposal that continues the run."""
    if state.get("stay"):
        return route_back(state)
    return "prepare_training" if (state.get("improvement") or {}).get("step") == "built" else "wait_for_user"


def held_out_rows(improvement: dict | None) -> list:
    """The rows the improved run was scored on (kept out of the round's version); none when unreadable."""
    from tools.training.preflight import read_dataset_split

    eval_file = (improvement or {}).get("eval_file")
    if not eval_file:
        return []
    try:
        return read_dataset_split(eval_file).samples
    except UserError:
        return []
