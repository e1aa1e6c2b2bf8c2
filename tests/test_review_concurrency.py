"""Two writers on one review store (the app and `tunesmith studio review`): decisions are compare-and-set, so no
decision reported as saved is silently replaced; a held write lock ends in a plain message, never a traceback."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.cli import main
from tools.dataset.schema import AlpacaSample
from tools.generation import store as store_module
from tools.generation import terminal_review
from tools.generation.store import DecisionConflict, ReviewStore, StoreBusy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "ws" / "tunesmith.db"
    with ReviewStore(path) as store:
        store.save_project("bikes", "Answer bike questions", [AlpacaSample(instruction="Seed?", output="Seed.")])
        store.add_batch("bikes", [AlpacaSample(instruction=f"Which part {i} of gearbox X{i * 37}?",
                                               output=f"Part {i}.") for i in range(20)])
    return path


def test_a_stale_screen_cannot_overwrite_another_reviewers_rejections(db):
    app, terminal = ReviewStore(db), ReviewStore(db)
    batch = app.open_batch("bikes")
    on_screen = app.batch_samples(batch.id)  # the app shows 20 pending samples
    for sample in terminal.batch_samples(batch.id):
        terminal.reject(sample.id, f"wrong part {sample.position}")
    conflicts = []
    for sample in on_screen:
        with pytest.raises(DecisionConflict) as caught:
            app.approve(sample.id, seen=sample)
        conflicts.append(caught.value)
    assert all(c.current.status == "rejected" for c in conflicts)
    assert "wrong part 0" in conflicts[0].message and "nothing was overwritten" in conflicts[0].message
    kept = app.batch_samples(batch.id)
    assert [(s.status, s.reason) for s in kept] == [("rejected", f"wrong part {i}") for i in range(20)]
    # the reviewer chose to replace one decision, having seen it
    replaced = app.approve(kept[3].id, seen=conflicts[3].current)
    assert replaced.status == "approved"


def test_edit_and_bulk_approve_respect_what_others_decided(db):
    app, terminal = ReviewStore(db), ReviewStore(db)
    samples = app.batch_samples(app.open_batch("bikes").id)
    terminal.reject(samples[0].id, "too vague")
    with pytest.raises(DecisionConflict):
        app.edit(samples[0].id, samples[0].current.model_copy(update={"output": "Better."}), seen=samples[0])
    assert app.bulk([s.id for s in samples], "approve", only_pending=True) == 19
    assert app.sample(samples[0].id).reason == "too vague"


CHILD = """
import json, sys
from tools.generation.store import DecisionConflict, ReviewStore
store = ReviewStore(sys.argv[1])
seen = store.batch_samples(store.open_batch("bikes").id)
print("ready", flush=True)
sys.stdin.readline()
saved = []
for sample in seen:
    try:
        store.reject(sample.id, f"rejected by the terminal {sample.position}", seen=sample)
        saved.append(sample.id)
    except DecisionConflict:
        pass
print(json.dumps(saved), flush=True)
"""


def test_two_processes_deciding_at_once_lose_nothing(db):
    """The terminal rejects every sample while the app approves every sample; each side is told which decisions
    it saved, and every saved decision is what the store holds at the end."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], cwd=ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    app = ReviewStore(db)
    seen = app.batch_samples(app.open_batch("bikes").id)
    child.stdin.write("go\n")
    child.stdin.flush()
    approved = []
    for sample in seen:
        try:
            app.approve(sample.id, seen=sample)
            approved.append(sample.id)
        except DecisionConflict:
            pass
    rejected = json.loads(child.stdout.readline())
    assert child.wait(timeout=60) == 0
    final = {s.id: s.status for s in app.batch_samples(seen[0].batch_id)}
    assert sorted(approved + rejected) == sorted(final)  # each sample decided by exactly one side
    assert all(final[i] == "approved" for i in approved) and all(final[i] == "rejected" for i in rejected)


@pytest.fixture
def held_lock(db):
    """Another program holding the database's write lock."""
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield other
    other.execute("ROLLBACK")
    other.close()


def test_a_held_write_lock_gives_a_plain_message_after_bounded_waiting(db, held_lock):
    store = ReviewStore(db, busy_timeout_s=0.1)
    sample = store.batch_samples(store.open_batch("bikes").id)[0]
    start = time.monotonic()
    with pytest.raises(StoreBusy) as caught:
        store.reject(sample.id, "too long", seen=sample)
    assert time.monotonic() - start < 5
    assert "busy" in caught.value.message and "nothing was saved" in caught.value.message
    held_lock.execute("ROLLBACK")
    held_lock.execute("BEGIN")  # released (the fixture's ROLLBACK ends this one)
    assert store.reject(sample.id, "too long", seen=sample).status == "rejected"


def _studio_review(monkeypatch, capsys, workspace: Path, answers: str) -> tuple[int, str]:
    monkeypatch.setenv("TUNESMITH_WORKSPACE", str(workspace))
    monkeypatch.setattr(sys, "stdin", io.StringIO(answers))
    capsys.readouterr()
    code = main(["studio", "review", "bikes"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "database is locked" not in out + err
    return code, out + err


def test_studio_review_with_a_held_lock_says_so_and_keeps_going(db, held_lock, monkeypatch, capsys):
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.1)
    code, out = _studio_review(monkeypatch, capsys, db.parent, "a\nq\n")
    assert code == 0 and "tunesmith.db is busy" in out and "nothing was saved" in out
    assert "0 decisions saved" in out


def test_studio_review_shows_a_decision_made_meanwhile_and_keeps_it(db, monkeypatch, capsys):
    app = ReviewStore(db)
    first = app.batch_samples(app.open_batch("bikes").id)[0]
    real_ask = terminal_review.ask

    def ask_while_the_app_rejects(prompt: str) -> str:
        if prompt == terminal_review.ACTION_PROMPT and app.sample(first.id).status == "pending":
            app.reject(first.id, "the app says: wrong gearbox")  # decided in the app while the terminal showed it
        return real_ask(prompt)

    monkeypatch.setattr(terminal_review, "ask", ask_while_the_app_rejects)
    code, out = _studio_review(monkeypatch, capsys, db.parent, "a\nn\nq\n")
    assert "was changed since you saw it: it is now rejected (the app says: wrong gearbox)" in out
    assert "kept the other decision" in out
    assert app.sample(first.id).status == "rejected" and app.sample(first.id).reason == "the app says: wrong gearbox"


def test_studio_review_can_replace_a_decision_made_meanwhile(db, monkeypatch, capsys):
    app = ReviewStore(db)
    first = app.batch_samples(app.open_batch("bikes").id)[0]
    real_ask = terminal_review.ask

    def ask_while_the_app_rejects(prompt: str) -> str:
        if prompt == terminal_review.ACTION_PROMPT and app.sample(first.id).status == "pending":
            app.reject(first.id, "too short")
        return real_ask(prompt)

    monkeypatch.setattr(terminal_review, "ask", ask_while_the_app_rejects)
    _, out = _studio_review(monkeypatch, capsys, db.parent, "a\ny\nq\n")
    assert "approved" in out and app.sample(first.id).status == "approved"
    assert app.sample(first.id).reason == ""
