"""`tunesmith dataset build|check`: build a training-ready folder, or list every problem in a file."""

from __future__ import annotations

import argparse
from pathlib import Path

from tools.errors import BAD_CONTENT, UserError
from tools.flags import output_path, positive_float, positive_int
from tools.output_files import add_force_option

FORMAT_CHOICES = ("alpaca", "sharegpt", "openai")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dataset", help="check, clean, split and export a fine-tuning dataset")
    commands = parser.add_subparsers(dest="dataset_command", metavar="SUBCOMMAND", required=True)

    build = commands.add_parser(
        "build", help="read, clean, de-duplicate, split and write DIR/train.json etc."
    )
    build.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="JSON, JSONL, CSV or text files")
    build.add_argument(
        "--out", required=True, type=output_path, metavar="DIR", help="folder to write the dataset into"
    )
    build.add_argument(
        "--eval-fraction", type=float, default=0.1, help="share held out for eval (default 0.1)"
    )
    build.add_argument("--system", help="system prompt for samples that have none")
    build.add_argument(
        "--format", choices=FORMAT_CHOICES, default="alpaca", help="output format (default alpaca)"
    )
    build.add_argument("--seed", type=int, default=42, help="seed of the train/eval split")
    build.add_argument("--max-mb", type=positive_float, default=200, help="refuse input files larger than this")
    build.add_argument("--max-prompt-chars", type=positive_int, default=8000, help="drop samples with longer prompts")
    build.add_argument("--max-output-chars", type=positive_int, default=8000, help="drop samples with longer outputs")
    add_force_option(build)
    build.set_defaults(func=run_build)

    check = commands.add_parser("check", help="list every invalid row; exit 1 when there is one")
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument("--max-mb", type=positive_float, default=200, help="refuse files larger than this")
    check.set_defaults(func=run_check)


def run_build(args: argparse.Namespace) -> int:
    from tools.dataset.build import build_dataset
    from tools.dataset.normalize import CleanConfig

    report = build_dataset(
        args.inputs,
        args.out,
        eval_fraction=args.eval_fraction,
        system=args.system,
        fmt=args.format,
        seed=args.seed,
        clean_config=CleanConfig(
            max_prompt_chars=args.max_prompt_chars, max_output_chars=args.max_output_chars
        ),
        max_bytes=int(args.max_mb * 1_000_000),
        force=args.force,
    )
    print_build_report(report)
    return 0


def print_build_report(report: dict, rows: str = "rows") -> None:
    """What a build read, kept and dropped (by reason), where it wrote, and the health warnings."""
    drops = ", ".join(f"{reason} {n}" for reason, n in report["drops"].items()) or "none"
    print(
        f"read {report['rows_read']} {rows}; kept {report['kept']} (train {report['train']}, "
        f"eval {report['eval']}); dropped {report['dropped']}: {drops}"
    )
    print(f"wrote {', '.join(report['files'].values())} to {report['out_dir']}")
    for warning in report["health"]["warnings"]:
        print(f"warning: {warning}")


def run_check(args: argparse.Namespace) -> int:
    from tools.dataset.readers import read_samples

    result = read_samples(args.file, max_bytes=int(args.max_mb * 1_000_000))
    if not result.rows_read:
        raise UserError(f"{args.file}: no rows (an empty list); add samples, e.g. "
                        '[{"instruction": "...", "input": "", "output": "..."}]', BAD_CONTENT)
    for problem in result.problems:
        print(f"{args.file.name}: {problem.describe()}")
    for note in result.notes:
        print(f"{args.file.name}: note: {note}")
    print(
        f"{args.file.name}: {result.rows_read} rows ({result.format}), {len(result.samples)} valid, "
        f"{len(result.problems)} invalid"
    )
    return 1 if result.problems else 0
