"""`tunesmith train`: a fine-tune in the foreground through the subprocess launcher, printing progress."""
from __future__ import annotations

import argparse
from pathlib import Path

from tools.errors import UserError
from tools.flags import output_path, positive_int
from tools.output_files import add_force_option
from tools.training.methods import METHODS

# CLI flag -> TrainConfig field; flags left out keep the config file's value or the default.
FLAG_FIELDS = {
    "base_model": "base_model", "data": "data_dir", "out": "out_dir", "method": "method",
    "max_steps": "max_steps", "epochs": "epochs", "lr": "learning_rate", "lora_r": "lora_r",
    "lora_alpha": "lora_alpha", "batch_size": "batch_size", "max_seq_len": "max_seq_len",
    "parent_run": "parent_run", "train_top_layers": "train_top_layers", "num_virtual_tokens": "num_virtual_tokens",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds `train` to the `tunesmith` parser."""
    p = subparsers.add_parser("train", help="fine-tune a model (LoRA on a CPU, QLoRA on a GPU) on an Alpaca dataset")
    p.add_argument("--base-model", help="gemma-3-270m (built in, offline), a local model folder or a downloaded hub id")
    p.add_argument("--data", help="folder with train.json (and optionally eval.json)")
    p.add_argument("--out", type=output_path, help="run folder for progress, checkpoints, adapter and metrics")
    p.add_argument("--method", choices=METHODS, help="auto (default): qlora with a GPU, lora on a CPU")
    p.add_argument("--max-steps", type=positive_int, help="stop after N optimizer steps (overrides --epochs)")
    p.add_argument("--epochs", type=float)
    p.add_argument("--lr", type=float, help="learning rate, e.g. 2e-4")
    p.add_argument("--lora-r", type=int)
    p.add_argument("--lora-alpha", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-seq-len", type=int)
    p.add_argument("--parent-run", help="continue from this earlier run's adapter (a new round of data)")
    p.add_argument("--train-top-layers", type=int, help="method freeze: how many top layers learn")
    p.add_argument("--num-virtual-tokens", type=int, help="prompt_tuning / p_tuning: learned prompt tokens")
    p.add_argument("--config", help="YAML/JSON config file; the flags above override it")
    p.add_argument("--resume", action="store_true",
                   help="continue from the last complete checkpoint (without --config: RUN/config.json)")
    p.add_argument("--num-processes", type=positive_int, default=1, help="processes (GPUs) via accelerate launch")
    p.add_argument("--skip-preflight", action="store_true", help="train even when preflight checks fail")
    add_force_option(p)
    p.set_defaults(func=handle_train)


def build_config(args: argparse.Namespace):
    """The TrainConfig from --config (or RUN/config.json when resuming) with the flags on top."""
    from tools.training.config import load_config
    from tools.training.run_folder import CONFIG_FILE

    config_file = args.config
    if config_file is None and args.resume and args.out and (Path(args.out) / CONFIG_FILE).is_file():
        config_file = Path(args.out) / CONFIG_FILE
    return load_config(config_file, **{field: getattr(args, flag) for flag, field in FLAG_FIELDS.items()})


def check_runs_named(config, resume: bool, force: bool = False) -> None:
    """--parent-run must be an earlier run's folder, --resume needs a checkpoint to continue from, and a new run
    never writes over files already in --out unless --force (usage)."""
    from tools.output_files import refuse_existing
    from tools.training.train import last_complete_checkpoint

    out = Path(config.out_dir)
    if not resume and out.is_dir():
        refuse_existing(sorted(out.iterdir()), force)
    if config.parent_run is not None:
        from tools.training.inference import resolve_run

        if resolve_run(config.parent_run).adapter_dir is None:  # a folder that is no run: a usage message
            raise UserError(f"--parent-run {config.parent_run} trained no adapter (method full); a new round "
                            "continues a LoRA run: give the folder of an earlier finished LoRA/QLoRA run")
    if resume and last_complete_checkpoint(Path(config.out_dir)) is None:
        raise UserError(f"--resume: {config.out_dir} has no complete checkpoint to resume from; start the run "
                        "without --resume, or give the --out folder of the run that was interrupted")


def format_event(event: dict) -> str:
    """One readable line per progress event."""
    kind = event.get("event", "?")
    step = f"step {event.get('step')}/{event.get('max_steps')}" if event.get("step") is not None else ""
    if kind == "log":
        lr = event.get("learning_rate")
        epoch = event.get("epoch")
        return (f"{step}  loss {event.get('loss', float('nan')):.4f}"
                + (f"  lr {lr:.2e}" if lr is not None else "")
                + (f"  epoch {epoch:.2f}" if epoch is not None else ""))
    if kind == "eval":
        return f"{step}  eval_loss {event.get('eval_loss')}"
    if kind == "checkpoint":
        return f"{step}  checkpoint saved: {event.get('path')}"
    if kind == "done":
        metrics = event.get("metrics", {})
        return (f"done: {event.get('message', '')} (train_loss {metrics.get('train_loss')}, "
                f"{metrics.get('tokens_per_s')} tokens/s, {metrics.get('runtime_s')} s)")
    return f"{kind}: {step + '  ' if step else ''}{event.get('message', '')}".rstrip()


def handle_train(args: argparse.Namespace) -> int:
    from tools.training.builtin import resolve_model_source
    from tools.training.launch import start_training
    from tools.training.preflight import run_preflight
    from tools.training.run_folder import read_run

    config = build_config(args)
    check_runs_named(config, args.resume, args.force)
    resolve_model_source(config.base_model)  # unknown model: UserError, exit 2
    report = None if args.skip_preflight else run_preflight(config)
    if report is not None and any(check.status != "ok" for check in report.checks):
        print(report.to_text(problems_only=True))
        if not report.ok:
            print("preflight failed: fix the checks above, or pass --skip-preflight to train anyway")
            return 1
    if config.plan_note:
        print(f"plan: {config.plan_note}")
    process = start_training(config, resume=args.resume, num_processes=args.num_processes)
    print(f"training in {config.out_dir} (pid {process.pid}, log {process.log_path})", flush=True)
    try:
        for event in process.follow():
            print(format_event(event), flush=True)
    except KeyboardInterrupt:
        process.cancel()
        print(f"cancelled; continue later with: tunesmith train --out {config.out_dir} --resume")
        return 130
    process.wait()
    if read_run(config.out_dir).status == "done":
        return 0
    raise UserError(f"training did not finish; see {process.log_path}", exit_code=1)
