"""CLI for memory estimates, preflight, chat, evaluation, export and base-model guidance.

Heavy libraries are imported inside the handlers so `tunesmith --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tools.flags import output_path, positive_float, positive_int
from tools.training.methods import METHODS

UNPLANNED_RANK = 16  # the rank estimated without data to plan from (a medium dataset's)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds estimate, preflight, chat, evaluate, export and models to the `tunesmith` parser."""
    p = subparsers.add_parser("estimate", help="estimate the memory a fine-tune needs (GPU, or RAM on a CPU)")
    size = p.add_mutually_exclusive_group(required=True)
    size.add_argument("--params", help="model size, e.g. 7B, 1.5B, 350M (a Llama-like shape is assumed)")
    size.add_argument("--base-model", help="gemma-3-270m or a local model folder: its own shapes are used, as "
                      "preflight does")
    p.add_argument("--data", help="with --base-model: folder with train.json; its longest rows make the batch")
    p.add_argument("--method", choices=METHODS, default="auto", help="auto: qlora on a GPU, lora on a CPU (as "
                   "training does)")
    p.add_argument("--seq-len", type=positive_int, default=1024,
                   help="tokens per row (with --data: where rows are cut)")
    p.add_argument("--answer-len", type=positive_int,
                   help="answer tokens per row: Tunesmith computes logits only there (default: every position)")
    p.add_argument("--batch-size", type=positive_int, default=1)
    p.add_argument("--lora-r", type=positive_int, help="default: planned from --data's rows as training plans it "
                   "(8 below 200, 16 below 2,000, ...); 16 without --data")
    p.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=None,
                   help="default: on with a GPU, off on a CPU (as training does)")
    p.add_argument("--device", choices=("auto", "gpu", "cpu"), default="auto",
                   help="auto: a GPU when --gpu-gb is given or one is here, else this machine's CPU")
    p.add_argument("--gpu-gb", type=positive_float, help="GPU memory to check against, in GB")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=handle_estimate)

    p = subparsers.add_parser("preflight", help="go/no-go checks before training (exit 0 go, 1 no-go)")
    p.add_argument("--base-model", required=True, help="local model folder")
    p.add_argument("--data", required=True, help="folder with train.json (and eval.json)")
    p.add_argument("--config", help="YAML/JSON training config; flags override it")
    p.add_argument("--max-seq-len", type=int)
    p.add_argument("--method", choices=METHODS)
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
    from tools.errors import UserError
    from tools.training.estimate import ESTIMATED_AS, estimate_training_memory, parse_params, synthetic_workload
    from tools.training.methods import auto_method

    if args.data and not args.base_model:
        raise UserError("--data needs --base-model (the rows are measured with that model's tokenizer)")
    device, memory_gb = _estimate_device(args)
    method = args.method if args.method != "auto" else auto_method(gpu=device == "gpu")[0]
    checkpointing = args.gradient_checkpointing if args.gradient_checkpointing is not None else device == "gpu"
    if args.base_model:
        estimate, workload = _estimate_base_model(args, method, checkpointing, device, memory_gb)
    else:
        workload = synthetic_workload(args.batch_size, args.seq_len, args.answer_len)
        estimate = estimate_training_memory(
            parse_params(args.params), ESTIMATED_AS.get(method, method), seq_len=args.seq_len,
            batch_size=args.batch_size, lora_r=args.lora_r or UNPLANNED_RANK, gradient_checkpointing=checkpointing,
            gpu_gb=memory_gb,
            device=device, tokens=workload.tokens, logit_tokens=workload.logit_tokens)
    if args.json:
        print(json.dumps({**estimate.to_dict(), "workload": workload.source}, indent=2))
        return 0
    where = "on a GPU (16-bit)" if device == "gpu" else "on this CPU (float32; peak RSS of the trainer)"
    print(f"{args.base_model or args.params} {method} {where}, a batch of {workload.source}: "
          f"about {estimate.total_gb:.1f} GB")
    for part, gb in estimate.breakdown.items():
        print(f"  {part:<12}{gb:8.2f} GB")
    if estimate.fits is not None:
        print(f"fits in {memory_gb:g} GB" if estimate.fits else f"does NOT fit in {memory_gb:g} GB")
    for tip in estimate.advice:
        print(f"  - {tip}")
    return 0


def _estimate_device(args: argparse.Namespace) -> tuple[str, float | None]:
    """gpu|cpu and the memory to check against: --gpu-gb means a GPU; auto looks for one as training does."""
    from tools.training.methods import has_gpu

    if args.device == "cpu" or (args.device == "auto" and args.gpu_gb is None and not has_gpu()):
        return "cpu", args.gpu_gb
    return "gpu", args.gpu_gb


def _estimate_base_model(args: argparse.Namespace, method: str, checkpointing: bool, device: str,
                         memory_gb: float | None):
    """The model's own shapes and, with --data, its heaviest batch: the same path as preflight's memory check."""
    from transformers import AutoConfig

    from tools.errors import UserError
    from tools.training.builtin import resolve_model_source
    from tools.training.estimate import estimate_for_model, measure_workload, synthetic_workload
    from tools.training.inference import load_tokenizer

    source = resolve_model_source(args.base_model)
    try:
        model_config = AutoConfig.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the config of {args.base_model!r} ({exc.__class__.__name__}); give the "
                        "built-in gemma-3-270m or a local model folder with config.json") from None
    if args.data:
        from tools.training.config import split_file
        from tools.training.preflight import survey_split

        train = split_file(Path(args.data), "train")
        if train is None:
            raise UserError(f"no train.json (or .jsonl/.csv) in {args.data}; export the dataset there first")
        from tools.training.plan import rank_for
        from tools.training.train import packs_batches

        survey = survey_split(train)
        workload = measure_workload(load_tokenizer(source), survey.length_sample, args.batch_size,
                                    args.seq_len, packs_batches(method))
        rank = args.lora_r or rank_for(survey.count)  # the rank training would plan for these rows
    else:
        workload = synthetic_workload(args.batch_size, args.seq_len, args.answer_len)
        rank = args.lora_r or UNPLANNED_RANK
    estimate, _ = estimate_for_model(model_config, method, workload, batch_size=args.batch_size,
                                     seq_len=args.seq_len, lora_r=rank,
                                     gradient_checkpointing=checkpointing, device=device, device_gb=memory_gb)
    return estimate, workload


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
