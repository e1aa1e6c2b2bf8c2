"""The only place that knows thread ids, checkpointers, Command(resume=...) and interrupts; the UI's only door.

A person's button or message becomes an Action (re-exported here for the UI); `send` resumes the conversation
with it. The run watcher, a background thread, notices a training run or its evaluation ending and sends the
app's own action, so a run is recorded and evaluated whether zero or two browser tabs are open.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.types import Command

from agent.actions import Action, Reply, parse_reply
from agent.data_studio import NOTHING_SHOWN, DataStudio, ReviewPanel
from agent.graph import build_graph
from agent.improve_nodes import can_improve
from agent.nodes import STREAMED_NODES, AgentDeps
from agent.paths_desk import PathsDesk
from agent.run_desk import RunDesk
from agent.training_nodes import evaluation_words, metrics_table
from tools.generation.decisions import Decision, DecisionKind
from tools.generation.store import ReviewStore
from tools.settings import Settings
from tools.workspace import Workspace

# evaluation_words and metrics_table: the evaluation as the chat words it, for the Training tab to show the same;
# Decision, DecisionKind, ReviewPanel: what the Data studio's desk takes and gives back
__all__ = ["NOTHING_SHOWN", "Action", "ConversationView", "Decision", "DecisionKind", "ReviewPanel", "Session",
           "evaluation_words", "metrics_table", "open_checkpointer"]
log = logging.getLogger(__name__)
WATCH_INTERVAL_S = 2.0


@dataclass
class ConversationView:
    """Everything the app shows for one conversation."""

    thread_id: str
    messages: list[dict] = field(default_factory=list)  # roles: user (the person), assistant, system (app events)
    profile: dict = field(default_factory=dict)
    recommendation: dict | None = None
    baseline: dict | None = None
    quick_replies: list[dict] = field(default_factory=list)
    stage: str = "interview"
    notice: str | None = None
    waiting: bool = False  # paused, ready for the person
    pause: str | None = None  # which pause: chat | review | approve_training
    review_batch_id: int | None = None  # the batch open for review
    dataset_dir: str | None = None  # the last built dataset
    training_plan: dict | None = None  # config, preflight and its Markdown
    run_dir: str | None = None  # the training run in progress or last finished
    run_phase: str | None = None  # training | evaluating | finished | stopped
    evaluation: dict | None = None  # base vs tuned, once reported
    can_improve: bool = False  # the evaluation found held-out rows to learn from: Improve is offered


def default_deps(settings: Settings, workspace: Workspace) -> AgentDeps:
    """Real dependencies: the configured LLM (if any) and the guidance knowledge base."""
    from tools.errors import LLMUnavailable
    from tools.llm import build_chat_model

    try:
        model = build_chat_model(settings)
        generator = build_chat_model(settings, model=settings.generation_model, temperature=0.8)
    except LLMUnavailable:
        model = generator = None

    def answer(question: str, profile: dict | None, chat_model) -> str:
        from tools.advisor.kb import answer_question, format_answer_markdown

        return format_answer_markdown(answer_question(question, profile=profile, chat_model=chat_model,
                                                      persist_dir=workspace.guidance_index))

    return AgentDeps(chat_model=model, generation_model=generator, answer_question=answer,
                     store=ReviewStore(workspace.store_db), workspace=workspace)


def open_checkpointer(settings: Settings):
    """SqliteSaver on the workspace's checkpoints.db (one thread per conversation; survives restarts)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(Workspace.from_settings(settings).checkpoints_db, check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    return saver


class Session:
    def __init__(self, settings: Settings, deps: AgentDeps | None = None, checkpointer=None):
        self.settings = settings
        self.workspace = Workspace.from_settings(settings)
        self.deps = deps if deps is not None else default_deps(settings, self.workspace)
        self.deps.workspace = self.deps.workspace or self.workspace
        self.deps.store = self.deps.store or ReviewStore(self.workspace.store_db)
        self.store = self.deps.store
        self.studio = DataStudio(self.store, self.workspace)  # the Data studio's actions that need no graph step
        self.checkpointer = checkpointer if checkpointer is not None else open_checkpointer(settings)
        self.graph = build_graph(self.deps).compile(checkpointer=self.checkpointer)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._running: set[str] = set()  # threads with a step in progress in this process
        self._watched: set[str] = {c["thread_id"] for c in self.list_conversations()}  # checked once, then pruned
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.runs = RunDesk()  # the Training tab's reads and tools around a run
        self.paths = PathsDesk(self.workspace, self.store, lambda: self.chat_model)  # Retrieval and Prompt tabs

    @property
    def llm_configured(self) -> bool:
        return self.deps.chat_model is not None

    @property
    def chat_model(self):
        """The conversation's LLM (None without an endpoint), for the tabs that try prompts and answers."""
        return self.deps.chat_model

    def _config(self, thread_id: str) -> dict:
        return {"configurable": {"thread_id": thread_id}}

    def _lock(self, thread_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(thread_id, threading.Lock())

    # --- conversations --------------------------------------------------------------------------------------
    def list_conversations(self) -> list[dict]:
        return self.store.conversations()

    def new_conversation(self) -> ConversationView:
        thread_id = uuid.uuid4().hex[:12]
        self.store.add_conversation(thread_id, time.strftime("New conversation · %d %b %H:%M"))
        self.graph.invoke({"messages": []}, self._config(thread_id))
        return self.view(thread_id)

    def reopen(self, thread_id: str) -> ConversationView:
        """Opens a conversation; a step that a crash cut short is run to its end first (never one in progress)."""
        snapshot = self.graph.get_state(self._config(thread_id))
        if thread_id not in self._running and self._pause_for_open_batch(thread_id, snapshot):
            return self.view(thread_id)
        if snapshot.next and not snapshot.interrupts and thread_id not in self._running:
            with self._lock(thread_id):
                self.graph.invoke(None, self._config(thread_id))
        return self.view(thread_id)

    def _pause_for_open_batch(self, thread_id: str, snapshot) -> bool:
        """One truth after a crash (or a batch drafted by `tunesmith studio`): a batch open in the store means the
        review pause, whatever the checkpoint says. The batch is committed before the checkpoint is written, so a
        kill between the two leaves the graph behind the store; this moves it on as if the drafting step ended."""
        from agent.state import say

        batch = self.store.open_batch(thread_id) if self.store is not None else None
        pause = snapshot.interrupts[0].value.get("kind") if snapshot.interrupts else None
        if batch is None or pause == "review" or not snapshot.values:
            return False
        with self._lock(thread_id):
            self.graph.update_state(self._config(thread_id), {
                "messages": [say(f"Batch {batch.number} is open for review in the **Data studio**: decide each sample "
                                 "and press **Submit batch**.")],
                "stage": "review", "review_batch_id": batch.id, "stay": False}, as_node="generate_samples")
            self.graph.invoke(None, self._config(thread_id))
        return True

    def view(self, thread_id: str) -> ConversationView:
        """A pure read of the conversation's state (safe to call from pollers)."""
        snapshot = self.graph.get_state(self._config(thread_id))
        values = snapshot.values or {}
        pause = snapshot.interrupts[0].value if snapshot.interrupts else {}
        return ConversationView(
            thread_id=thread_id,
            messages=list(values.get("messages") or []),
            profile=dict(values.get("profile") or {}),
            recommendation=values.get("recommendation"),
            baseline=values.get("baseline"),
            quick_replies=list(pause.get("quick_replies") or []),
            stage=values.get("stage", "interview"),
            notice=values.get("notice"),
            waiting=bool(snapshot.interrupts),
            pause=pause.get("kind"),
            review_batch_id=values.get("review_batch_id") if values.get("stage") == "review" else None,
            dataset_dir=values.get("dataset_dir"),
            training_plan=values.get("training_plan"),
            run_dir=values.get("run_dir"),
            run_phase=values.get("run_phase"),
            evaluation=values.get("evaluation"),
            can_improve=can_improve(values),
        )

    # --- the person's actions -------------------------------------------------------------------------------
    def send(self, thread_id: str, reply: dict[str, Any] | str) -> ConversationView:
        """Resumes the conversation with the person's reply and runs to the next pause."""
        for _ in self.stream(thread_id, reply):
            pass
        return self.view(thread_id)

    def act(self, thread_id: str, action: Action, text: str, tab: str | None = None, **payload) -> ConversationView:
        """A button's action (tab: the tab it sits in, so the transcript shows it as an event, not as words)."""
        return self.send(thread_id, {"action": action.value, "text": text, "tab": tab, **payload})

    def stream(self, thread_id: str, reply: dict[str, Any] | str) -> Iterator[str]:
        """Yields the assistant's text as it is generated (LLM tokens); the final state comes from view()."""
        reply = parse_reply({"text": reply} if isinstance(reply, str) else reply)
        if reply.by_app:
            raise ValueError(f"{reply.action!r} is the app's own event, not something a person sends")
        self.store.touch_conversation(thread_id, reply.text if reply.action is Action.TEXT else "")
        with self._lock(thread_id):
            yield from self._resume(thread_id, reply)

    def _resume(self, thread_id: str, reply: Reply) -> Iterator[str]:
        self._running.add(thread_id)
        try:
            stream = self.graph.stream(Command(resume=reply.model_dump(mode="json")), self._config(thread_id),
                                       stream_mode="messages")
            for chunk, meta in stream:
                if meta.get("langgraph_node") in STREAMED_NODES and isinstance(getattr(chunk, "content", None), str):
                    if chunk.content:
                        yield chunk.content
        finally:
            self._running.discard(thread_id)
            self._watched.add(thread_id)  # the step may have started a run

    def submit_batch(self, thread_id: str, settings: dict) -> str:
        """Submits the open batch with the build settings the person set in the Data studio (kept, so the version
        a reached target builds uses them): through the conversation when it waits on this batch, else here (an
        imported batch). Returns what was said; UserError when there is nothing to submit."""
        self.studio.choose_build_settings(thread_id, settings)
        if self.view(thread_id).pause == "review":
            view = self.act(thread_id, Action.SUBMIT, "Submit batch", tab="Data studio", config=settings)
            return next((m["content"] for m in reversed(view.messages) if m.get("role") == "assistant"), "")
        number, notes = self.studio.submit_open_batch(thread_id)
        return f"Batch {number} submitted; {len(notes)} error note(s) now go into every next request."

    # --- the run watcher ------------------------------------------------------------------------------------
    def watch_runs_once(self) -> list[str]:
        """One look at every conversation with a run or evaluation in flight; records what ended.

        Returns the conversations it moved on. A conversation busy with the person's step is looked at next time."""
        from tools.training.evaluation_job import start_evaluation
        from tools.training.run_folder import read_run

        moved = []
        with self._locks_guard:
            watched = sorted(self._watched)
        for thread_id in watched:
            values = self.graph.get_state(self._config(thread_id)).values or {}
            phase, run_dir = values.get("run_phase"), values.get("run_dir")
            if phase not in ("training", "evaluating") or not run_dir:
                self._watched.discard(thread_id)
                continue
            news, run = None, read_run(run_dir)
            if phase == "training" and run.status not in ("running", "not_started"):
                news = Reply(action=Action.RUN_ENDED)
            elif phase == "evaluating":
                if run.evaluation.status == "not_started":  # the app stopped between recording the end and starting it
                    start_evaluation(run_dir)
                elif run.evaluation.status in ("done", "failed"):
                    news = Reply(action=Action.EVALUATED)
            if news is not None and self._deliver(thread_id, news):
                moved.append(thread_id)
        return moved

    def _deliver(self, thread_id: str, news: Reply) -> bool:
        lock = self._lock(thread_id)
        if not lock.acquire(blocking=False):
            return False
        try:
            if not self.graph.get_state(self._config(thread_id)).interrupts:
                return False  # not paused (a step was cut short): reopen() finishes it first
            for _ in self._resume(thread_id, news):
                pass
            return True
        finally:
            lock.release()

    def start_watching(self, interval_s: float = WATCH_INTERVAL_S) -> None:
        """Starts the watcher thread (once); the app calls this, tests call watch_runs_once()."""
        if self._watcher is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.watch_runs_once()
                except Exception:  # never let one bad run folder stop the watching of the others
                    log.exception("run watcher")

        self._watcher = threading.Thread(target=loop, name="tunesmith-run-watcher", daemon=True)
        self._watcher.start()

    def stop_watching(self) -> None:
        self._stop.set()

    # --- what the tabs need beyond the conversation ---------------------------------------------------------
    def finished_adapter_runs(self, thread_id: str) -> list[str]:
        """Names of this conversation's runs that left a LoRA adapter (what a new round can continue)."""
        from tools.training.run_folder import has_adapter

        runs = sorted(self.workspace.runs_dir(thread_id).glob("run-*"), key=lambda p: p.name)
        return [run.name for run in runs if has_adapter(run)]

    def start_example(self):
        """Starts the built-in example project (or returns the one running); its folder is in the workspace."""
        return self.runs.start_example(self.workspace.examples_dir)

    def project_dir(self, thread_id: str | None) -> Path:
        return self.workspace.project_dir(thread_id)
