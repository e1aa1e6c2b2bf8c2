"""`tunesmith rag index` and `tunesmith rag ask`: index documents in the workspace, ask questions of them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tools.flags import positive_int

MAX_CHUNKS_PER_FILE = 2000  # tools.rag.index.MAX_CHUNKS_PER_FILE, repeated so --help stays fast
MAX_NAME_CHARS = 100


def register(subparsers: argparse._SubParsersAction) -> None:
    rag = subparsers.add_parser("rag", help="index your documents and ask questions that cite them")
    commands = rag.add_subparsers(dest="rag_command", metavar="SUBCOMMAND", required=True)

    index = commands.add_parser("index", help="add (or re-add) documents to a named index")
    index.add_argument("docs", nargs="+", type=Path, help="files or folders (.txt .md .html .json .csv)")
    index.add_argument("--name", required=True, help="index name, e.g. support-docs")
    index.add_argument("--max-chars", type=positive_int, default=1200, help="largest chunk, in characters")
    index.add_argument("--overlap", type=int, default=150, help="characters shared by neighbouring chunks")
    index.add_argument("--max-chunks", type=int, default=MAX_CHUNKS_PER_FILE,
                       help=f"chunks indexed per file at most (default {MAX_CHUNKS_PER_FILE}; embedding is slow)")
    index.set_defaults(func=run_index)

    ask = commands.add_parser("ask", help="answer a question from an index, citing its chunks")
    ask.add_argument("question")
    ask.add_argument("--name", required=True, help="index name used with `tunesmith rag index`")
    ask.add_argument("--k", type=positive_int, default=4, help="how many chunks to retrieve")
    ask.add_argument("--json", action="store_true", help="print the answer and its citations as JSON")
    ask.set_defaults(func=run_ask)


def index_dir(name: str) -> Path:
    """Where the index called `name` lives: <workspace>/rag/<name>."""
    from tools.errors import UserError
    from tools.settings import load_settings
    from tools.workspace import Workspace

    if not name.strip() or any(sep in name for sep in ("/", "\\")) or name.strip(".") == "":
        raise UserError(f"index name {name!r} must be a plain name without slashes, e.g. support-docs")
    if len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise UserError(f"index name {name[:40]!r}... is {len(name)} characters long or has control characters; "
                        f"use a plain name of at most {MAX_NAME_CHARS} characters, e.g. support-docs")
    return Workspace.from_settings(load_settings()).named_rag_index(name)


def run_index(args: argparse.Namespace) -> int:
    from tools.errors import BAD_CONTENT, BAD_INPUT, UserError
    from tools.rag.index import DocumentIndex

    if args.max_chars < 100 or not 0 <= args.overlap < args.max_chars // 2:
        raise UserError("--max-chars must be at least 100 and --overlap between 0 and half of --max-chars")
    if args.max_chunks < 1:
        raise UserError(f"--max-chunks must be at least 1 (got {args.max_chunks})")
    index = DocumentIndex(index_dir(args.name), args.name)
    report = index.add_documents(args.docs, args.max_chars, args.overlap, args.max_chunks)
    for source, chunks in report.indexed.items():
        print(f"indexed {source}: {chunks} chunk{'s' if chunks != 1 else ''}")
    for source, reason in report.truncated.items():
        print(f"truncated {source}: {reason}", file=sys.stderr)
    for source, reason in report.skipped.items():
        print(f"skipped {source}: {reason}", file=sys.stderr)
    print(f"index {args.name!r} now holds {index.count()} chunks")
    if not report.indexed:
        only_content = bool(report.skipped) and len(report.unusable) == len(report.skipped)
        raise UserError("no document was indexed; fix the files listed above and run the command again",
                        BAD_CONTENT if only_content else BAD_INPUT)
    return 1 if report.skipped or report.truncated else 0


def run_ask(args: argparse.Namespace) -> int:
    from tools.errors import UserError
    from tools.llm import build_chat_model
    from tools.rag.index import DocumentIndex
    from tools.settings import load_settings

    folder = index_dir(args.name)
    if not folder.is_dir():
        raise UserError(
            f"there is no index named {args.name!r}; "
            f"create it with `tunesmith rag index DOCS --name {args.name}`"
        )
    settings = load_settings()
    chat_model = build_chat_model(settings) if settings.llm_configured else None
    answer = DocumentIndex(folder, args.name).answer(args.question, chat_model, k=args.k)
    if args.json:
        citations = [{"n": n, **vars(hit)} for n, hit in enumerate(answer.citations, start=1)]
        print(
            json.dumps(
                {
                    "answer": answer.text,
                    "cited": answer.cited,
                    "used_llm": answer.used_llm,
                    "note": answer.note,
                    "citations": citations,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    print(answer.text)
    if answer.used_llm:
        print("\nSources:")
        for n, hit in enumerate(answer.citations, start=1):
            print(f"[{n}] {hit.source} (chunk {hit.position + 1}, score {hit.score:.2f})")
    if answer.note:
        print(f"\nnote: {answer.note}", file=sys.stderr)
    return 0
