"""One truth after a crash: a process killed (SIGKILL) between the batch's commit in tunesmith.db and the LangGraph
checkpoint reopens at the review pause, and the batch can be reviewed and submitted."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from agent.nodes import AgentDeps
from agent.session import Session
from tools.dataset.schema import AlpacaSample
from tools.generation.store import ReviewStore
from tools.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SEEDS = [AlpacaSample(instruction=f"Write a tagline for the {w} line", output=f"{w.title()}: built right.")
         for w in ("granite", "orchid", "falcon")]

# Runs in a child process: walks a conversation to the fine-tune seeds stage, then asks for a batch; the store's
# add_batch commits the batch and the process is killed at once, before LangGraph can write its checkpoint.
CHILD = textwrap.dedent("""
    import json, os, signal, sqlite3, sys
    from langgraph.checkpoint.sqlite import SqliteSaver
    from agent.nodes import AgentDeps
    from agent.session import Session
    from tools.dataset.schema import AlpacaSample
    from tools.generation import rounds
    from tools.generation.batch import BatchResult
    from tools.generation.store import ReviewStore
    from tools.settings import Settings

    settings = Settings(tunesmith_workspace=sys.argv[1])
    conn = sqlite3.connect(settings.workspace_file("checkpoints.db"), check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    store = ReviewStore(settings.workspace_file("tunesmith.db"))
    deps = AgentDeps(generation_model=object(), store=store, workspace=settings.workspace,
                     answer_question=lambda q, p, m: "Answer")
    session = Session(settings, deps=deps, checkpointer=saver)
    tid = session.new_conversation().thread_id
    session.send(tid, {"text": "Yes", "field": "custom_tone_behavior_style", "value": True})
    session.send(tid, {"text": "Hundreds", "field": "labeled_data", "value": "hundreds"})  # style + data: fine-tune
    session.send(tid, {"text": "Recommend now", "action": "recommend"})
    session.send(tid, {"text": "Start this path", "action": "start_path"})
    store.save_project(tid, "Write taglines", json.loads(sys.argv[2]), target_count=30)
    print(tid, flush=True)

    drafted = [AlpacaSample(instruction=f"Tagline for product {i} of the spring range", output=f"Spring {i}!")
               for i in range(20)]
    rounds.generate_batch = lambda *a, **k: BatchResult(drafted, True, 1, 20)
    real_add_batch = ReviewStore.add_batch

    def add_batch_then_die(self, *args, **kwargs):
        real_add_batch(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)  # the batch is committed; the checkpoint is not

    ReviewStore.add_batch = add_batch_then_die
    session.send(tid, {"text": "Generate a batch", "action": "generate"})
    print("survived", flush=True)
""")


def open_session(settings: Settings) -> tuple[Session, ReviewStore]:
    conn = sqlite3.connect(settings.workspace_file("checkpoints.db"), check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    store = ReviewStore(settings.workspace_file("tunesmith.db"))
    deps = AgentDeps(store=store, workspace=settings.workspace, answer_question=lambda q, p, m: "Answer")
    return Session(settings, deps=deps, checkpointer=saver), store


def test_kill_between_store_and_checkpoint_reopens_at_review(tmp_path):
    settings = Settings(tunesmith_workspace=tmp_path / "ws")
    seeds = json.dumps([s.model_dump() for s in SEEDS])
    child = subprocess.run([sys.executable, "-c", CHILD, str(settings.workspace), seeds], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert "survived" not in child.stdout
    tid = child.stdout.split()[0]

    session, store = open_session(settings)
    batch = store.open_batch(tid)
    assert batch is not None and len(store.batch_samples(batch.id)) == 20  # the store got the batch
    view = session.reopen(tid)
    assert view.stage == "review" and [q["label"] for q in view.quick_replies] == ["Submit batch"]
    assert f"Batch {batch.number}" in view.messages[-1]["content"]
    assert session.reopen(tid).messages == view.messages  # reopening again changes nothing

    for sample in store.batch_samples(batch.id):
        store.approve(sample.id)
    view = session.send(tid, {"text": "Submit batch", "action": "submit"})
    assert store.batch(batch.id).status == "submitted"
    assert "20 of 20 accepted" in view.messages[-1]["content"]


def test_batch_opened_elsewhere_moves_the_conversation_to_review(tmp_path):
    """A batch drafted for the conversation's project from the terminal while the app waited in the chat."""
    settings = Settings(tunesmith_workspace=tmp_path / "ws")
    session, store = open_session(settings)
    tid = session.new_conversation().thread_id
    session.send(tid, {"text": "Yes", "field": "custom_tone_behavior_style", "value": True})
    session.send(tid, {"text": "Hundreds", "field": "labeled_data", "value": "hundreds"})  # style + data: fine-tune
    session.send(tid, {"text": "Recommend now", "action": "recommend"})
    session.send(tid, {"text": "Start this path", "action": "start_path"})
    assert session.view(tid).pause != "review"
    store.save_project(tid, "Write taglines", SEEDS, target_count=30)
    batch = store.add_batch(tid, [AlpacaSample(instruction=f"Tagline {i} for boots", output=f"Boots {i}")
                                  for i in range(3)])
    view = session.reopen(tid)
    assert view.stage == "review" and [q["label"] for q in view.quick_replies] == ["Submit batch"]
    assert store.open_batch(tid).id == batch.id
