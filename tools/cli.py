"""`tunesmith` console script: one subcommand per capability, each registered by its own package."""
from __future__ import annotations

import argparse
import importlib
import sys

from tools.errors import UserError

# Each module exposes register(subparsers); the handler set with set_defaults(func=...) returns an exit status.
SUBCOMMAND_MODULES = (
    "ui.cli",
    "tools.advisor.cli",
    "tools.dataset.cli",
    "tools.generation.cli",
    "tools.generation.studio_cli",
    "tools.training.cli",
    "tools.training.model_cli",
    "tools.rag.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tunesmith", description="From a task to a working ICL prompt, RAG setup or fine-tune.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):  # a capability not installed here; the rest still work
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
