"""One generation round on a stored project: draft the next batch, then learn from its review."""

from __future__ import annotations

from typing import Any

from tools.errors import UserError
from tools.generation.batch import DEFAULT_BATCH_SIZE, BatchResult, generate_batch
from tools.generation.notes import notes_from_reviews
from tools.generation.store import Batch, ReviewStore


def generate_next_batch(
    store: ReviewStore, project_id: str, chat_model: Any, n: int = DEFAULT_BATCH_SIZE, **options: Any
) -> tuple[Batch | None, BatchResult]:
    """Generates a batch with the project's seeds, notes, rejected examples and dedup texts, and stores it.

    Whatever valid samples came back are stored for review even when the batch is incomplete (result.complete
    and result.message say so); nothing is stored when none came back. options go to generate_batch
    (max_attempts, backoff_s...).
    """
    project = store.project(project_id)
    if store.open_batch(project_id) is not None:
        raise UserError("the previous batch is still under review; submit it before generating the next one")
    if not project.seeds:
        raise UserError("the project has no seed examples; add a few (e.g. 20) first")
    result = generate_batch(
        chat_model,
        project.task,
        project.seeds,
        n=n,
        system=project.system,
        notes=store.notes(project_id),
        rejected=store.rejected_examples(project_id),
        existing_texts=store.existing_texts(project_id),
        seed_usage=project.seed_usage,
        rng_seed=len(store.batches(project_id)),
        **options,
    )
    store.record_seed_use(project_id, result.seed_indices)
    batch = store.add_batch(project_id, result.samples) if result.samples else None
    return batch, result


def learn_from_batch(store: ReviewStore, batch_id: int) -> list[str]:
    """Submits a reviewed batch and adds its error notes to the project; returns the whole notes list.

    A batch already submitted (e.g. from the terminal while the app waited) is left as it is: its notes were
    added then, and the person may have edited them since."""
    batch = store.batch(batch_id)
    if batch.status == "submitted":
        return store.notes(batch.project_id)
    batch = store.submit_batch(batch_id)
    return store.add_notes(batch.project_id, notes_from_reviews(store.batch_samples(batch_id)))
