"""Fine-tune path nodes: draft a batch, pause for review, turn decisions into error notes, build the dataset.

Side effects (the LLM call, writing the dataset) live in nodes before or after the interrupting node, never in it,
because a node re-runs from its top when it is resumed.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langgraph.types import interrupt

from agent.schemas import QuickReply
from agent.state import AgentState, checked_resume, say
from tools.errors import UserError
from tools.llm import SETUP_HINT

if TYPE_CHECKING:
    from tools.generation.store import ReviewStore

BATCH_SIZE = 20



def project_dir(workspace: Path, thread_id: str) -> Path:
    return workspace / "projects" / thread_id


class FinetuneNodes:
    def __init__(self, store: ReviewStore | None, generation_model: Any, workspace: Path | None):
        self.store = store
        self.model = generation_model
        self.workspace = workspace

    def generate_samples(self, state: AgentState, config) -> dict:
        """Drafts the next batch of 20 with the error notes and rejected examples so far."""
        from tools.generation.rounds import generate_next_batch

        thread_id = config["configurable"]["thread_id"]
        project = self.store.get_project(thread_id) if self.store else None
        if project is None or not project.seeds:
            return {"messages": [say("Add your task and a few seed examples in the **Data studio** tab first "
                                      "(Save seeds), then ask me for a batch.")], "stage": "seeds"}
        if self.model is None:
            return {"messages": [say("Drafting samples needs an LLM endpoint. " + SETUP_HINT + " Meanwhile you "
                                      "can import a finished dataset in the Data studio and build it.")]}
        try:
            batch, result = generate_next_batch(self.store, thread_id, self.model, n=BATCH_SIZE)
        except UserError as exc:  # e.g. a batch is still under review
            return {"messages": [say(f"⚠️ {exc.message}")]}
        if batch is None:
            return {"messages": [say(f"⚠️ {result.message}")], "notice": result.message}
        text = (f"Batch {batch.number} is ready: {len(result.samples)} samples to review in the **Data studio**. "
                "Approve, reject with a reason, or edit each one, then press **Submit batch**.")
        if not result.complete:
            text += f"\n\n⚠️ {result.message}"
        return {"messages": [say(text)], "stage": "review", "review_batch_id": batch.id}

    def review_batch(self, state: AgentState) -> dict:
        """Pauses until the person submits the batch; every decision is already saved by the app as it is made."""
        reply = interrupt({"kind": "review", "stage": "review", "batch_id": state.get("review_batch_id"),
                           "quick_replies": [QuickReply(label="Submit batch", reply={
                               "text": "Submit batch", "action": "submit"}).model_dump()]})
        reply = checked_resume(reply)
        kind = "submit" if reply.get("action") == "submit" else "question"
        return {"last_reply": reply, "reply_kind": kind, "messages": [{"role": "user", "content": reply["text"]}]}

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
                                          "submit again.")], "reply_kind": "not_done"}
            notes = learn_from_batch(self.store, batch_id)
        except UserError as exc:
            return {"messages": [say(f"⚠️ {exc.message}")], "reply_kind": "not_done"}
        stats = {s.batch_id: s for s in self.store.batch_stats(thread_id)}[batch_id]
        accepted = len(self.store.accepted_samples(thread_id))
        target = self.store.project(thread_id).target_count
        progress = (f"{accepted} samples collected (target {target} reached)." if accepted >= target
                    else f"{accepted} of {target} samples collected.")
        lines = [f"Batch {stats.number}: {stats.approved + stats.edited} of {stats.total} accepted "
                 f"({stats.acceptance_rate:.0%}). {progress}"]
        if notes:
            lines += ["", "Error notes for the next batches (edit them in the Data studio):"]
            lines += [f"- {n}" for n in notes]
        return {"messages": [say("\n".join(lines))], "reply_kind": "target_reached" if accepted >= target else "more",
                "stage": "seeds"}

    def build_training_dataset(self, state: AgentState, config) -> dict:
        """Cleans, de-duplicates and splits the accepted samples into an Alpaca dataset with a health report."""
        from tools.dataset.build import build_dataset

        thread_id = config["configurable"]["thread_id"]
        samples = self.store.accepted_samples(thread_id) if self.store else []
        if not samples:
            return {"messages": [say("There are no accepted samples yet: review a batch or import a dataset "
                                      "in the Data studio first.")]}
        project = self.store.project(thread_id)
        out = project_dir(self.workspace, thread_id) / "dataset"
        try:
            report = build_dataset(samples, out, system=project.system or None,
                                   tag_counts=self.store.tag_counts(thread_id))
        except UserError as exc:
            return {"messages": [say(f"⚠️ {exc.message}")]}
        warnings = report.get("health", {}).get("warnings", [])
        lines = [f"Dataset built in `{out}`: {report['train']} train and {report['eval']} eval samples "
                 f"({report['dropped']} dropped, each with its reason in the report)."]
        lines += [f"- ⚠️ {w}" for w in warnings] or ["- The health report found nothing to fix."]
        lines.append("Download it from the Data studio, prepare training, or draft more batches.")
        return {"messages": [say("\n".join(lines))], "stage": "dataset", "dataset_dir": str(out)}


def finetune_quick_replies(state: AgentState) -> list[QuickReply]:
    stage = state.get("stage")
    if stage == "seeds":
        return [QuickReply(label="Generate a batch", reply={"text": "Generate a batch", "action": "generate"}),
                QuickReply(label="Build the dataset", reply={"text": "Build the dataset", "action": "build_dataset"})]
    if stage == "dataset":
        return [QuickReply(label="Prepare training", reply={"text": "Prepare training", "action": "prepare_training"}),
                QuickReply(label="More batches", reply={"text": "More batches", "action": "generate"})]
    return []


def route_after_review(state: AgentState) -> Literal["record_feedback", "answer_free_question"]:
    return "record_feedback" if state.get("reply_kind") == "submit" else "answer_free_question"


def route_after_feedback(state: AgentState) -> Literal["build_training_dataset", "wait_for_user", "review_batch"]:
    kind = state.get("reply_kind")
    if kind == "not_done":
        return "review_batch"
    return "build_training_dataset" if kind == "target_reached" else "wait_for_user"


def route_after_generation(state: AgentState) -> Literal["review_batch", "wait_for_user"]:
    return "review_batch" if state.get("stage") == "review" else "wait_for_user"
