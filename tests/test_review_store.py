"""ReviewStore: every decision is committed at once and survives a restart; stats, notes and filters."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from tools.dataset.schema import AlpacaSample
from tools.errors import UserError
from tools.generation.store import SCHEMA_VERSION, ReviewStore

SEEDS = [AlpacaSample(instruction="Name a primary colour", output="Red")]


def batch_of(n: int, tag: str = "") -> list[AlpacaSample]:
    return [AlpacaSample(instruction=f"Question {tag}{i}", output=f"Answer {i}") for i in range(n)]


@pytest.fixture
def store(tmp_path):
    with ReviewStore(tmp_path / "tunesmith.db") as review_store:
        review_store.save_project(
            "thread-1", "Answer colour questions", SEEDS, system="Be brief.", target_count=40
        )
        yield review_store


def test_decisions_survive_closing_and_reopening(tmp_path, store):
    batch = store.add_batch("thread-1", batch_of(4))
    ids = [s.id for s in store.batch_samples(batch.id)]
    store.approve(ids[0])
    store.reject(ids[1], "answer is wrong")
    store.edit(ids[2], {"instruction": "Question 2", "output": "A better answer"})
    store.close()  # no explicit save or commit anywhere

    with ReviewStore(tmp_path / "tunesmith.db") as reopened:
        samples = reopened.batch_samples(batch.id)
        assert [s.status for s in samples] == ["approved", "rejected", "edited", "pending"]
        assert samples[1].reason == "answer is wrong"
        assert samples[2].current.output == "A better answer" and samples[2].original.output == "Answer 2"
        assert reopened.project("thread-1").system == "Be brief."


def test_a_new_process_sees_each_decision_while_the_store_is_open(tmp_path, store):
    batch = store.add_batch("thread-1", batch_of(2))
    first = store.batch_samples(batch.id)[0].id
    store.reject(first, "off topic")
    code = (
        "import sqlite3, sys, json; db = sqlite3.connect(sys.argv[1]);"
        "print(json.dumps(db.execute('SELECT status, reason FROM samples ORDER BY id').fetchall()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "tunesmith.db")],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert json.loads(out) == [["rejected", "off topic"], ["pending", ""]]


def test_wal_mode_and_schema_version(tmp_path, store):
    db = sqlite3.connect(tmp_path / "tunesmith.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    store.close()
    with pytest.raises(UserError, match="newer Tunesmith"):
        ReviewStore(tmp_path / "tunesmith.db")


def test_rejecting_needs_a_reason(store):
    batch = store.add_batch("thread-1", batch_of(2))
    sample_id = store.batch_samples(batch.id)[0].id
    with pytest.raises(UserError, match="needs a reason"):
        store.reject(sample_id, "   ")
    with pytest.raises(UserError, match="needs a reason"):
        store.bulk([sample_id], "reject")
    assert store.sample(sample_id).status == "pending"


def test_bulk_is_all_or_nothing(store):
    batch = store.add_batch("thread-1", batch_of(3))
    ids = [s.id for s in store.batch_samples(batch.id)]
    with pytest.raises(UserError, match="no sample with id 9999"):
        store.bulk([ids[0], 9999], "approve")
    assert store.sample(ids[0]).status == "pending"
    assert store.bulk(ids[:2], "reject", reason="too short") == 2
    assert [s.id for s in store.batch_samples(batch.id, status="rejected")] == ids[:2]
    with pytest.raises(UserError, match="unknown bulk action"):
        store.bulk(ids, "delete")


def test_edit_is_validated_and_an_unchanged_edit_counts_as_approval(store):
    batch = store.add_batch("thread-1", batch_of(1))
    sample = store.batch_samples(batch.id)[0]
    with pytest.raises(UserError, match="output"):
        store.edit(sample.id, {"instruction": "Question 0", "output": "  "})
    assert store.edit(sample.id, sample.original.to_record()).status == "approved"
    assert store.reset(sample.id).status == "pending"


def test_acceptance_rate_per_batch_and_accepted_listing(store):
    first = store.add_batch("thread-1", batch_of(4, "a"))
    a = [s.id for s in store.batch_samples(first.id)]
    store.bulk(a[:2], "approve")
    store.reject(a[2], "wrong")
    store.edit(a[3], {"instruction": "Question a3", "output": "Fixed"})
    store.submit_batch(first.id)  # one batch is open at a time
    second = store.add_batch("thread-1", batch_of(2, "b"))
    b = [s.id for s in store.batch_samples(second.id)]
    store.approve(b[0])

    stats = store.batch_stats("thread-1")
    assert [(s.number, s.approved, s.edited, s.rejected, s.pending) for s in stats] == [
        (1, 2, 1, 1, 0),
        (2, 1, 0, 0, 1),
    ]
    assert stats[0].acceptance_rate == pytest.approx(0.75)
    assert stats[1].acceptance_rate == 1.0
    assert [s.output for s in store.accepted_samples("thread-1")] == [
        "Answer 0",
        "Answer 1",
        "Fixed",
        "Answer 0",
    ]
    assert store.existing_texts("thread-1") == [
        "Question a0",
        "Question a1",
        "Question a3",
        "Question b0",
        "Question b1",
    ]
    assert store.rejected_examples("thread-1") == [(batch_of(4, "a")[2], "wrong")]


def test_submit_needs_every_sample_decided_and_open_batch_resumes(store):
    batch = store.add_batch("thread-1", batch_of(2))
    assert store.open_batch("thread-1").id == batch.id
    with pytest.raises(UserError, match="2 undecided"):
        store.submit_batch(batch.id)
    store.bulk([s.id for s in store.batch_samples(batch.id)], "approve")
    assert store.submit_batch(batch.id).status == "submitted"
    assert store.open_batch("thread-1") is None


def test_notes_are_ordered_editable_and_deduplicated(store):
    store.add_notes("thread-1", ["Avoid: vague answers", "Keep outputs short."])
    assert store.add_notes("thread-1", ["avoid vague answers!", "Use British spelling"]) == [
        "Avoid: vague answers",
        "Keep outputs short.",
        "Use British spelling",
    ]
    assert store.set_notes("thread-1", ["Use British spelling", "", "Avoid: vague answers"]) == [
        "Use British spelling",
        "Avoid: vague answers",
    ]
    assert store.notes("thread-1") == ["Use British spelling", "Avoid: vague answers"]


def test_projects_and_seed_usage(store):
    assert store.get_project("nope") is None
    with pytest.raises(UserError, match="no generation project"):
        store.add_batch("nope", batch_of(1))
    store.record_seed_use("thread-1", [0, 0])
    assert store.project("thread-1").seed_usage == {0: 2}
    updated = store.save_project("thread-1", "New task", SEEDS, target_count=10)
    assert (updated.task, updated.target_count, updated.seed_usage) == ("New task", 10, {0: 2})
    with pytest.raises(UserError, match="seed 1"):
        store.save_project("thread-2", "t", [{"instruction": "x"}])


# ---- tags: filtering and coverage at scale --------------------------------------------------------------------

def test_tags_are_cleaned_saved_at_once_and_survive_a_restart(tmp_path, store):
    batch = store.add_batch("thread-1", batch_of(3))
    first = store.batch_samples(batch.id)[0].id
    assert store.set_tags(first, " Billing, edge-case ,billing").tags == ["billing", "edge-case"]
    store.close()
    with ReviewStore(tmp_path / "tunesmith.db") as reopened:
        assert reopened.sample(first).tags == ["billing", "edge-case"]
        assert reopened.sample(first + 1).tags == []


@pytest.mark.parametrize("tags, message", [("bil/ling", "letters, digits"), (",".join(f"t{i}" for i in range(9)),
                                                                             "at most 8")])
def test_a_bad_tag_is_refused_with_the_rule_and_nothing_changes(store, tags, message):
    sample_id = store.batch_samples(store.add_batch("thread-1", batch_of(1)).id)[0].id
    store.set_tags(sample_id, "kept")
    with pytest.raises(UserError, match=message):
        store.set_tags(sample_id, tags)
    assert store.sample(sample_id).tags == ["kept"]


def test_bulk_tag_adds_and_removes_and_coverage_counts_accepted_samples(store):
    ids = [s.id for s in store.batch_samples(store.add_batch("thread-1", batch_of(4)).id)]
    assert store.bulk_tag(ids[:3], "Refunds") == 3
    assert store.bulk_tag(ids[:3], "refunds") == 0  # already there: nothing changed
    store.set_tags(ids[3], "shipping")
    store.bulk([ids[0], ids[1], ids[3]], "approve")
    store.reject(ids[2], "wrong amount")
    assert store.tag_counts("thread-1") == {"refunds": 2, "shipping": 1}
    assert store.tag_counts("thread-1", ["rejected"]) == {"refunds": 1}
    assert store.bulk_tag(ids, "refunds", remove=True) == 3
    assert store.tag_counts("thread-1") == {"shipping": 1}
    with pytest.raises(UserError, match="no sample with id"):
        store.bulk_tag([ids[0], 99999], "x")
    assert store.sample(ids[0]).tags == []  # all or nothing


def test_the_review_filter_combines_status_tag_and_words(store):
    batch = store.add_batch("thread-1", [AlpacaSample(instruction="Refund my order", output="Done, refunded."),
                                         AlpacaSample(instruction="Where is my parcel", output="On its way.")])
    refund, parcel = store.batch_samples(batch.id)
    store.set_tags(refund.id, "billing")
    store.reject(parcel.id, "too vague")
    refund, parcel = store.batch_samples(batch.id)
    assert refund.matches("all", "billing", "REFUND order") and not parcel.matches(tag="billing")
    assert parcel.matches("rejected", None, "vague") and not parcel.matches("pending")
    assert not refund.matches(text="parcel")


def test_a_version_1_database_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE projects (id TEXT PRIMARY KEY, task TEXT NOT NULL, seeds_json TEXT NOT NULL,
            system TEXT NOT NULL DEFAULT '', target_count INTEGER NOT NULL, seed_usage_json TEXT NOT NULL DEFAULT '{}',
            created TEXT NOT NULL, updated TEXT NOT NULL);
        CREATE TABLE batches (id INTEGER PRIMARY KEY, project_id TEXT NOT NULL, number INTEGER NOT NULL,
            created TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open');
        CREATE TABLE samples (id INTEGER PRIMARY KEY, batch_id INTEGER NOT NULL, position INTEGER NOT NULL,
            original_json TEXT NOT NULL, current_json TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
            reason TEXT NOT NULL DEFAULT '', updated TEXT NOT NULL);
        CREATE TABLE notes (id INTEGER PRIMARY KEY, project_id TEXT NOT NULL, position INTEGER NOT NULL,
            text TEXT NOT NULL);
        INSERT INTO projects VALUES ('p', 'task', '[]', '', 10, '{}', 'now', 'now');
        INSERT INTO batches VALUES (1, 'p', 1, 'now', 'open');
        INSERT INTO samples VALUES (1, 1, 0, '{"instruction": "Q", "output": "A"}',
            '{"instruction": "Q", "output": "A"}', 'approved', '', 'now');
        PRAGMA user_version = 1;
    """)
    db.close()
    with ReviewStore(path) as store:
        assert store.sample(1).tags == [] and store.sample(1).status == "approved"  # the review is kept
        assert store.set_tags(1, "old").tags == ["old"]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
