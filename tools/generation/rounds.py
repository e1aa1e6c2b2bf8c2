"""One generation round on a stored project: draft the next batch, then learn from its review."""

from __future__ import annotations

from typing import Any

from tools.errors import UserError
from tools.generation.batch import DEFAULT_BATCH_SIZE, BatchResult, generate_batch
from tools.generation.notes import corrections_from_reviews, notes_from_reviews
from tools.generation.project_dataset import flag_twins
from tools.generation.prompt import EXAMPLES_PER_PROMPT, PromptBuilder, build_batch_prompt, choose_seeds
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
    result = generate_batch(chat_model, n=n, **_round_inputs(store, project_id), **options)
    store.record_seed_use(project_id, result.seed_indices)
    batch = store.add_batch(project_id, result.samples) if result.samples else None
    if batch is not None:
        flag_twins(store, project_id, batch)  # a question asked before is shown as such, never dropped unseen
    return batch, result


def _round_inputs(store: ReviewStore, project_id: str) -> dict[str, Any]:
    """What the next batch is asked with: task, seeds, system, notes, the edits of submitted batches (as
    corrections), rejected examples, questions to avoid."""
    project = store.project(project_id)
    batches = store.batches(project_id)
    submitted = {batch.id for batch in batches if batch.status == "submitted"}
    edited = [s for s in store.project_samples(project_id, ["edited"]) if s.batch_id in submitted]
    return {"task": project.task, "seeds": project.seeds, "system": project.system,
            "notes": store.notes(project_id), "rejected": store.rejected_examples(project_id),
            "corrections": corrections_from_reviews(edited), "existing_texts": store.existing_texts(project_id),
            "seed_usage": project.seed_usage, "rng_seed": len(batches)}


def next_batch_request(store: ReviewStore, project_id: str, n: int = DEFAULT_BATCH_SIZE,
                       build_prompt: PromptBuilder | None = None) -> str:
    """The request the next batch will send (its first attempt), word for word, so the reviewer can read it;
    build_prompt: the one the batch will be drafted with, if not the ordinary one (a retrieval batch's)."""
    inputs = _round_inputs(store, project_id)
    seeds = inputs["seeds"]
    chosen = choose_seeds(len(seeds), EXAMPLES_PER_PROMPT, inputs["seed_usage"], inputs["rng_seed"])
    messages = build_batch_prompt(inputs["task"], [seeds[i] for i in chosen], n, inputs["system"], inputs["notes"],
                                  inputs["rejected"], avoid_texts=inputs["existing_texts"],
                                  corrections=inputs["corrections"], other_request=build_prompt)
    return messages[-1]["content"]


def learn_from_batch(store: ReviewStore, batch_id: int) -> list[str]:
    """Submits a reviewed batch and adds its error notes to the project; returns the whole notes list.

    A batch already submitted (e.g. from the terminal while the app waited) is left as it is: its notes were
    added then, and the person may have edited them since."""
    batch = store.batch(batch_id)
    if batch.status == "submitted":
        return store.notes(batch.project_id)
    batch = store.submit_batch(batch_id)
    in_order_made = sorted(store.batch_samples(batch_id), key=lambda sample: sample.updated)  # newest lesson wins
    return store.add_notes(batch.project_id, notes_from_reviews(in_order_made))
