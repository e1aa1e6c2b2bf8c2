"""The Improve benchmark's stand-in for the drafted batch (bench/bench_improve.py): rows holding what the misses
share, never a held-out row."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_next_batch_holds_the_shared_word_and_no_held_out_row(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    from bench_improve import BATCH, next_batch

    held_out = json.loads((ROOT / "bench" / "tasks" / "house-style" / "eval.json").read_text())
    shared = [{"words": ["onboarding"], "questions": 6, "misses": 6, "in_training": 0}]
    batch = next_batch("house-style", shared, held_out, seed=42)
    assert 10 <= len(batch) <= BATCH and all("onboarding" in row["input"] for row in batch)
    assert not {row["input"] for row in batch} & {row["input"] for row in held_out}
    assert len({row["input"] for row in batch}) == len(batch)
    assert all(row["output"].startswith("Onboarding: ") for row in batch)
    assert "bench_improve" in sys.modules
