"""`tunesmith` console script: one subcommand per capability, each registered by its own package."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from tools.errors import as_user_error
from tools.flags import flag_problems
from tools.redact import RedactingStream, configured_secrets

# Each module exposes register(subparsers); the handler set with set_defaults(func=...) returns an exit status.
SUBCOMMAND_MODULES = (
    "ui.cli",
    "tools.advisor.cli",
    "tools.dataset.cli",
    "tools.generation.cli",
    "tools.generation.studio_cli",
    "tools.training.cli",
    "tools.training.model_cli",
    "tools.training.example_cli",
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


def named_files(args: argparse.Namespace) -> list[str]:
    """The existing files a command was given (flags and positionals), so an error can say which one."""
    values = []
    for value in vars(args).values():
        values.extend(value if isinstance(value, list) else [value])
    files = []
    for value in values:
        if isinstance(value, (str, Path)) and str(value).strip():
            try:
                if Path(value).is_file():
                    files.append(str(value))
            except (OSError, ValueError):  # a name too long or with a NUL byte is no file
                continue
    return files


def main(argv: list[str] | None = None) -> int:
    """Runs one command; every failure ends in a message and an exit status (2 usage, 1 content), never a traceback.
    Everything it prints (messages, warnings, logs on the terminal) goes through redact: no key is ever shown."""
    secrets = configured_secrets()
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(streams[0], secrets), RedactingStream(streams[1], secrets)
    try:
        return _run(argv)
    finally:
        if isinstance(sys.stdout, RedactingStream):  # a closed pipe swaps in /dev/null: keep that one
            sys.stdout = streams[0]
        sys.stderr = streams[1]


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage (or --help); return its status instead of exiting
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if problems := flag_problems(args):
        print("error: " + "; ".join(problems), file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error of the input, stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush from failing too
        return 0
    except Exception as exc:  # noqa: BLE001 - the one error boundary of the CLI
        error = as_user_error(exc, named_files(args))
        if error is None:
            if os.environ.get("TUNESMITH_DEBUG"):
                raise
            print(f"error: unexpected {type(exc).__name__}: {exc}. This is a bug in Tunesmith; run again with "
                  "TUNESMITH_DEBUG=1 to see where it happened, and report it.", file=sys.stderr)
            return 1
        print(f"error: {error.message}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
