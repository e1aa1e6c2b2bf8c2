"""The training-defaults suite: the built-in model trained on each task in bench/tasks with the defaults only
(what `tunesmith train` does without knobs), then base vs tuned on the 30 held-out rows.

Records per task: base and tuned exact match (ROUGE-L too), the share of tuned answers that stopped by themselves,
minutes to train and in all, the plan's reason and the verdict, in bench/results.json["training_defaults_suite"].
Target: every learnable task >= 85% exact, each <= 10 minutes on the 2-core CPU; the arithmetic task recognised.

    python bench/bench_suite.py [--tasks extract-json,route-ticket] [--seeds 42,1,2] [--set '{"learning_rate": 5e-4}']
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TASKS = ROOT / "bench" / "tasks"
RESULTS = ROOT / "bench" / "results.json"
KEY = "training_defaults_suite"


def run_task(name: str, work: Path, settings: dict) -> dict:
    from tools.training.builtin import BUILTIN_NAME
    from tools.training.config import load_config
    from tools.training.evaluate import evaluate_run
    from tools.training.inference import clear_cache
    from tools.training.launch import start_training
    from tools.training.preflight import check_task_fit
    from tools.training.run_folder import read_run

    data = work / name / "data"
    data.mkdir(parents=True)
    for split in ("train.json", "eval.json"):
        shutil.copy(TASKS / name / split, data / split)
    started = time.monotonic()
    config = load_config(base_model=BUILTIN_NAME, data_dir=str(data), out_dir=str(work / name / "run"), **settings)
    fit = check_task_fit(config)
    process = start_training(config)
    process.wait()
    if read_run(config.out_dir).status != "done":
        raise SystemExit(f"{name}: training did not finish; see {process.log_path}")
    trained = time.monotonic()
    result = evaluate_run(config.out_dir, max_samples=30)
    clear_cache()
    verdict = result["verdict"]
    return {
        "task": name, "kind": json.loads((TASKS / name / "task.json").read_text())["kind"],
        "train_rows": len(json.loads((data / "train.json").read_text())), "held_out": result["samples"],
        "plan": {k: getattr(config, k) for k in ("learning_rate", "epochs", "batch_size", "grad_accum",
                                                  "warmup_steps", "lora_r", "lora_dropout")},
        "plan_note": config.plan_note, "task_fit": f"{fit.status}: {fit.message}",
        "base_exact": result["base"]["exact_match"], "tuned_exact": result["tuned"]["exact_match"],
        "base_rouge_l": result["base"]["rouge_l"], "tuned_rouge_l": result["tuned"]["rouge_l"],
        "tuned_stop_rate": result["tuned"]["stop_rate"], "verdict": verdict["level"],
        "headline": verdict["headline"], "classes": {c["kind"]: c["count"] for c in verdict["classes"]},
        "next_step": verdict["next_steps"][0]["step"] if verdict["next_steps"] else None,
        "misses_share": [f"{' '.join(item['words'])}: {item['misses']} of {item['questions']} wrong, in "
                         f"{item['in_training']} training rows" for item in verdict["shared"]],
        "minutes_to_train": round((trained - started) / 60, 2),
        "minutes_total": round((time.monotonic() - started) / 60, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", help="comma-separated task names (default: all)")
    parser.add_argument("--seeds", default="42", help="comma-separated seeds: each task is trained once per seed "
                                                      "and recorded as the mean, with each seed's figure")
    parser.add_argument("--set", default="{}", help="settings as JSON on top of the defaults (experiments only: "
                                                    "such a run is not recorded as the suite's result)")
    parser.add_argument("--keep", help="folder to keep the runs in (default: a temporary folder)")
    args = parser.parse_args()
    names = (args.tasks.split(",") if args.tasks
             else sorted(p.name for p in TASKS.iterdir() if (p / "task.json").is_file()))
    settings = json.loads(args.set)
    if "seed" in settings:
        raise SystemExit("give seeds with --seeds, not in --set")
    seeds = [int(seed) for seed in args.seeds.split(",")]
    work = Path(args.keep or tempfile.mkdtemp(prefix="tunesmith-suite-"))
    for name in names:
        runs = []
        for seed in seeds:  # the seed is not a setting a person plans: the runs measure the defaults' spread
            runs.append(run_task(name, work / f"seed-{seed}", {**settings, "seed": seed}))
            print(json.dumps(runs[-1]), flush=True)
        row = over_seeds(runs, seeds)
        if not settings:  # recorded task by task: a long suite keeps what it measured if stopped
            record(row)
    if settings:
        print("experiment settings given: bench/results.json left as it is")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


AVERAGED = ("base_exact", "tuned_exact", "base_rouge_l", "tuned_rouge_l", "tuned_stop_rate", "minutes_to_train",
            "minutes_total")


def over_seeds(runs: list[dict], seeds: list[int]) -> dict:
    """One task's runs as one row: the first run's description, the mean of each figure, and each seed's exact
    match (a task at the edge of the target flips between runs)."""
    if len(runs) == 1:
        return {**runs[0], "seeds": seeds}
    per_run = ("verdict", "headline", "classes", "next_step", "misses_share")  # each run's own words: per seed
    first = {key: value for key, value in runs[0].items() if key not in per_run}
    return {**first, **{key: round(statistics.mean(run[key] for run in runs), 4) for key in AVERAGED},
            "seeds": seeds, "tuned_exact_by_seed": [run["tuned_exact"] for run in runs],
            "verdict_by_seed": [run["verdict"] for run in runs],
            "next_step_by_seed": [run["next_step"] for run in runs],
            "misses_share_by_seed": [run["misses_share"] for run in runs]}


def record(row: dict) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    tasks = {r["task"]: r for r in results.get(KEY, {}).get("tasks", [])}
    tasks[row["task"]] = {**row, "measured": time.strftime("%Y-%m-%d %H:%M")}
    results[KEY] = {"machine": f"{os.cpu_count()}-core CPU", "model": "gemma-3-270m (built in)",
                    "settings": "defaults only (the plan)", "tasks": [tasks[n] for n in sorted(tasks)]}
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
