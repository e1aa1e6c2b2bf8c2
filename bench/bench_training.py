"""Trained tokens/s and padding waste: our SFTTrainer run (dynamic padding, and packing) against a plain
transformers Trainer that pads every sample to max length. Same tiny QLoRA model, data and settings.

Run: `.venv/bin/python bench/bench_training.py` (about a minute on 2 CPU cores); writes bench/results.json.
"""
from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

from tools.dataset.schema import AlpacaSample
from tools.training import train
from tools.training.config import TrainConfig
from tools.training.tiny_model import build_tiny_model

RESULTS_FILE = Path(__file__).with_name("results.json")
REPEATS = 3
WORDS = "alpha beta gamma delta river mountain capital city north south answer question".split()


def synthetic_samples(count: int, seed: int = 0) -> list[dict]:
    """Alpaca rows whose lengths vary a lot, as real instruction data does (short answers, long inputs)."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.choice([3, 5, 10, 20, 40, 70])))
        rows.append({"instruction": f"Repeat the last word of text {index}.", "input": text,
                     "output": f"The last word is {text.split()[-1]}."})
    return rows


class CountingCollator:
    """Wraps a data collator to count the real and the padding tokens of every batch it builds."""

    def __init__(self, collator, pad_token_id: int):
        self.collator = collator
        self.pad_token_id = pad_token_id
        self.real_tokens = 0
        self.total_tokens = 0

    def __call__(self, features):
        batch = self.collator(features)
        ids = batch["input_ids"]
        mask = batch.get("attention_mask")
        real = int(mask.sum()) if mask is not None else int((ids != self.pad_token_id).sum())
        self.real_tokens += real
        self.total_tokens += ids.numel()
        return batch


def sft_trainer(config: TrainConfig, samples: list[AlpacaSample], tokenizer):
    """Our run's trainer, built from the same pieces train.main uses."""
    from trl import SFTTrainer

    dataset, loss_mode = train.build_dataset(samples, tokenizer)
    dtype = train.resolve_compute_dtype(config)
    return SFTTrainer(model=train.load_base_model(config, config.base_model, dtype),
                      args=train.sft_config(config, loss_mode, dtype, has_eval=False),
                      train_dataset=dataset, processing_class=tokenizer,
                      peft_config=train.lora_config(config))


def padded_trainer(config: TrainConfig, samples: list[AlpacaSample], tokenizer):
    """The usual baseline: every sample padded to max_seq_len, plain Trainer, same QLoRA model."""
    from datasets import Dataset
    from peft import get_peft_model
    from transformers import Trainer, TrainingArguments, default_data_collator

    rows = []
    for sample in samples:
        encoded = tokenizer.apply_chat_template(train.alpaca_to_messages(sample), return_dict=True,
                                                return_assistant_tokens_mask=True)
        ids = encoded["input_ids"][: config.max_seq_len]
        labels = [t if keep else -100 for t, keep in zip(ids, encoded["assistant_masks"])]
        pad = config.max_seq_len - len(ids)
        rows.append({"input_ids": ids + [tokenizer.pad_token_id] * pad, "labels": labels + [-100] * pad,
                     "attention_mask": [1] * len(ids) + [0] * pad})
    dtype = train.resolve_compute_dtype(config)
    model = get_peft_model(train.load_base_model(config, config.base_model, dtype), train.lora_config(config))
    args = TrainingArguments(
        output_dir=str(config.out_dir), max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum, learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler, activation_checkpointing=config.gradient_checkpointing,
        save_strategy="no", logging_steps=config.logging_steps, report_to="none", disable_tqdm=True,
        seed=config.seed, use_cpu=True)
    if config.gradient_checkpointing:
        model.enable_input_require_grads()
    return Trainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                   data_collator=default_data_collator)


def measure(name: str, trainer, pad_token_id: int) -> dict:
    counter = CountingCollator(trainer.data_collator, pad_token_id)
    trainer.data_collator = counter
    started = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - started
    return {"run": name, "seconds": round(seconds, 2), "steps": trainer.state.global_step,
            "trained_tokens": counter.real_tokens, "processed_tokens": counter.total_tokens,
            "trained_tokens_per_s": round(counter.real_tokens / seconds, 1),
            "padding_waste": round(1 - counter.real_tokens / max(counter.total_tokens, 1), 3),
            "train_loss": round(result.training_loss, 4)}


def main() -> int:
    import torch
    from transformers import AutoTokenizer

    torch.manual_seed(0)
    rows = synthetic_samples(96)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = build_tiny_model(root / "base", [r["input"] + " " + r["output"] for r in rows[:20]])
        (root / "data").mkdir()
        (root / "data" / "train.json").write_text(json.dumps(rows))
        settings = dict(base_model=str(base), data_dir=root / "data", max_steps=15, batch_size=8,
                        grad_accum=1, max_seq_len=256, learning_rate=1e-3, save_steps=1000,
                        logging_steps=1000)
        tokenizer = AutoTokenizer.from_pretrained(base)
        samples = [AlpacaSample.model_validate(r) for r in rows]
        padded, dynamic, packed = (TrainConfig(out_dir=root / name, packing=name == "packed", **settings)
                                   for name in ("padded", "dynamic", "packed"))
        runs = [("plain Trainer, pad to max_length", lambda: padded_trainer(padded, samples, tokenizer)),
                ("ours: SFTTrainer, dynamic padding", lambda: sft_trainer(dynamic, samples, tokenizer)),
                ("ours: SFTTrainer, packing", lambda: sft_trainer(packed, samples, tokenizer))]
        # The machine is shared: runs are interleaved and each keeps its fastest of REPEATS tries.
        best: dict[str, dict] = {}
        for _ in range(REPEATS):
            for name, make_trainer in runs:
                row = measure(name, make_trainer(), tokenizer.pad_token_id)
                if name not in best or row["trained_tokens_per_s"] > best[name]["trained_tokens_per_s"]:
                    best[name] = row
        results = [best[name] for name, _ in runs]

    baseline = results[0]["trained_tokens_per_s"]
    for row in results:
        row["speedup_vs_padded"] = round(row["trained_tokens_per_s"] / baseline, 2)
    print(f"{'run':36} {'s':>6} {'trained tok':>11} {'processed':>9} {'tok/s':>8} {'pad waste':>9} {'x':>5}")
    for r in results:
        print(f"{r['run']:36} {r['seconds']:6.1f} {r['trained_tokens']:11d} {r['processed_tokens']:9d} "
              f"{r['trained_tokens_per_s']:8.0f} {r['padding_waste']:9.1%} {r['speedup_vs_padded']:5.2f}")
    shown = {k: v for k, v in settings.items() if k not in ("base_model", "data_dir")}
    report = {"benchmark": "training throughput and padding waste", "device": "cpu",
              "threads": torch.get_num_threads(), "samples": len(rows), "repeats": REPEATS, "settings": shown,
              "results": results}
    RESULTS_FILE.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"written {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
