"""Assembles the chat messages that ask the LLM for one batch of samples."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence

from prompts.generation import EMPTY_SLOT, GENERATION_REQUEST, GENERATION_SYSTEM_PROMPT
from tools.dataset.schema import AlpacaSample

EXAMPLES_PER_PROMPT = 5
MAX_REJECTED_IN_PROMPT = 5
MAX_AVOID_IN_PROMPT = 40
AVOID_TEXT_CHARS = 160


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


def build_batch_prompt(
    task: str,
    examples: Sequence[AlpacaSample],
    count: int,
    system: str = "",
    notes: Sequence[str] = (),
    rejected: Sequence[tuple[AlpacaSample, str]] = (),
    avoid_texts: Sequence[str] = (),
) -> list[dict[str, str]]:
    """Chat messages (OpenAI-style role/content dicts) asking for `count` new samples.

    examples: the seeds to show (see choose_seeds); notes: error notes from earlier reviews; rejected: recent
    (sample, reason) pairs; avoid_texts: questions already written (only the most recent few are shown).
    """
    rejected_lines = [
        f"{sample_json(sample)}\n  reason: {reason}"
        for sample, reason in list(rejected)[-MAX_REJECTED_IN_PROMPT:]
    ]
    request = GENERATION_REQUEST.format(
        task=task.strip(),
        system=system.strip() or EMPTY_SLOT,
        examples="\n".join(sample_json(sample) for sample in examples) or EMPTY_SLOT,
        notes=_bullets([note.strip() for note in notes if note.strip()]),
        rejected=_bullets(rejected_lines),
        avoid=_bullets([_shorten(text) for text in list(avoid_texts)[-MAX_AVOID_IN_PROMPT:]]),
        count=count,
    )
    return [{"role": "system", "content": GENERATION_SYSTEM_PROMPT}, {"role": "user", "content": request}]
