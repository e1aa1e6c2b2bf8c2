"""A project's reviewed work as a dataset: the rows a build takes (accepted samples and seeds, each with its review
id and rank), twins flagged when a batch arrives, conflicts the person resolves, and the build as a new version."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tools.dataset.dedup import NearDuplicateIndex
from tools.dataset.meaning import MeaningIndex, meaning_pairs
from tools.dataset.passages import compared_question
from tools.dataset.row_keys import find_conflicts
from tools.dataset.schema import RANK_APPROVED, RANK_EDITED, RANK_SEED, AlpacaSample, ReviewedRow
from tools.dataset.versions import BuildSettings, build_version
from tools.errors import BAD_CONTENT, UserError
from tools.generation.notes import RESOLUTION_REASON
from tools.generation.store import ACCEPTED_STATUSES, Batch, ReviewStore, StoredSample

KEEP_BOTH_TAG = "keep-both"
DUPLICATE_TAG = "duplicate of {twin}"
REWORDED_TAG = "duplicate of {twin} reworded"  # the same question in other words (tags allow no brackets)


def sample_row_id(sample_id: int) -> str:
    return f"sample:{sample_id}"


def project_rows(store: ReviewStore, project_id: str, include_seeds: bool = True) -> list[ReviewedRow]:
    """Seeds (when included) then approved and edited samples in batch order, with ranks: edit > seed > approved."""
    project = store.project(project_id)
    rows = [ReviewedRow(seed, f"seed:{i}", RANK_SEED) for i, seed in enumerate(project.seeds, start=1)
            ] if include_seeds else []
    rows += [ReviewedRow(s.current, sample_row_id(s.id), RANK_EDITED if s.status == "edited" else RANK_APPROVED,
                         KEEP_BOTH_TAG in s.tags)
             for s in store.project_samples(project_id, ACCEPTED_STATUSES)]
    return rows


@dataclass
class Conflict:
    """One question asked with different answers: the row ids, the stored samples among them, and the seeds."""

    ids: list[str]
    samples: list[StoredSample]
    seeds: list[tuple[str, AlpacaSample]]
    kept_by_default: str  # what a build keeps until the person decides


def project_conflicts(store: ReviewStore, project_id: str) -> list[Conflict]:
    """Unresolved conflicts among the accepted samples and seeds (a group all marked keep-both is resolved)."""
    rows = project_rows(store, project_id)
    by_id = {s.id: s for s in store.project_samples(project_id, ACCEPTED_STATUSES)}
    conflicts = []
    for group in find_conflicts([row.sample for row in rows]):
        members = [rows[i] for i in group]
        if all(row.keep_both or row.id.startswith("seed:") for row in members):
            continue
        winner = min(group, key=lambda i: (-rows[i].rank, i))
        conflicts.append(Conflict(
            ids=[row.id for row in members],
            samples=[by_id[int(row.id.split(":")[1])] for row in members if row.id.startswith("sample:")],
            seeds=[(row.id, row.sample) for row in members if row.id.startswith("seed:")],
            kept_by_default=rows[winner].id))
    return conflicts


def resolve_conflict(
    store: ReviewStore, sample_ids: Sequence[int], action: str, keep_id: int | None = None, merged_output: str = ""
) -> str:
    """keep_one: the others are rejected; keep_both: all are marked keep-both; merge: keep_id gets merged_output
    as its answer (an edit) and the others are rejected. Returns what was done, in words."""
    ids = list(dict.fromkeys(sample_ids))
    if action == "keep_both":
        store.bulk_tag(ids, KEEP_BOTH_TAG)
        return f"Kept both answers: samples {', '.join(map(str, ids))} all go into the dataset."
    if keep_id not in ids:
        raise UserError(f"choose which sample to keep: one of {', '.join(map(str, ids))}")
    others = [i for i in ids if i != keep_id]
    if action == "merge":
        if not merged_output.strip():
            raise UserError("write the merged answer first; it replaces the kept sample's answer")
        kept = store.sample(keep_id).current
        store.edit(keep_id, kept.model_copy(update={"output": merged_output.strip()}))
        reason = f"{RESOLUTION_REASON} merged into sample {keep_id}"
    elif action == "keep_one":
        reason = f"{RESOLUTION_REASON} sample {keep_id} kept instead"
    else:
        raise UserError(f"unknown resolution {action!r}; use keep_one, keep_both or merge")
    for other in others:
        store.reject(other, reason)
    verb = "Merged into" if action == "merge" else "Kept"
    return f"{verb} sample {keep_id}; rejected {', '.join(map(str, others))} ('{reason}')."


def flag_twins(store: ReviewStore, project_id: str, batch: Batch) -> int:
    """Tags each sample of a newly arrived batch whose question (instruction + input) repeats, nearly repeats or
    rewords (tools.dataset.meaning) a seed, a sample not rejected, or an earlier one of the same batch
    ("duplicate of 12", "duplicate of 12 reworded"); returns how many."""
    seeds = store.project(project_id).seeds
    earlier = [(f"seed {i}", compared_question(seed)) for i, seed in enumerate(seeds, start=1)]
    earlier += [(str(s.id), compared_question(s.current))
                for s in store.project_samples(project_id, ["pending", *ACCEPTED_STATUSES]) if s.batch_id != batch.id]
    words, meaning = NearDuplicateIndex(), MeaningIndex()
    for key, text in earlier:
        words.add(key, text)
        meaning.add(key, text)
    flagged = 0
    for s in store.batch_samples(batch.id):
        text = compared_question(s.current)
        twin = words.find(text)
        tag = DUPLICATE_TAG if twin is not None else REWORDED_TAG
        twin = twin if twin is not None else meaning.find(text)
        if twin is None:
            words.add(str(s.id), text)
            meaning.add(str(s.id), text)
            continue
        store.set_tags(s.id, [*s.tags, tag.format(twin=twin)])
        flagged += 1
    return flagged


def import_for_review(store: ReviewStore, project_id: str, samples: list[AlpacaSample]) -> tuple[Batch, int]:
    """Adds rows from a file as a new batch to review like generated ones; returns it and how many are twins."""
    open_batch = store.open_batch(project_id)
    if open_batch is not None:
        raise UserError(f"batch {open_batch.number} is still under review; submit it before importing more rows")
    if not samples:
        raise UserError("the file has no usable rows to import", BAD_CONTENT)
    batch = store.add_batch(project_id, samples)
    return batch, flag_twins(store, project_id, batch)


def twins_of(texts: Sequence[str], held: Sequence[str]) -> set[int]:
    """Indices of the texts that ask one of the held questions: the same, a near-twin in words, or in meaning."""
    if not held:
        return set()
    words = NearDuplicateIndex()
    for i, text in enumerate(held):
        words.add(f"held {i}", text)
    found = {k for k, text in enumerate(texts) if words.find(text) is not None}
    together = [*texts, *held]
    found |= {i for i, _, _ in meaning_pairs(together, rows=range(len(texts)), against=range(len(texts),
                                                                                               len(together)))}
    return found


def build_project_version(store: ReviewStore, project_id: str, root: Path | str, settings: BuildSettings,
                          leave_out: Sequence[AlpacaSample] = ()) -> dict:
    """A new dataset version from the accepted samples (edits applied) and, unless switched off, the seeds.

    leave_out: held-out rows of an earlier round (its evaluation split); a row asking the same question, or a twin
    of it (in words or in meaning), stays out of this version, so a new round is scored on rows it never trained
    on."""
    project = store.project(project_id)
    rows = project_rows(store, project_id, settings.include_seeds)
    twins = twins_of([compared_question(row.sample) for row in rows], [compared_question(s) for s in leave_out])
    kept = [row for k, row in enumerate(rows) if k not in twins]
    if not kept:
        raise UserError("there are no accepted samples or seeds yet: review a batch (approve or edit samples) first")
    statuses = [s.status for s in store.project_samples(project_id, ACCEPTED_STATUSES)]
    described = [{"source": "approved samples", "rows": statuses.count("approved")},
                 {"source": "edited samples", "rows": statuses.count("edited")},
                 {"source": "seeds", "rows": len(project.seeds) if settings.include_seeds else 0}]
    if len(kept) < len(rows):
        described.append({"source": "left out: held-out rows of the first round and their twins",
                          "rows": len(rows) - len(kept)})
    rows = kept
    settings = replace(settings, system=settings.system.strip() or project.system)
    return build_version(rows, root, "reviewed", settings, tag_counts=store.tag_counts(project_id),
                         described_inputs=described)
