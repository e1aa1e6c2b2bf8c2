"""The built-in example project: a narrow task with seed rows, held-out rows and an exact-match metric, so a
newcomer sees the built-in model go from failing to passing in minutes on a CPU.

The task is date normalisation (any common English spelling of a date -> ISO 8601, YYYY-MM-DD): the base model
cannot do it reliably, a few minutes of LoRA teach it, and exact match judges it without an LLM.
Rows are generated from a fixed seed, so every machine trains and evaluates on the same data.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

EXAMPLE_NAME = "dates-to-iso"
EXAMPLE_TASK = "Rewrite any date the way our database stores it: ISO 8601, YYYY-MM-DD."
INSTRUCTION = "Write this date in ISO format (YYYY-MM-DD)."
TRAIN_ROWS = 120
HELD_OUT_ROWS = 20
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
# Ways people write dates; %B = month name, %b = its short form, day without a leading zero.
SPELLINGS = (
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{MONTHS[d.month - 1][:3]} {d.day} {d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3]}. {d.year}",
    lambda d: f"the {_ordinal(d.day)} of {MONTHS[d.month - 1]}, {d.year}",
    lambda d: f"{MONTHS[d.month - 1]} {_ordinal(d.day)} {d.year}",
)


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def example_rows(count: int, seed: int) -> list[dict[str, str]]:
    """Alpaca rows of distinct dates between 1950 and 2049, each in a randomly chosen spelling."""
    rng = random.Random(seed)
    start, days = date(1950, 1, 1), (date(2049, 12, 31) - date(1950, 1, 1)).days
    seen: set[date] = set()
    rows = []
    while len(rows) < count:
        day = start + timedelta(days=rng.randrange(days))
        if day in seen:
            continue
        seen.add(day)
        rows.append({"instruction": INSTRUCTION, "input": rng.choice(SPELLINGS)(day), "output": day.isoformat()})
    return rows


def example_dataset() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(train rows, held-out rows); no date appears in both."""
    rows = example_rows(TRAIN_ROWS + HELD_OUT_ROWS, seed=7)
    return rows[:TRAIN_ROWS], rows[TRAIN_ROWS:]


# Settings that take the built-in model from 0% to >= 80% exact on the held-out rows in a few CPU minutes:
# a high LoRA learning rate suits a small model and a narrow task; short rows need no long sequences; batches of 8
# because on a CPU the output layer's 262k x 640 weights are read once per batch whatever its size (memory-bound),
# so bigger batches cost little more per step than small ones.
EXAMPLE_TRAINING = {"method": "lora", "lora_r": 16, "lora_alpha": 32, "learning_rate": 1e-3, "batch_size": 8,
                    "grad_accum": 1, "max_steps": 30, "max_seq_len": 128, "lr_scheduler": "cosine",
                    "warmup_steps": 3, "save_steps": 15, "logging_steps": 3}
