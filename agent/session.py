"""The only place that knows thread ids, checkpointers, Command(resume=...) and interrupts; the UI talks to this."""
from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from langgraph.types import Command

from agent.graph import build_graph
from agent.nodes import STREAMED_NODES, AgentDeps
from tools.settings import Settings

CONVERSATIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    thread_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
)"""


@dataclass
class ConversationView:
    """Everything the app shows for one conversation."""

    thread_id: str
    messages: list[dict] = field(default_factory=list)
    profile: dict = field(default_factory=dict)
    recommendation: dict | None = None
    quick_replies: list[dict] = field(default_factory=list)
    stage: str = "interview"
    notice: str | None = None
    waiting: bool = False  # paused on an interrupt, ready for the person
    run_dir: str | None = None  # the training run in progress or last finished


def default_deps(settings: Settings) -> AgentDeps:
    """Real dependencies: the configured LLM (if any) and the guidance knowledge base."""
    from tools.errors import LLMUnavailable
    from tools.generation.store import ReviewStore
    from tools.llm import build_chat_model

    try:
        model = build_chat_model(settings)
        generator = build_chat_model(settings, model=settings.generation_model, temperature=0.8)
    except LLMUnavailable:
        model = generator = None
    index_dir = settings.workspace / "guidance-index"

    def answer(question: str, profile: dict | None, chat_model) -> str:
        from tools.advisor.kb import answer_question, format_answer_markdown

        return format_answer_markdown(answer_question(question, profile=profile, chat_model=chat_model,
                                                      persist_dir=index_dir))

    return AgentDeps(chat_model=model, generation_model=generator, answer_question=answer,
                     store=ReviewStore(settings.workspace_file("tunesmith.db")), workspace=settings.workspace)


def open_checkpointer(settings: Settings):
    """SqliteSaver on the workspace's checkpoints.db (one thread per conversation; survives restarts)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(settings.workspace_file("checkpoints.db"), check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    return saver


class Session:
    def __init__(self, settings: Settings, deps: AgentDeps | None = None, checkpointer=None):
        self.settings = settings
        self.deps = deps if deps is not None else default_deps(settings)
        self.checkpointer = checkpointer if checkpointer is not None else open_checkpointer(settings)
        self.graph = build_graph(self.deps).compile(checkpointer=self.checkpointer)
        self._db = sqlite3.connect(settings.workspace_file("tunesmith.db"), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(CONVERSATIONS_SCHEMA)
        self._db.commit()
        self._lock = threading.Lock()
        self._running: set[str] = set()  # threads with a step in progress in this process

    @property
    def llm_configured(self) -> bool:
        return self.deps.chat_model is not None

    def _config(self, thread_id: str) -> dict:
        return {"configurable": {"thread_id": thread_id}}

    def list_conversations(self) -> list[dict]:
        rows = self._db.execute("SELECT thread_id, title, updated FROM conversations ORDER BY updated DESC")
        return [{"thread_id": t, "title": title, "updated": u} for t, title, u in rows]

    def new_conversation(self) -> ConversationView:
        thread_id = uuid.uuid4().hex[:12]
        now = time.time()
        with self._lock:
            self._db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?)",
                             (thread_id, time.strftime("New conversation · %d %b %H:%M"), now, now))
            self._db.commit()
        self.graph.invoke({"messages": []}, self._config(thread_id))
        return self.view(thread_id)

    def reopen(self, thread_id: str) -> ConversationView:
        """Opens a conversation; a step that a crash cut short is run to its end first (never one in progress)."""
        snapshot = self.graph.get_state(self._config(thread_id))
        if snapshot.next and not snapshot.interrupts and thread_id not in self._running:
            self.graph.invoke(None, self._config(thread_id))
        return self.view(thread_id)

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
            quick_replies=list(pause.get("quick_replies") or []),
            stage=values.get("stage", "interview"),
            notice=values.get("notice"),
            waiting=bool(snapshot.interrupts),
            run_dir=values.get("run_dir"),
        )

    def send(self, thread_id: str, reply: dict[str, Any] | str) -> ConversationView:
        """Resumes the conversation with the person's reply and runs to the next pause."""
        for _ in self.stream(thread_id, reply):
            pass
        return self.view(thread_id)

    def stream(self, thread_id: str, reply: dict[str, Any] | str) -> Iterator[str]:
        """Yields the assistant's text as it is generated (LLM tokens); the final state comes from view()."""
        reply = {"text": reply} if isinstance(reply, str) else reply
        free_text = "action" not in reply and "field" not in reply
        self._touch(thread_id, reply.get("text", "") if free_text else "")
        self._running.add(thread_id)
        try:
            stream = self.graph.stream(Command(resume=reply), self._config(thread_id), stream_mode="messages")
            for chunk, meta in stream:
                if meta.get("langgraph_node") in STREAMED_NODES and isinstance(getattr(chunk, "content", None), str):
                    if chunk.content:
                        yield chunk.content
        finally:
            self._running.discard(thread_id)

    def _touch(self, thread_id: str, user_text: str) -> None:
        """Bumps the conversation in the list; its title is the person's first typed message."""
        with self._lock:
            self._db.execute(
                "UPDATE conversations SET updated = ?, title = CASE WHEN title LIKE 'New conversation%' AND ? != '' "
                "THEN ? ELSE title END WHERE thread_id = ?",
                (time.time(), user_text, user_text[:60], thread_id))
            self._db.commit()
