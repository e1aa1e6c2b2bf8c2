"""Assembles the chat messages that ask the LLM for one batch of samples."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence

from prompts.generation import (
    CORRECTION,
    CORRECTION_FIELD,
    EMPTY_SLOT,
    GENERATION_REQUEST,
    GENERATION_SYSTEM_PROMPT,
    MORE_CORRECTIONS,
)
from tools.dataset.schema import AlpacaSample
from tools.generation.notes import Correction, case_label

EXAMPLES_PER_PROMPT = 5
MAX_REJECTED_IN_PROMPT = 5
MAX_AVOID_IN_PROMPT = 40
AVOID_TEXT_CHARS = 160
MAX_CORRECTIONS_IN_PROMPT = 8  # the newest edits, as before -> after pairs (the prompt stays small)
CORRECTION_CHARS = 400  # each side of a corrected field: whole, unless very long
# (count, the shared slots of review_slots) -> the chat messages of another kind of request (a retrieval batch's)
PromptBuilder = Callable[[int, dict[str, str]], list[dict[str, str]]]


def choose_seeds(
    count: int, k: int = EXAMPLES_PER_PROMPT, usage: Mapping[int, int] | None = None, rng_seed: int = 0
) -> list[int]:
    """Indices of k seeds (of count): the least used so far, ties broken at random (seeded by rng_seed).

    usage maps a seed index to how often it was shown; preferring the least used gives every seed its turn
    and no two consecutive batches see the same examples when there are enough seeds.
    """
    usage = usage or {}
    rng = random.Random(rng_seed)
    keyed = sorted((usage.get(i, 0), rng.random(), i) for i in range(count))
    return [i for _, _, i in keyed[: min(k, count)]]


def sample_json(sample: AlpacaSample) -> str:
    """One sample as compact JSON, as the model should write it (the project sets system, not the model)."""
    record = {"instruction": sample.instruction, "input": sample.input, "output": sample.output}
    if sample.history:
        record["history"] = [list(turn) for turn in sample.history]
    return json.dumps(record, ensure_ascii=False)


def _shorten(text: str, limit: int = AVOID_TEXT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"- {line}" for line in lines) if lines else EMPTY_SLOT


def corrections_text(corrections: Sequence[Correction]) -> str:
    """The newest corrections as what was wrong plus each corrected field before and after; how many more exist."""
    shown = list(corrections)[-MAX_CORRECTIONS_IN_PROMPT:]
    blocks = []
    for correction in shown:
        lines = [CORRECTION.format(wrong=correction.wrong, case=json.dumps(case_label(correction.before),
                                                                           ensure_ascii=False))]
        lines += [CORRECTION_FIELD.format(
            name=change.name, before=json.dumps(_shorten(getattr(correction.before, change.name), CORRECTION_CHARS),
                                                ensure_ascii=False),
            after=json.dumps(_shorten(getattr(correction.after, change.name), CORRECTION_CHARS), ensure_ascii=False))
            for change in correction.changes]
        blocks.append("\n".join(lines))
    if len(corrections) > len(shown):
        blocks.append(MORE_CORRECTIONS.format(count=len(corrections) - len(shown), shown=len(shown)))
    return "\n".join(blocks) or EMPTY_SLOT


def review_slots(examples: Sequence[AlpacaSample], notes: Sequence[str], rejected: Sequence[tuple[AlpacaSample, str]],
                 avoid_texts: Sequence[str], corrections: Sequence[Correction] = ()) -> dict[str, str]:
    """The slots every drafting request shares (ordinary and retrieval batches): the person's examples, the error
    notes, the reviewers' edits as before -> after corrections, recent rejections with their reasons and the
    questions already written."""
    rejected_lines = [f"{sample_json(sample)}\n  reason: {reason}"
                      for sample, reason in list(rejected)[-MAX_REJECTED_IN_PROMPT:]]
    return {"examples": "\n".join(sample_json(sample) for sample in examples) or EMPTY_SLOT,
            "notes": _bullets([note.strip() for note in notes if note.strip()]),
            "corrections": corrections_text(corrections),
            "rejected": _bullets(rejected_lines),
            "avoid": _bullets([_shorten(text) for text in list(avoid_texts)[-MAX_AVOID_IN_PROMPT:]])}


def build_batch_prompt(
    task: str,
    examples: Sequence[AlpacaSample],
    count: int,
    system: str = "",
    notes: Sequence[str] = (),
    rejected: Sequence[tuple[AlpacaSample, str]] = (),
    avoid_texts: Sequence[str] = (),
    corrections: Sequence[Correction] = (),
    other_request: PromptBuilder | None = None,
) -> list[dict[str, str]]:
    """Chat messages (OpenAI-style role/content dicts) asking for `count` new samples.

    examples: the seeds to show (see choose_seeds); notes: error notes from earlier reviews; rejected: recent
    (sample, reason) pairs; avoid_texts: questions already written (only the most recent few are shown);
    corrections: reviewers' edits, oldest first (the newest few are shown as before -> after pairs).
    other_request: writes another kind of request (tools.rag.raft: a retrieval batch's) with the same shared slots.
    """
    slots = review_slots(examples, notes, rejected, avoid_texts, corrections)
    if other_request is not None:
        return other_request(count, slots)
    request = GENERATION_REQUEST.format(task=task.strip(), system=system.strip() or EMPTY_SLOT, count=count, **slots)
    return [{"role": "system", "content": GENERATION_SYSTEM_PROMPT}, {"role": "user", "content": request}]
