"""CLI for memory estimates, preflight, chat, evaluation, export and base-model guidance.

Heavy libraries are imported inside the handlers so `tunesmith --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tools.flags import output_path, positive_float, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds estimate, preflight, chat, evaluate, export and models to the `tunesmith` parser."""
    p = subparsers.add_parser("estimate", help="estimate the GPU memory a fine-tune needs")
    p.add_argument("--params", required=True, help="model size, e.g. 7B, 1.5B, 350M")
    p.add_argument("--method", choices=("qlora", "lora", "full"), default="qlora")
    p.add_argument("--seq-len", type=positive_int, default=1024)
    p.add_argument("--batch-size", type=positive_int, default=1)
    p.add_argument("--lora-r", type=positive_int, default=16)
    p.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--gpu-gb", type=positive_float, help="GPU memory to check against, in GB")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=handle_estimate)

    p = subparsers.add_parser("preflight", help="go/no-go checks before training (exit 0 go, 1 no-go)")
    p.add_argument("--base-model", required=True, help="local model folder")
    p.add_argument("--data", required=True, help="folder with train.json (and eval.json)")
    p.add_argument("--config", help="YAML/JSON training config; flags override it")
    p.add_argument("--max-seq-len", type=int)
    p.add_argument("--method", choices=("qlora", "lora", "full"))
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lora-r", type=int)
    p.add_argument("--gpu-gb", type=positive_float, help="GPU memory to check against instead of the detected device")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=handle_preflight)

    p = subparsers.add_parser("chat", help="ask a tuned model (or its base) one question")
    p.add_argument("--run", required=True, help="run folder or adapter folder")
    p.add_argument("prompt")
    p.add_argument("--base-only", action="store_true", help="ask the base model, without the adapter")
    p.add_argument("--max-new-tokens", type=positive_int, help="longest answer in tokens (default: the run's "
                   "longest training answer and half again)")
    p.add_argument("--temperature", type=float, default=0.0)
    p.set_defaults(func=handle_chat)

    p = subparsers.add_parser("evaluate", help="compare the tuned model with its base on the eval split")
    p.add_argument("--run", required=True)
    p.add_argument("--eval", help="Alpaca JSON file (default: eval.json of the run's data_dir)")
    p.add_argument("--max-samples", type=positive_int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=handle_evaluate)

    p = subparsers.add_parser("export", help="export the adapter (and merged weights) with serving files")
    p.add_argument("--run", required=True)
    p.add_argument("--out", required=True, type=output_path, help="folder to write")
    p.add_argument("--merge", action="store_true", help="also merge the adapter into the full-precision base")
    p.set_defaults(func=handle_export)

    p = subparsers.add_parser("models", help="the built-in model and suggested base models, with what is here")
    p.add_argument("--gpu-gb", type=positive_float)
    p.add_argument(
        "--task", default="general", help="classification, extraction, generation, chat, code, ..."
    )
    p.add_argument("--fast-inference", action="store_true", help="prefer small models that answer quickly")
    p.add_argument("--language", action="append", default=[], help="language the model must handle (repeat)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=handle_models)


def handle_estimate(args: argparse.Namespace) -> int:
    from tools.training.estimate import estimate_training_memory, parse_params

    estimate = estimate_training_memory(
        parse_params(args.params),
        args.method,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        lora_r=args.lora_r,
        gradient_checkpointing=args.gradient_checkpointing,
        gpu_gb=args.gpu_gb,
    )
    if args.json:
        print(json.dumps(estimate.to_dict(), indent=2))
        return 0
    print(f"{args.params} {args.method}: about {estimate.total_gb:.1f} GB")
    for part, gb in estimate.breakdown.items():
        print(f"  {part:<12}{gb:8.2f} GB")
    if estimate.fits is not None:
        print(f"fits in {args.gpu_gb:g} GB" if estimate.fits else f"does NOT fit in {args.gpu_gb:g} GB")
    for tip in estimate.advice:
        print(f"  - {tip}")
    return 0


def handle_preflight(args: argparse.Namespace) -> int:
    import tempfile

    from tools.training.builtin import resolve_model_source
    from tools.training.config import load_config
    from tools.training.preflight import run_preflight

    config = load_config(
        args.config,
        base_model=args.base_model,
        data_dir=args.data,
        out_dir=Path(tempfile.gettempdir()) / "tunesmith-preflight",  # checked, never written
        max_seq_len=args.max_seq_len,
        method=args.method,
        batch_size=args.batch_size,
        lora_r=args.lora_r,
    )
    resolve_model_source(config.base_model)  # a model that is not there is usage (exit 2), not a failed check
    report = run_preflight(config, gpu_gb=args.gpu_gb)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_text())
    return 0 if report.ok else 1


def handle_chat(args: argparse.Namespace) -> int:
    from tools.training.inference import try_run

    answer, note = try_run(args.run, args.prompt, args.max_new_tokens, args.temperature, args.base_only)
    print(answer)
    if note:
        print(note, file=sys.stderr)
    return 0


def handle_evaluate(args: argparse.Namespace) -> int:
    from tools.training.evaluate import evaluate_run, format_report

    result = evaluate_run(args.run, eval_path=args.eval, max_samples=args.max_samples)
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0


def handle_export(args: argparse.Namespace) -> int:
    from tools.training.export import export_run

    written = export_run(args.run, args.out, merge=args.merge)
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def handle_models(args: argparse.Namespace) -> int:
    from tools.training.models import model_choices

    choices = model_choices(args.task, args.gpu_gb, args.fast_inference, args.language)
    if args.json:
        print(json.dumps(choices, indent=2))
        return 0
    for rank, item in enumerate(choices, 1):
        print(f"{rank}. {item['name']} ({item['params_b']}B, {item['licence']}): {item['reason']}\n"
              f"   --base-model {item['use']}  [{item['status']}]")
    return 0
