"""The review store: projects, generated batches, review decisions and error notes in one SQLite file.

Every decision is committed the moment it is made (autocommit; multi-row changes in one transaction), so a
crash or restart loses nothing. WAL mode lets the UI read while a decision is written.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Self

from pydantic import ValidationError

from tools.dataset.passages import compared_question
from tools.dataset.schema import AlpacaSample
from tools.errors import BAD_CONTENT, FAILED, UserError
from tools.generation.decisions import DecisionKind
from tools.generation.notes import clean_notes, merge_notes

SCHEMA_VERSION = 3
SampleStatus = Literal["pending", "approved", "rejected", "edited"]
ACCEPTED_STATUSES = ("approved", "edited")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    seeds_json TEXT NOT NULL,
    system TEXT NOT NULL DEFAULT '',
    target_count INTEGER NOT NULL,
    seed_usage_json TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    created TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'submitted')),
    UNIQUE (project_id, number)
);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    original_json TEXT NOT NULL,
    current_json TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'edited')),
    reason TEXT NOT NULL DEFAULT '',
    updated TEXT NOT NULL,
    tags_json TEXT NOT NULL DEFAULT '[]',
    UNIQUE (batch_id, position)
);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_by_batch ON samples(batch_id, position);
CREATE TABLE IF NOT EXISTS conversations (
    thread_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
"""
# Steps from each older schema version to the next; a fresh database gets _SCHEMA at once.
# (v3: the app's conversation list, which the app kept in this file under its own CREATE before)
_UPGRADES = {1: "ALTER TABLE samples ADD COLUMN tags_json TEXT NOT NULL DEFAULT '[]'",
             2: "CREATE TABLE IF NOT EXISTS conversations (thread_id TEXT PRIMARY KEY, title TEXT NOT NULL, "
                "created REAL NOT NULL, updated REAL NOT NULL)"}
MAX_TAGS = 8
_TAG = re.compile(r"[a-z0-9][a-z0-9 _.-]{0,31}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _sample_json(sample: AlpacaSample) -> str:
    return json.dumps(sample.to_record(), ensure_ascii=False)


def clean_tags(tags: str | Iterable[str]) -> list[str]:
    """Tags from a comma-separated string or a list: lower-cased, de-duplicated, in order; a bad one is refused."""
    parts = tags.split(",") if isinstance(tags, str) else list(tags)
    cleaned = list(dict.fromkeys(" ".join(str(tag).split()).lower() for tag in parts if str(tag).strip()))
    for tag in cleaned:
        if not _TAG.fullmatch(tag):
            raise UserError(f"tag {tag!r}: use up to 32 letters, digits, spaces, '-', '_' or '.', starting with a "
                            "letter or digit (e.g. 'billing', 'edge-case')")
    if len(cleaned) > MAX_TAGS:
        raise UserError(f"{len(cleaned)} tags given; a sample takes at most {MAX_TAGS}")
    return cleaned


def _as_sample(value: AlpacaSample | dict, where: str) -> AlpacaSample:
    if isinstance(value, AlpacaSample):
        return value
    try:
        return AlpacaSample.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "sample"
        raise UserError(f"{where}: field '{field}' {first['msg']}; fix it and try again") from None


@dataclass
class Project:
    id: str
    task: str
    seeds: list[AlpacaSample]
    system: str
    target_count: int
    seed_usage: dict[int, int]
    created: str
    updated: str


@dataclass
class Batch:
    id: int
    project_id: str
    number: int
    created: str
    status: Literal["open", "submitted"]


@dataclass
class StoredSample:
    """One generated sample under review; current differs from original only when edited."""

    id: int
    batch_id: int
    position: int
    original: AlpacaSample
    current: AlpacaSample
    status: SampleStatus
    reason: str
    updated: str
    tags: list[str]

    def matches(self, status: str | None = None, tag: str | None = None, text: str | None = None) -> bool:
        """The review filter: a status ('all' or None for any), a tag, and words the sample contains."""
        if status and status != "all" and self.status != status:
            return False
        if tag and tag not in self.tags:
            return False
        if text and text.strip():
            haystack = " ".join([self.current.system, self.current.instruction, self.current.input,
                                 self.current.output, *(t for turn in self.current.history for t in turn),
                                 self.reason]).lower()
            return all(word in haystack for word in text.lower().split())
        return True


@dataclass
class BatchStats:
    """Decisions in one batch; acceptance_rate = (approved + edited) / decided, None before any decision."""

    batch_id: int
    number: int
    total: int
    approved: int
    edited: int
    rejected: int
    pending: int

    @property
    def decided(self) -> int:
        return self.approved + self.edited + self.rejected

    @property
    def acceptance_rate(self) -> float | None:
        return (self.approved + self.edited) / self.decided if self.decided else None


BUSY_TIMEOUT_S = 5.0  # how long one try waits for another writer's lock (the app, `tunesmith studio`)
BUSY_TRIES = 3  # a command hears "busy" within BUSY_TIMEOUT_S x BUSY_TRIES (15 s) of waiting, said in the message


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


class StoreBusy(UserError):
    """Another program held the database's write lock for every try; nothing was written."""

    def __init__(self, path: Path, waited_s: float | None = None):
        waited = f" (waited {waited_s:.1f} s)" if waited_s is not None else ""
        super().__init__(f"{path.name} is busy: another program (the app or `tunesmith studio`) is writing to it"
                         f"{waited}; nothing was saved; try again in a moment", exit_code=1)


class DecisionConflict(UserError):
    """The sample changed since the reviewer saw it; nothing was overwritten. current: what it is now."""

    def __init__(self, current: StoredSample):
        why = f" ({current.reason})" if current.reason else ""
        super().__init__(f"sample {current.position + 1} was changed since you saw it: it is now {current.status}"
                         f"{why}; nothing was overwritten. Keep that decision, or decide again to replace it",
                         exit_code=1)
        self.current = current


# The status each bulk decision writes (the other kinds of tools.generation.decisions take one sample at a time).
_BULK_STATUS: dict[str, SampleStatus] = {DecisionKind.APPROVE: "approved", DecisionKind.REJECT: "rejected",
                                         DecisionKind.RESET: "pending"}


def _decision(sample: StoredSample) -> tuple:
    """What a reviewer decides on: the status, the reason and the (possibly edited) sample."""
    return sample.status, sample.reason, sample.current


class ReviewStore:
    """SQLite-backed projects, batches, samples and notes; safe to share between threads (one lock)."""

    def __init__(self, db_path: str | Path, busy_timeout_s: float | None = None):
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        started = time.monotonic()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                       timeout=BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            if _is_busy(exc):
                raise StoreBusy(self.path, time.monotonic() - started) from None
            raise UserError(
                f"{self.path} is not a usable Tunesmith database ({exc}); move it aside", BAD_CONTENT
            ) from None

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UserError(
                f"{self.path} was written by a newer Tunesmith (schema {version}); upgrade Tunesmith", BAD_CONTENT
            )
        if version == SCHEMA_VERSION:
            return
        with self._transaction():
            if version == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
            else:
                for step in range(version, SCHEMA_VERSION):
                    self._db.execute(_UPGRADES[step])
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic, immediately committed change (autocommit mode otherwise)."""
        with self._lock:
            self._begin()
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _begin(self) -> None:
        """Takes the write lock: each try waits up to the busy timeout for another writer, then StoreBusy."""
        started = time.monotonic()
        for _ in range(BUSY_TRIES):
            try:
                self._db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
        raise StoreBusy(self.path, time.monotonic() - started)

    def _query(self, sql: str, params: Sequence = ()) -> list[sqlite3.Row]:
        """A read; one that waited the busy timeout for another program's lock ends in StoreBusy, never a hang."""
        started = time.monotonic()
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise StoreBusy(self.path, time.monotonic() - started) from None
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the app's conversation list (one per LangGraph thread) ---------------------------------------------
    def add_conversation(self, thread_id: str, title: str) -> None:
        now = time.time()
        with self._transaction() as db:
            db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?)", (thread_id, title, now, now))

    def conversations(self) -> list[dict]:
        rows = self._query("SELECT thread_id, title, updated FROM conversations ORDER BY updated DESC")
        return [dict(row) for row in rows]

    def touch_conversation(self, thread_id: str, first_words: str = "") -> None:
        """Bumps a conversation to the top; a 'New conversation' takes the person's first typed words as title."""
        with self._transaction() as db:
            db.execute("UPDATE conversations SET updated = ?, title = CASE WHEN title LIKE 'New conversation%' "
                       "AND ? != '' THEN ? ELSE title END WHERE thread_id = ?",
                       (time.time(), first_words, first_words[:60], thread_id))

    # --- projects -------------------------------------------------------------------------------------------

    def save_project(
        self,
        project_id: str,
        task: str,
        seeds: Sequence[AlpacaSample | dict],
        system: str = "",
        target_count: int = 100,
    ) -> Project:
        """Creates the project, or updates its task, seeds, system prompt and target (batches are kept)."""
        if not project_id.strip():
            raise UserError("the project id is empty")
        if target_count < 1:
            raise UserError(f"the target count must be at least 1 (got {target_count})")
        samples = [_as_sample(seed, f"seed {i + 1}") for i, seed in enumerate(seeds)]
        seeds_json = json.dumps([sample.to_record() for sample in samples], ensure_ascii=False)
        now = _now()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO projects (id, task, seeds_json, system, target_count, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET task=excluded.task,"
                " seeds_json=excluded.seeds_json, system=excluded.system, target_count=excluded.target_count,"
                " updated=excluded.updated",
                (project_id, task, seeds_json, system, target_count, now, now),
            )
        return self.project(project_id)

    def get_project(self, project_id: str) -> Project | None:
        rows = self._query("SELECT * FROM projects WHERE id = ?", (project_id,))
        if not rows:
            return None
        row = rows[0]
        return Project(
            id=row["id"],
            task=row["task"],
            seeds=[AlpacaSample.model_validate(s) for s in json.loads(row["seeds_json"])],
            system=row["system"],
            target_count=row["target_count"],
            seed_usage={int(k): v for k, v in json.loads(row["seed_usage_json"]).items()},
            created=row["created"],
            updated=row["updated"],
        )

    def project(self, project_id: str) -> Project:
        """The project, or a UserError saying it does not exist."""
        project = self.get_project(project_id)
        if project is None:
            raise UserError(f"no generation project {project_id!r}; describe the task and seeds first")
        return project

    def record_seed_use(self, project_id: str, seed_indices: Iterable[int]) -> None:
        """Counts that these seeds were shown in a prompt (so the next batch favours the others)."""
        with self._transaction() as db:
            row = db.execute("SELECT seed_usage_json FROM projects WHERE id = ?", (project_id,)).fetchone()
            if row is None:
                raise UserError(f"no generation project {project_id!r}")
            usage = json.loads(row["seed_usage_json"])
            for index in seed_indices:
                usage[str(index)] = usage.get(str(index), 0) + 1
            db.execute(
                "UPDATE projects SET seed_usage_json = ?, updated = ? WHERE id = ?",
                (json.dumps(usage), _now(), project_id),
            )

    # --- batches and samples --------------------------------------------------------------------------------

    def add_batch(self, project_id: str, samples: Sequence[AlpacaSample | dict]) -> Batch:
        """Stores a generated batch (all samples pending) as the project's next batch number; refused while another
        batch of the project is open (checked in the same transaction, so two programs cannot both open one)."""
        self.project(project_id)
        checked = [_as_sample(sample, f"sample {i + 1}") for i, sample in enumerate(samples)]
        now = _now()
        with self._transaction() as db:
            open_number = db.execute("SELECT number FROM batches WHERE project_id = ? AND status = 'open'",
                                     (project_id,)).fetchone()
            if open_number is not None:  # another program opened one meanwhile: only one is under review at a time
                raise UserError(f"batch {open_number[0]} of project {project_id!r} is already open for review "
                                "(another program added it meanwhile); review and submit it first; this batch "
                                "was not stored", FAILED)
            number = db.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM batches WHERE project_id = ?", (project_id,)
            ).fetchone()[0]
            batch_id = db.execute(
                "INSERT INTO batches (project_id, number, created) VALUES (?, ?, ?)",
                (project_id, number, now),
            ).lastrowid
            db.executemany(
                "INSERT INTO samples (batch_id, position, original_json, current_json, updated)"
                " VALUES (?, ?, ?, ?, ?)",
                [(batch_id, i, _sample_json(s), _sample_json(s), now) for i, s in enumerate(checked)],
            )
        return self.batch(batch_id)

    def batch(self, batch_id: int) -> Batch:
        rows = self._query("SELECT * FROM batches WHERE id = ?", (batch_id,))
        if not rows:
            raise UserError(f"no batch with id {batch_id}")
        return Batch(**dict(rows[0]))

    def batches(self, project_id: str) -> list[Batch]:
        rows = self._query("SELECT * FROM batches WHERE project_id = ? ORDER BY number", (project_id,))
        return [Batch(**dict(row)) for row in rows]

    def open_batch(self, project_id: str) -> Batch | None:
        """The latest batch still under review, if any (to resume after a restart)."""
        rows = self._query(
            "SELECT * FROM batches WHERE project_id = ? AND status = 'open' ORDER BY number DESC LIMIT 1",
            (project_id,),
        )
        return Batch(**dict(rows[0])) if rows else None

    def submit_batch(self, batch_id: int) -> Batch:
        """Closes a batch once every sample has a decision."""
        pending = self._query(
            "SELECT COUNT(*) FROM samples WHERE batch_id = ? AND status = 'pending'", (batch_id,)
        )[0][0]
        if pending:
            raise UserError(
                f"batch {self.batch(batch_id).number} still has {pending} undecided sample(s); "
                "approve, reject or edit them first"
            )
        with self._transaction() as db:
            db.execute("UPDATE batches SET status = 'submitted' WHERE id = ?", (batch_id,))
        return self.batch(batch_id)

    @staticmethod
    def _stored(row: sqlite3.Row) -> StoredSample:
        return StoredSample(
            id=row["id"],
            batch_id=row["batch_id"],
            position=row["position"],
            original=AlpacaSample.model_validate_json(row["original_json"]),
            current=AlpacaSample.model_validate_json(row["current_json"]),
            status=row["status"],
            reason=row["reason"],
            updated=row["updated"],
            tags=json.loads(row["tags_json"]),
        )

    def sample(self, sample_id: int) -> StoredSample:
        rows = self._query("SELECT * FROM samples WHERE id = ?", (sample_id,))
        if not rows:
            raise UserError(f"no sample with id {sample_id}; refresh the batch and try again")
        return self._stored(rows[0])

    def batch_samples(self, batch_id: int, status: SampleStatus | None = None) -> list[StoredSample]:
        """A batch's samples in order, optionally only those with one status (a review filter)."""
        sql = "SELECT * FROM samples WHERE batch_id = ?" + (" AND status = ?" if status else "")
        params = (batch_id, status) if status else (batch_id,)
        return [self._stored(row) for row in self._query(sql + " ORDER BY position", params)]

    def project_samples(
        self, project_id: str, statuses: Sequence[SampleStatus] | None = None
    ) -> list[StoredSample]:
        """All of a project's samples in batch order, optionally filtered by status."""
        sql = "SELECT s.* FROM samples s JOIN batches b ON b.id = s.batch_id WHERE b.project_id = ?"
        params: list = [project_id]
        if statuses:
            sql += f" AND s.status IN ({','.join('?' * len(statuses))})"
            params += list(statuses)
        return [self._stored(row) for row in self._query(sql + " ORDER BY b.number, s.position", params)]

    # --- decisions (each committed at once) -----------------------------------------------------------------

    def _decide(
        self,
        sample_ids: Sequence[int],
        status: SampleStatus,
        reason: str = "",
        current: AlpacaSample | None = None,
        seen: StoredSample | None = None,
        only_from: SampleStatus | None = None,
    ) -> int:
        """Writes one decision on each sample in one transaction; returns how many were changed.

        Compare-and-set: with `seen` (the sample as the reviewer saw it), a sample decided or edited since raises
        DecisionConflict and nothing is written; with `only_from`, samples no longer in that status are left as
        they are (someone decided them meanwhile).
        """
        now = _now()
        changed = 0
        with self._transaction() as db:
            for sample_id in sample_ids:
                row = db.execute("SELECT * FROM samples WHERE id = ?", (sample_id,)).fetchone()
                if row is None:  # rolls the whole bulk action back
                    raise UserError(f"no sample with id {sample_id}; refresh the batch and try again")
                stored = self._stored(row)
                if seen is not None and _decision(stored) != _decision(seen):
                    raise DecisionConflict(stored)
                if only_from is not None and stored.status != only_from:
                    continue
                current_json = _sample_json(current) if current is not None else row["original_json"]
                db.execute(
                    "UPDATE samples SET status = ?, reason = ?, current_json = ?, updated = ? WHERE id = ?",
                    (status, reason, current_json, now, sample_id),
                )
                changed += 1
        return changed

    def approve(self, sample_id: int, seen: StoredSample | None = None) -> StoredSample:
        """Accepts the sample as generated (undoing any earlier edit or rejection).

        seen: the sample as the reviewer saw it; if it changed since, DecisionConflict (nothing overwritten).
        """
        self._decide([sample_id], "approved", seen=seen)
        return self.sample(sample_id)

    def reject(self, sample_id: int, reason: str, seen: StoredSample | None = None) -> StoredSample:
        """Rejects the sample; the reason is required because it becomes an error note for the next batch."""
        self._decide([sample_id], "rejected", self._require_reason(reason), seen=seen)
        return self.sample(sample_id)

    def edit(self, sample_id: int, new_sample: AlpacaSample | dict, seen: StoredSample | None = None) -> StoredSample:
        """Accepts the sample with the person's corrections (identical to the original counts as approved)."""
        edited = _as_sample(new_sample, f"edited sample {sample_id}")
        if edited == self.sample(sample_id).original:
            return self.approve(sample_id, seen)
        self._decide([sample_id], "edited", current=edited, seen=seen)
        return self.sample(sample_id)

    def reset(self, sample_id: int, seen: StoredSample | None = None) -> StoredSample:
        """Undoes a decision: the sample is pending again, as generated."""
        self._decide([sample_id], "pending", seen=seen)
        return self.sample(sample_id)

    def bulk(
        self,
        sample_ids: Sequence[int],
        action: DecisionKind | str,
        reason: str = "",
        only_pending: bool = False,
    ) -> int:
        """Applies one decision (approve, reject or reset) to many samples at once, all or nothing; returns how
        many were changed.

        only_pending: leave samples someone decided since they were listed as they are (not overwritten).
        """
        status = _BULK_STATUS.get(action)  # type: ignore[call-overload]
        if status is None:
            raise UserError(f"unknown bulk action {action!r}; use approve, reject or reset")
        reason = self._require_reason(reason) if status == "rejected" else ""
        return self._decide(list(sample_ids), status, reason, only_from="pending" if only_pending else None)

    # --- tags (for filtering and coverage; not part of the exported sample) ----------------------------------

    def set_tags(self, sample_id: int, tags: str | Iterable[str]) -> StoredSample:
        """Replaces the sample's tags (comma-separated or a list); committed at once."""
        cleaned = clean_tags(tags)
        with self._transaction() as db:
            if not db.execute("UPDATE samples SET tags_json = ? WHERE id = ?",
                              (json.dumps(cleaned, ensure_ascii=False), sample_id)).rowcount:
                raise UserError(f"no sample with id {sample_id}; refresh the batch and try again")
        return self.sample(sample_id)

    def bulk_tag(self, sample_ids: Sequence[int], tag: str, remove: bool = False) -> int:
        """Adds (or removes) one tag on many samples at once, all or nothing; returns how many changed."""
        cleaned = clean_tags([tag])
        if len(cleaned) != 1:
            raise UserError("give one tag to add or remove (e.g. 'billing')")
        changed = 0
        with self._transaction() as db:
            for sample_id in sample_ids:
                row = db.execute("SELECT tags_json FROM samples WHERE id = ?", (sample_id,)).fetchone()
                if row is None:
                    raise UserError(f"no sample with id {sample_id}; refresh the batch and try again")
                tags = json.loads(row["tags_json"])
                new = [t for t in tags if t != cleaned[0]] if remove else clean_tags([*tags, cleaned[0]])
                if new != tags:
                    db.execute("UPDATE samples SET tags_json = ? WHERE id = ?", (json.dumps(new), sample_id))
                    changed += 1
        return changed

    def tag_counts(self, project_id: str, statuses: Sequence[SampleStatus] = ACCEPTED_STATUSES) -> dict[str, int]:
        """How many of the project's samples (accepted ones by default) carry each tag, most common first."""
        rows = self._query(
            "SELECT tag.value AS tag, COUNT(*) AS n FROM samples s JOIN batches b ON b.id = s.batch_id,"
            " json_each(s.tags_json) AS tag WHERE b.project_id = ?"
            f" AND s.status IN ({','.join('?' * len(statuses))}) GROUP BY tag.value ORDER BY n DESC, tag.value",
            [project_id, *statuses],
        )
        return {row["tag"]: row["n"] for row in rows}

    @staticmethod
    def _require_reason(reason: str) -> str:
        reason = " ".join((reason or "").split())
        if not reason:
            raise UserError(
                "rejecting needs a reason (e.g. 'answer is wrong', 'too similar to a seed'); "
                "it is fed back to the next batch"
            )
        return reason

    # --- what review produced -------------------------------------------------------------------------------

    def accepted_samples(self, project_id: str) -> list[AlpacaSample]:
        """Approved and edited samples (edits applied), in batch order: the dataset built so far."""
        return [s.current for s in self.project_samples(project_id, ACCEPTED_STATUSES)]

    def rejected_examples(self, project_id: str, limit: int = 5) -> list[tuple[AlpacaSample, str]]:
        """The most recent rejected samples with their reasons, oldest first (for the next prompt)."""
        rejected = self.project_samples(project_id, ["rejected"])
        return [(s.original, s.reason) for s in rejected[-limit:]] if limit > 0 else []

    def existing_texts(self, project_id: str) -> list[str]:
        """Questions of every sample not rejected (accepted, pending), as compared (tools.dataset.passages): new
        samples must differ from them."""
        return [compared_question(s.current) for s in self.project_samples(project_id, ["pending", *ACCEPTED_STATUSES])]

    def batch_stats(self, project_id: str) -> list[BatchStats]:
        """Per batch counts of each decision and the acceptance rate, in batch order."""
        rows = self._query(
            "SELECT b.id, b.number, COUNT(s.id) AS total,"
            " SUM(s.status = 'approved') AS approved, SUM(s.status = 'edited') AS edited,"
            " SUM(s.status = 'rejected') AS rejected, SUM(s.status = 'pending') AS pending"
            " FROM batches b LEFT JOIN samples s ON s.batch_id = b.id WHERE b.project_id = ?"
            " GROUP BY b.id ORDER BY b.number",
            (project_id,),
        )
        return [
            BatchStats(
                batch_id=r["id"],
                number=r["number"],
                total=r["total"],
                approved=r["approved"] or 0,
                edited=r["edited"] or 0,
                rejected=r["rejected"] or 0,
                pending=r["pending"] or 0,
            )
            for r in rows
        ]

    # --- error notes (ordered, editable) --------------------------------------------------------------------

    def notes(self, project_id: str) -> list[str]:
        return [
            r["text"]
            for r in self._query(
                "SELECT text FROM notes WHERE project_id = ? ORDER BY position", (project_id,)
            )
        ]

    def set_notes(self, project_id: str, notes: Iterable[str]) -> list[str]:
        """Replaces the list with the person's edited version (cleaned: no blanks or duplicates)."""
        return self.update_notes(project_id, lambda _: list(notes))

    def add_notes(self, project_id: str, new_notes: Iterable[str]) -> list[str]:
        """Appends notes not already in the list; returns the whole list."""
        return self.update_notes(project_id, lambda notes: merge_notes(notes, new_notes))

    def update_notes(self, project_id: str, change: Callable[[list[str]], Iterable[str]]) -> list[str]:
        """Reads the notes and writes change(notes) in one transaction, so a note another program adds at the
        same moment is never lost; returns the whole (cleaned) list."""
        self.project(project_id)
        with self._transaction() as db:
            current = [r["text"] for r in db.execute(
                "SELECT text FROM notes WHERE project_id = ? ORDER BY position", (project_id,)).fetchall()]
            cleaned = clean_notes(change(current))
            db.execute("DELETE FROM notes WHERE project_id = ?", (project_id,))
            db.executemany(
                "INSERT INTO notes (project_id, position, text) VALUES (?, ?, ?)",
                [(project_id, i, text) for i, text in enumerate(cleaned)],
            )
        return cleaned
