"""The memory estimate against the measured peak RSS of `tunesmith train` on this CPU, for the built-in
gemma-3-270m at batch 1, 4 and 8 (LoRA, a few steps on a small dataset).

The estimates come from `tunesmith estimate --base-model gemma-3-270m --data DIR` (the same function as preflight's
memory check) in one process; each training run is its own process, and its peak RSS is the one the kernel
reports for that child when it is reaped (os.wait4). The parent imports no torch, so a child's peak is its own.
Writes its figures under "memory_estimate" in bench/results.json, keeping every other key.

With --gpu (on a machine with a CUDA GPU) it checks the GPU figure instead: random-weight models of published
shapes (Llama-2-7B, TinyLlama-1.1B, gemma-3-270m) take LoRA steps the way the trainer takes them (bf16 base, packed
row, logits at the given positions, AdamW), and the peak GPU memory (CUDA context + the allocator's peak reservation)
is set against the estimate; the figures go under "memory_estimate" → "gpu".

    python bench/bench_memory.py [--batch-sizes 1 4 8] [--max-steps 3] [--data bench/tasks/route-ticket]
    python bench/bench_memory.py --gpu [--gpu-out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
MODEL = "gemma-3-270m"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
       "PYTHONPATH": str(ROOT)}
# One process computes every estimate, printing one JSON line per batch size.
ESTIMATES = ("import contextlib, io, json, sys; from tools.cli import main\n"
             "for b in sys.argv[2:]:\n"
             "    out = io.StringIO()\n"
             "    with contextlib.redirect_stdout(out):\n"
             "        main(['estimate', '--base-model', '" + MODEL + "', '--data', sys.argv[1], '--batch-size', b, "
             "'--device', 'cpu', '--json'])\n"
             "    print(json.dumps({'batch_size': int(b), **json.loads(out.getvalue())}))\n")


def estimates(data: Path, batch_sizes: list[int]) -> dict[int, dict]:
    done = subprocess.run([sys.executable, "-c", ESTIMATES, str(data), *map(str, batch_sizes)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {row["batch_size"]: row for row in rows}


def train_once(data: Path, batch_size: int, max_steps: int, folder: Path) -> dict:
    """One `python -m tools.training.train` run; its peak RSS from the kernel's accounting of that child."""
    from tools.training.config import TrainConfig, save_config

    run = folder / f"run-b{batch_size}"
    config = TrainConfig(base_model=MODEL, data_dir=data, out_dir=run, method="lora", batch_size=batch_size,
                         grad_accum=1, max_steps=max_steps, epochs=1, learning_rate=1e-3, warmup_steps=0,
                         save_steps=1000, gradient_checkpointing=False)
    run.mkdir(parents=True)
    config_path = save_config(config, run / "config.json")
    started = time.monotonic()
    with (run / "train.log").open("wb") as log:
        child = subprocess.Popen([sys.executable, "-m", "tools.training.train", "--config", str(config_path)],
                                 cwd=ROOT, env=ENV, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait for it again
    progress = [json.loads(line) for line in (run / "progress.jsonl").read_text().splitlines()] \
        if (run / "progress.jsonl").is_file() else []
    return {"batch_size": batch_size, "exit": child.returncode, "seconds": round(time.monotonic() - started, 1),
            "measured_peak_gb": round(usage.ru_maxrss * 1024 / 1024**3, 2),  # ru_maxrss is in kB on Linux
            "steps": next((e.get("step") for e in reversed(progress) if e.get("event") == "done"), None)}


# (name, architecture, rows, tokens per row, answer tokens per row or None for every position, checkpointing)
GPU_CASES = [
    ("Llama-2-7B shape, 1 x 1024 tokens, logits everywhere (LLaMA-Factory's setting)",
     {"hidden_size": 4096, "num_layers": 32, "intermediate_size": 11008, "vocab_size": 32000}, 1, 1024, None, True),
    ("Llama-2-7B shape, 4 packed rows of 1024, logits at 128 answer tokens each",
     {"hidden_size": 4096, "num_layers": 32, "intermediate_size": 11008, "vocab_size": 32000}, 4, 1024, 128, True),
    ("TinyLlama-1.1B shape, 8 packed rows of 512, no checkpointing, logits everywhere",
     {"hidden_size": 2048, "num_layers": 22, "intermediate_size": 5632, "vocab_size": 32000,
      "num_attention_heads": 32, "num_key_value_heads": 4}, 8, 512, None, False),
    ("gemma-3-270m shape, 8 packed rows of 43, logits at 2 answer tokens each (route-ticket), no checkpointing",
     {"hidden_size": 640, "num_layers": 18, "intermediate_size": 2048, "vocab_size": 262144,
      "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256, "tie_word_embeddings": True},
     8, 43, 2, False),
]


def gpu_case(name: str, arch: dict, rows: int, row_len: int, answer_len: int | None, checkpointing: bool,
             context_bytes: int) -> dict:
    """One case: LoRA steps as the trainer takes them on a GPU, its peak memory against the estimate."""
    import torch
    from peft import LoraConfig, get_peft_model

    from tools.training.estimate import GB, estimate_training_memory

    torch.cuda.empty_cache()
    model = _random_model(arch)
    params = sum(p.numel() for p in model.parameters())
    model.config.use_cache = False
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
                                             task_type="CAUSAL_LM"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    tokens = rows * row_len
    ids = torch.randint(0, arch["vocab_size"], (1, tokens), device="cuda")
    positions = torch.arange(row_len, device="cuda").repeat(rows)[None]
    answer = row_len if answer_len is None else answer_len
    keep = torch.tensor([r * row_len + row_len - 1 - a for r in range(rows) for a in range(answer, 0, -1)
                         if r * row_len + row_len - 1 - a >= 0], device="cuda")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    for _ in range(2):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(input_ids=ids, position_ids=positions, logits_to_keep=keep, use_cache=False)
        loss = torch.nn.functional.cross_entropy(out.logits[0].float(), ids[0, keep + 1])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        del out, loss
    torch.cuda.synchronize()
    measured = (torch.cuda.max_memory_reserved() + context_bytes) / GB
    estimate = estimate_training_memory(params / 1e9, "lora", seq_len=row_len, batch_size=rows,
                                        gradient_checkpointing=checkpointing, device="gpu", tokens=tokens,
                                        logit_tokens=len(keep), **arch)
    del model, optimizer
    return {"case": name, "params_b": round(params / 1e9, 3), "estimate_gb": estimate.total_gb,
            "measured_gb": round(measured, 2), "allocated_peak_gb": round(torch.cuda.max_memory_allocated() / GB, 2),
            "ratio": round(estimate.total_gb / measured, 2), "breakdown": estimate.breakdown}


def _random_model(arch: dict):
    """A random-weight model of this shape, made in bf16 on the GPU (no download, no fp32 copy)."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, LlamaConfig, LlamaForCausalLM

    shape = dict(hidden_size=arch["hidden_size"], num_hidden_layers=arch["num_layers"],
                 intermediate_size=arch["intermediate_size"], vocab_size=arch["vocab_size"],
                 num_attention_heads=arch.get("num_attention_heads", arch["hidden_size"] // 128),
                 num_key_value_heads=arch.get("num_key_value_heads", arch["hidden_size"] // 128),
                 tie_word_embeddings=arch.get("tie_word_embeddings", False))
    if arch.get("head_dim"):
        config, model_class = Gemma3TextConfig(head_dim=arch["head_dim"], **shape), Gemma3ForCausalLM
    else:
        config, model_class = LlamaConfig(max_position_embeddings=4096, **shape), LlamaForCausalLM
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("cuda"):
            return model_class(config)
    finally:
        torch.set_default_dtype(torch.float32)


def gpu_check(out: Path | None) -> None:
    import torch

    torch.cuda.init()
    free, total = torch.cuda.mem_get_info()
    context = total - free  # the CUDA context and what the driver holds before any tensor
    cases = []
    for case in GPU_CASES:
        cases.append(gpu_case(*case, context_bytes=context))
        print(json.dumps(cases[-1]), flush=True)
    figures = {"measured": time.strftime("%Y-%m-%d %H:%M"), "device": torch.cuda.get_device_name(0),
               "torch": torch.__version__, "context_gb": round(context / 1024**3, 2), "cases": cases}
    if out:
        out.write_text(json.dumps(figures, indent=2) + "\n")
        return
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault("memory_estimate", {})["gpu"] = figures
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[1, 4, 8])
    parser.add_argument("--max-steps", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "tasks" / "route-ticket",
                        help="a folder with train.json (only that file is used: no evaluation during the runs)")
    parser.add_argument("--gpu", action="store_true", help="check the GPU figure instead (needs a CUDA GPU)")
    parser.add_argument("--gpu-out", type=Path, help="with --gpu: write the figures to this file instead")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.gpu:
        gpu_check(args.gpu_out)
        return
    with tempfile.TemporaryDirectory(prefix="tunesmith-memory-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        shutil.copy(args.data / "train.json", data / "train.json")
        estimated = estimates(data, args.batch_sizes)
        runs = []
        for batch_size in args.batch_sizes:
            run = train_once(data, batch_size, args.max_steps, Path(tmp))
            estimate = estimated[batch_size]
            run.update(estimate_gb=estimate["total_gb"], workload=estimate["workload"],
                       ratio=round(estimate["total_gb"] / run["measured_peak_gb"], 2) if run["measured_peak_gb"]
                       else None)
            runs.append(run)
            print(json.dumps(run), flush=True)
    rows = len(json.loads((args.data / "train.json").read_text()))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["memory_estimate"] = {
        **({"gpu": results["memory_estimate"]["gpu"]} if "gpu" in results.get("memory_estimate", {}) else {}),
        "measured": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{os.cpu_count()}-core CPU, no GPU",
        "model": MODEL, "method": "lora", "data": f"{args.data.relative_to(ROOT)}/train.json ({rows} rows)",
        "max_steps": args.max_steps, "runs": runs,
        "within_1_5x": all(r["ratio"] and 1 / 1.5 <= r["ratio"] <= 1.5 for r in runs)}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
