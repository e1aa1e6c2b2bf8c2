"""`tunesmith generate`: draft one batch of samples from seed examples with the generation model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tools.errors import BAD_CONTENT, UserError
from tools.flags import output_path, positive_int
from tools.output_files import add_force_option


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("generate", help="draft one batch of training samples from seed examples")
    add_task_options(parser)
    parser.add_argument("--out", required=True, type=output_path, metavar="FILE", help="Alpaca JSON file to write")
    parser.add_argument(
        "--notes",
        type=Path,
        metavar="FILE",
        help="error notes from earlier reviews: one per line, or a JSON list of strings",
    )
    parser.add_argument("--system", default="", help="system prompt the fine-tuned model will run with")
    add_batch_options(parser)
    add_force_option(parser)
    parser.set_defaults(func=run_generate)


def add_task_options(parser: argparse.ArgumentParser) -> None:
    """--task and --seeds: what a batch is drafted from (`generate` and `studio new`)."""
    parser.add_argument("--task", required=True, help="what the fine-tuned model must do")
    parser.add_argument(
        "--seeds",
        required=True,
        type=Path,
        metavar="FILE",
        help="seed examples (Alpaca/ShareGPT/OpenAI JSON or JSONL, CSV)",
    )


def add_batch_options(parser: argparse.ArgumentParser) -> None:
    """--n, --model and --max-attempts: how one batch is drafted (`generate` and `studio generate`)."""
    parser.add_argument("--n", type=positive_int, default=20, help="samples in the batch (default 20)")
    parser.add_argument(
        "--model", help="generation model (default: TUNESMITH_GENERATION_MODEL or the chat model)"
    )
    parser.add_argument(
        "--max-attempts", type=positive_int, default=4, help="model calls before giving up (default 4)"
    )


def read_notes(path: Path) -> list[str]:
    """Notes from a text file (one per line, blank lines skipped) or a JSON list of strings."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read the notes file {path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"the notes file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8",
                        BAD_CONTENT) from None
    if path.suffix.lower() == ".json":
        try:
            notes = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})", BAD_CONTENT) from None
        if not isinstance(notes, list) or not all(isinstance(note, str) for note in notes):
            raise UserError(f"{path}: expected a JSON list of strings, one note each", BAD_CONTENT)
        return notes
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_seeds(path: Path) -> list:
    """Seed samples; any unusable row stops the run (a bad seed would teach every batch its mistake)."""
    from tools.dataset.readers import read_samples

    result = read_samples(path)
    if result.problems:
        listed = "; ".join(problem.describe() for problem in result.problems[:5])
        more = f" (and {len(result.problems) - 5} more)" if len(result.problems) > 5 else ""
        raise UserError(
            f"{path}: {len(result.problems)} unusable seed row(s): {listed}{more}. "
            f"Fix them, or check the file with `tunesmith dataset check {path}`", BAD_CONTENT
        )
    if not result.samples:
        raise UserError(f"{path}: no seed examples found; give a few (e.g. 20) Alpaca samples", BAD_CONTENT)
    return result.samples


def generation_model(name: str | None):
    """The model that drafts samples: --model, else TUNESMITH_GENERATION_MODEL, else the chat model."""
    from tools.errors import LLMUnavailable
    from tools.llm import build_chat_model
    from tools.settings import load_settings

    settings = load_settings()
    try:
        return build_chat_model(settings, model=name or settings.generation_model, temperature=0.8)
    except LLMUnavailable as exc:  # no endpoint configured: say how to set one
        raise UserError(str(exc), exit_code=1) from None


def run_generate(args: argparse.Namespace) -> int:
    from tools.dataset.writers import write_samples
    from tools.generation.batch import generate_batch
    from tools.llm import call_deadline_s, deadline_note
    from tools.output_files import check_new_file, write_new_file
    from tools.settings import load_settings

    check_new_file(args.out, args.force)  # before the model is asked: its batch would have nowhere to go
    seeds = read_seeds(args.seeds)
    notes = read_notes(args.notes) if args.notes else []
    chat_model = generation_model(args.model)
    print(f"drafting {args.n} samples; {deadline_note(load_settings())}", flush=True)
    result = generate_batch(
        chat_model,
        args.task,
        seeds,
        n=args.n,
        system=args.system,
        notes=notes,
        max_attempts=args.max_attempts,
        deadline_s=call_deadline_s(load_settings()),
    )
    if result.samples:
        write_new_file(args.out, lambda path: write_samples(result.samples, path, "alpaca"), args.force)
        print(f"wrote {len(result.samples)} samples to {args.out}")
    dropped = ", ".join(f"{reason} {count}" for reason, count in result.dropped.items())
    if dropped:
        print(f"dropped: {dropped}")
    if not result.complete:
        print(f"error: {result.message}", file=sys.stderr)
        return 1
    print(result.message)
    return 0
