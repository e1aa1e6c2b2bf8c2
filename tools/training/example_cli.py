"""`tunesmith example`: the example project end to end (data -> built-in model -> training -> base vs tuned)."""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from tools.errors import UserError
from tools.flags import output_path, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("example", help="train the built-in model on the example task and show base vs tuned "
                                              "(a few minutes on a CPU)")
    p.add_argument("--out", type=output_path,
                   help="folder for the example's data and run (default: WORKSPACE/examples/dates-to-iso-N)")
    p.add_argument("--max-steps", type=positive_int, help="training steps (default 60)")
    p.set_defaults(func=handle_example)


def next_example_dir(root: Path) -> Path:
    """WORKSPACE/examples/dates-to-iso-N with the next free N: an example never overwrites an earlier one."""
    from tools.training.example import EXAMPLE_NAME

    suffixes = [p.name.rsplit("-", 1)[-1] for p in root.glob(f"{EXAMPLE_NAME}-*")]
    taken = [int(suffix) for suffix in suffixes if suffix.isdigit()]
    return root / f"{EXAMPLE_NAME}-{max(taken, default=0) + 1}"


def write_example_data(folder: Path) -> Path:
    """train.json and eval.json (Alpaca) of the example task; returns the data folder."""
    from tools.training.example import example_dataset

    train_rows, held_out = example_dataset()
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "train.json").write_text(json.dumps(train_rows, indent=1), encoding="utf-8")
    (data / "eval.json").write_text(json.dumps(held_out, indent=1), encoding="utf-8")
    return data


def run_example(folder: Path, max_steps: int | None = None, say: Callable[[str], None] = print) -> dict:
    """Builds the example's data, trains the built-in model in a subprocess, evaluates base vs tuned on the
    held-out rows; returns (and writes to FOLDER/example.json) the figures."""
    from tools.training.builtin import BUILTIN_NAME, ensure_builtin_model
    from tools.training.cli import format_event
    from tools.training.config import TrainConfig
    from tools.training.evaluate import evaluate_run
    from tools.training.example import EXAMPLE_TASK, EXAMPLE_TRAINING
    from tools.training.inference import clear_cache
    from tools.training.launch import start_training
    from tools.training.run_folder import read_run

    if folder.exists() and any(folder.iterdir()):
        raise UserError(f"{folder} already exists and is not empty; choose a new --out folder")
    started = time.monotonic()
    say(f"Example task: {EXAMPLE_TASK}")
    data = write_example_data(folder)
    ensure_builtin_model(say)
    settings = {**EXAMPLE_TRAINING, **({"max_steps": max_steps} if max_steps else {})}
    config = TrainConfig(base_model=BUILTIN_NAME, data_dir=data, out_dir=folder / "run", **settings)
    say(f"Training {BUILTIN_NAME} ({config.method}, {config.max_steps} steps) in {config.out_dir}")
    process = start_training(config)
    for event in process.follow():
        say(format_event(event))
    process.wait()
    if read_run(config.out_dir).status != "done":
        raise UserError(f"training did not finish; see {process.log_path}", exit_code=1)
    trained = time.monotonic()
    say("Comparing the base model with the tuned one on the 20 held-out rows...")
    result = evaluate_run(config.out_dir, max_samples=20)
    clear_cache()  # nobody chats with the example's run: free its model (~1 GB) rather than hold it while the app runs
    summary = {"task": EXAMPLE_TASK, "run": str(config.out_dir), "steps": config.max_steps,
               "base_exact_match": result["base"]["exact_match"], "tuned_exact_match": result["tuned"]["exact_match"],
               "minutes_to_train": round((trained - started) / 60, 2),
               "minutes_total": round((time.monotonic() - started) / 60, 2), "examples": result["side_by_side"][:5]}
    (folder / "example.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def handle_example(args: argparse.Namespace) -> int:
    from tools.settings import load_settings
    from tools.workspace import Workspace

    folder = Path(args.out) if args.out else next_example_dir(Workspace.from_settings(load_settings()).examples_dir)
    summary = run_example(folder.expanduser().resolve(), args.max_steps)
    print(f"\nExact match on held-out rows: base {summary['base_exact_match']:.0%} -> tuned "
          f"{summary['tuned_exact_match']:.0%} ({summary['minutes_total']} minutes in all)")
    for example in summary["examples"]:
        print(f"  {example['prompt'].splitlines()[-1]!r}: base {example['base'][:40]!r}, tuned {example['tuned']!r}")
    print(f"Try it: tunesmith chat --run {summary['run']} \"$(printf 'Write this date in ISO format "
          "(YYYY-MM-DD).\\n\\nJuly 4th 1976')\"")
    return 0
