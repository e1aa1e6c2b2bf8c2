"""The built-in model on this machine, side by side in one run (results under "training" in bench/results.json):

1. trained tokens/s of our trainer (padding-free packed batches, logits only where a trained token is predicted)
   against a plain transformers Trainer + PEFT LoRA (dynamic padding, the model's own loss over every position),
   same rows, settings and steps, interleaved, best of REPEATS; and the fraction of the machine's measured fp32
   matmul peak that each reaches;
2. greedy decoding tokens/s of the evaluation path (batched, KV cache, stop at end of turn) against plain
   `model.generate` one prompt at a time;
3. with --example: the example project end to end (`tunesmith example`): held-out exact match, base vs tuned,
   and the minutes it took.

Run: `make bench` (about 10 minutes on 2 CPU cores; the built-in model is converted first if needed).
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from tools.dataset.schema import AlpacaSample
from tools.training import train
from tools.training.builtin import BUILTIN_NAME, ensure_builtin_model
from tools.training.config import TrainConfig
from tools.training.example import EXAMPLE_TRAINING, example_dataset
from tools.training.template import IGNORE_INDEX, encode_sample

RESULTS_FILE = Path(__file__).with_name("results.json")
REPEATS = 2
STEPS = 8


def matmul_peak_gflops(size: int = 1024, repeats: int = 20) -> float:
    """fp32 GFLOP/s of a square matmul with torch's threads: the machine's practical compute limit."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def step_flops(model, rows: list[dict]) -> float:
    """FLOPs of forward + backward on these rows with a frozen base: 2 per weight per token forward, 2 more for
    the input gradients backward; the output layer only where a trained token is predicted (what our trainer
    computes; the baseline computes it everywhere, which this deliberately does not count as useful work)."""
    config = model.config
    body = sum(p.numel() for name, p in model.named_parameters() if "embed" not in name and "lora" not in name)
    tokens = sum(len(r["input_ids"]) for r in rows)
    predicted = sum(sum(label != IGNORE_INDEX for label in r["labels"]) for r in rows)
    return 4 * body * tokens + 4 * config.hidden_size * config.vocab_size * predicted


def our_trainer(config: TrainConfig, rows: list[dict], model_path: str, tokenizer):
    from datasets import Dataset

    model = train.prepare_model(config, train.load_base_model(config, model_path, train.resolve_compute_dtype(config)),
                                model_path)
    return train.answer_loss_trainer_class()(
        model=model, args=train.training_args(config, train.resolve_compute_dtype(config), has_eval=False),
        train_dataset=Dataset.from_list(rows), data_collator=train.PackedBatch(), processing_class=tokenizer)


def plain_trainer(config: TrainConfig, rows: list[dict], model_path: str, tokenizer):
    """The yardstick: transformers Trainer + PEFT LoRA as its docs show it, with dynamic padding."""
    import torch
    from datasets import Dataset
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, DataCollatorForSeq2Seq, Trainer, TrainingArguments

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32),
                           train.lora_config(config))
    args = TrainingArguments(output_dir=str(config.out_dir), max_steps=config.max_steps,
                             per_device_train_batch_size=config.batch_size, learning_rate=config.learning_rate,
                             save_strategy="no", report_to="none", disable_tqdm=True, use_cpu=True,
                             seed=config.seed, remove_unused_columns=False)
    return Trainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                   data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX))


def measure_training(root: Path, model_path: str, tokenizer) -> dict:
    train_rows, _ = example_dataset()
    rows = [{"input_ids": e.input_ids, "labels": e.labels}
            for e in (encode_sample(tokenizer, AlpacaSample.model_validate(r)) for r in train_rows)]
    settings = {**EXAMPLE_TRAINING, "max_steps": STEPS, "logging_steps": 1000, "save_steps": 1000,
                "warmup_steps": 0}
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "train.json").write_text(json.dumps(train_rows), encoding="utf-8")
    config = TrainConfig(base_model=model_path, data_dir=root / "data", out_dir=root / "run", **settings)
    used_rows = rows[: STEPS * config.batch_size]  # the rows both runs see (one epoch is longer than STEPS)
    trained_tokens = sum(len(r["input_ids"]) for r in used_rows)
    peak = matmul_peak_gflops()
    runs = {"plain Trainer + PEFT LoRA (dynamic padding)": plain_trainer, "tunesmith train": our_trainer}
    best: dict[str, float] = {}
    flops = None
    for _ in range(REPEATS):  # interleaved: a busy machine slows both alike
        for name, make in runs.items():
            trainer = make(config, rows, model_path, tokenizer)
            flops = flops or step_flops(trainer.model, used_rows)
            started = time.perf_counter()
            trainer.train()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
    results = []
    for name, seconds in best.items():
        results.append({"run": name, "seconds": round(seconds, 2), "trained_tokens": trained_tokens,
                        "trained_tokens_per_s": round(trained_tokens / seconds, 1),
                        "useful_gflops_per_s": round(flops / seconds / 1e9, 2),
                        "fraction_of_matmul_peak": round(flops / seconds / 1e9 / peak, 3)})
    baseline = results[0]["trained_tokens_per_s"]
    for row in results:
        row["speedup"] = round(row["trained_tokens_per_s"] / baseline, 2)
    return {"steps": STEPS, "batch_size": config.batch_size, "matmul_peak_gflops": round(peak, 1),
            "results": results}


def measure_decoding(model_path: str) -> dict:
    """Held-out prompts of the example, greedy, same max_new_tokens: our batched path vs one-by-one generate."""
    import torch

    from tools.training.inference import ModelBundle, generate_batch, load_causal_lm, load_tokenizer, stop_token_ids
    from tools.training.template import prompt_ids, sample_messages

    _, held_out = example_dataset()
    bundle = ModelBundle(load_causal_lm(model_path), load_tokenizer(model_path), model_path, False)
    conversations = [sample_messages(AlpacaSample.model_validate(r), with_answer=False) for r in held_out]
    new_tokens = 24

    def count(texts: list[str]) -> int:
        return sum(len(bundle.tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in texts)

    started = time.perf_counter()
    ours = [answer.text for answer in generate_batch(bundle, conversations, new_tokens)]
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    plain = []
    for messages in conversations:
        ids = torch.tensor([prompt_ids(bundle.tokenizer, messages)])
        with torch.no_grad():
            out = bundle.model.generate(ids, max_new_tokens=new_tokens, do_sample=False,
                                        eos_token_id=stop_token_ids(bundle))
        plain.append(bundle.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip())
    plain_s = time.perf_counter() - started
    same = sum(a == b for a, b in zip(ours, plain))
    return {"prompts": len(conversations), "max_new_tokens": new_tokens,
            "ours_tokens_per_s": round(count(ours) / ours_s, 1), "plain_tokens_per_s": round(count(plain) / plain_s, 1),
            "speedup": round((count(ours) / ours_s) / (count(plain) / plain_s), 2), "same_answers": same}


def main(argv: list[str]) -> int:
    import torch
    from transformers import AutoTokenizer

    model_path = str(ensure_builtin_model())
    report: dict = {"model": BUILTIN_NAME, "device": "cpu", "threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        report["training"] = measure_training(Path(tmp), model_path, tokenizer)
        for row in report["training"]["results"]:
            print(f"{row['run']:45} {row['seconds']:7.1f} s {row['trained_tokens_per_s']:7.1f} tok/s "
                  f"{row['fraction_of_matmul_peak']:6.1%} of peak  x{row['speedup']}")
        report["decoding"] = measure_decoding(model_path)
        print("decoding:", report["decoding"])
        if "--example" in argv:
            from tools.training.example_cli import run_example

            summary = run_example(Path(tmp) / "example")
            report["example"] = {k: v for k, v in summary.items() if k not in ("examples", "run")}
            print("example:", report["example"])
    results = json.loads(RESULTS_FILE.read_text(encoding="utf-8")) if RESULTS_FILE.is_file() else {}
    results["training"] = report
    RESULTS_FILE.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"written {RESULTS_FILE} (key 'training')")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
