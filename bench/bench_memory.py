"""The memory estimate against the measured peak RSS of `tunesmith train` on this CPU, for the built-in
gemma-3-270m at batch 1, 4 and 8 (LoRA, a few steps on a small dataset).

The estimates come from `tunesmith estimate --base-model gemma-3-270m --data DIR` (the same function as preflight's
memory check) in one process; each training run is its own process, and its peak RSS is the one the kernel
reports for that child when it is reaped (os.wait4). The parent imports no torch, so a child's peak is its own.
Writes its figures under "memory_estimate" in bench/results.json, keeping every other key.

    python bench/bench_memory.py [--batch-sizes 1 4 8] [--max-steps 3] [--data bench/tasks/route-ticket]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[1, 4, 8])
    parser.add_argument("--max-steps", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "tasks" / "route-ticket",
                        help="a folder with train.json (only that file is used: no evaluation during the runs)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
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
        "measured": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{os.cpu_count()}-core CPU, no GPU",
        "model": MODEL, "method": "lora", "data": f"{args.data.relative_to(ROOT)}/train.json ({rows} rows)",
        "max_steps": args.max_steps, "runs": runs,
        "within_1_5x": all(r["ratio"] and 1 / 1.5 <= r["ratio"] <= 1.5 for r in runs)}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
