"""`tunesmith studio`: the app's Data studio in the terminal, on the same store (WORKSPACE/tunesmith.db).

new → generate → review (approve / reject with a reason / edit; reasons become error notes) → … → export.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tools.errors import UserError
from tools.flags import output_path, positive_int
from tools.generation.cli import add_batch_options, add_task_options
from tools.output_files import add_force_option

if TYPE_CHECKING:
    from tools.generation.store import Project, ReviewStore
    from tools.settings import Settings
    from tools.workspace import Workspace

FORMAT_CHOICES = ("alpaca", "sharegpt", "openai")
_PROJECT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_STATUS_ROW = "{:>5}  {:<9}  {:>7}  {:>8}  {:>6}  {:>8}  {:>7}  {:>10}"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "studio",
        help="generate, review and export a dataset from seeds (the app's Data studio, in a terminal)",
    )
    commands = parser.add_subparsers(dest="studio_command", metavar="SUBCOMMAND", required=True)

    new = commands.add_parser(
        "new", help="create a project (or update its task, seeds, system prompt, target)"
    )
    _project_argument(new)
    add_task_options(new)
    new.add_argument("--system", help="system prompt the fine-tuned model will run with")
    new.add_argument(
        "--target", type=positive_int, help="accepted samples wanted (default 100, or the current target)"
    )
    new.set_defaults(func=run_new)

    generate = commands.add_parser("generate", help="draft the next batch with the generation model (from the "
                                   "project's documents where they were chosen for fine-tuning in the app)")
    _project_argument(generate)
    add_batch_options(generate)
    generate.set_defaults(func=run_generate)

    review = commands.add_parser(
        "review", help="approve, reject or edit each pending sample of the open batch (answers from stdin)"
    )
    _project_argument(review)
    review.set_defaults(func=run_review)

    notes = commands.add_parser("notes", help="list or edit the error notes fed to the next batch")
    _project_argument(notes)
    notes.add_argument(
        "--add", action="append", default=[], metavar="TEXT", help="append a note (repeatable)"
    )
    notes.add_argument(
        "--remove",
        action="append",
        type=int,
        default=[],
        metavar="N",
        help="remove note N as listed (repeatable)",
    )
    notes.add_argument("--clear", action="store_true", help="remove every note")
    notes.set_defaults(func=run_notes)

    status = commands.add_parser("status", help="per batch decisions and acceptance rate; accepted vs target")
    _project_argument(status)
    status.set_defaults(func=run_status)

    listing = commands.add_parser("list", help="every project in the store, the app's conversations included")
    listing.set_defaults(func=run_list)

    export = commands.add_parser("export", help="clean, split and write the accepted samples as a dataset")
    _project_argument(export)
    export.add_argument(
        "--out", required=True, type=output_path, metavar="DIR", help="folder to write the dataset into"
    )
    export.add_argument(
        "--eval-fraction", type=float, default=0.1, help="share held out for eval (default 0.1)"
    )
    export.add_argument(
        "--format", choices=FORMAT_CHOICES, default="alpaca", help="output format (default alpaca)"
    )
    export.add_argument("--system", help="system prompt for samples that have none (default: the project's)")
    add_force_option(export)
    export.set_defaults(func=run_export)


def _project_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "project", metavar="PROJECT", help="project name: 1-64 letters, digits, '_', '.' or '-'"
    )


def check_project_name(name: str) -> str:
    """The name, or a UserError saying which names are allowed."""
    if not _PROJECT_NAME.fullmatch(name) or not re.search(r"[A-Za-z0-9]", name):
        raise UserError(
            f"invalid project name {name!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "with at least one letter or digit (e.g. support-replies)"
        )
    return name


@contextmanager
def open_store() -> Iterator[ReviewStore]:
    """The workspace's review store, the one the app uses."""
    from tools.generation.store import ReviewStore
    from tools.settings import load_settings
    from tools.workspace import Workspace

    with ReviewStore(Workspace.from_settings(load_settings()).store_db) as store:
        yield store


def find_project(store: ReviewStore, name: str) -> Project:
    """The project, or a UserError saying where it was looked for and how to create it."""
    project = store.get_project(check_project_name(name))
    if project is None:
        raise UserError(
            f"no project {name!r} in {store.path}; create it with "
            f"`tunesmith studio new {name} --task TEXT --seeds FILE`"
        )
    return project


def accepted_count(store: ReviewStore, project_id: str) -> int:
    return sum(stats.approved + stats.edited for stats in store.batch_stats(project_id))


def next_step(store: ReviewStore, project: Project) -> str:
    """The command that moves the project on: review the open batch, generate more, or export at target."""
    if store.open_batch(project.id) is not None:
        return f"tunesmith studio review {project.id}"
    if accepted_count(store, project.id) >= project.target_count:
        return f"tunesmith studio export {project.id} --out DIR"
    return f"tunesmith studio generate {project.id}"


def print_notes(notes: list[str]) -> None:
    from tools.generation.terminal_review import numbered

    if notes:
        print(f"error notes in force ({len(notes)}; fed to the next batch):\n{numbered(notes)}")
    else:
        print("no error notes yet (reject reasons and edits become notes when a batch is submitted)")


def run_new(args: argparse.Namespace) -> int:
    from tools.generation.cli import read_seeds

    name = check_project_name(args.project)
    seeds = read_seeds(args.seeds)
    with open_store() as store:
        existing = store.get_project(name)
        project = store.save_project(
            name,
            args.task,
            seeds,
            system=args.system if args.system is not None else (existing.system if existing else ""),
            target_count=args.target
            if args.target is not None
            else (existing.target_count if existing else 100),
        )
        print(
            f"{'updated' if existing else 'created'} project {name}: {len(project.seeds)} seed(s), "
            f"target {project.target_count} accepted samples, in {store.path}"
        )
        print(f"next: {next_step(store, project)}")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from tools.locks import exclusive
    from tools.settings import load_settings
    from tools.workspace import Workspace

    settings = load_settings()
    with open_store() as store:
        project = find_project(store, args.project)
        busy = (f"another program is drafting a batch of project {project.id!r} right now; only one batch is "
                f"open at a time: wait for it, then `tunesmith studio review {project.id}`")
        workspace = Workspace.from_settings(settings)
        with exclusive(workspace.generation_lock(project.id), busy):
            return _draft_batch(store, project, args, settings, workspace)


def _draft_batch(store: ReviewStore, project: Project, args: argparse.Namespace, settings: Settings,
                 workspace: Workspace) -> int:
    """The next batch, drafted and stored within the announced time (the caller holds the generation lock); from
    the project's documents when they were chosen for fine-tuning in the app (RAG + fine-tuning), as the app does."""
    from tools.generation.cli import generation_model
    from tools.generation.rounds import generate_next_batch
    from tools.llm import call_deadline_s, deadline_note
    from tools.rag.raft import draft_retrieval_batch, drafting_settings

    open_batch = store.open_batch(project.id)
    if open_batch is not None:
        pending = len(store.batch_samples(open_batch.id, "pending"))
        raise UserError(
            f"batch {open_batch.number} of project {project.id!r} is still open ({pending} pending); "
            f"review and submit it first: `tunesmith studio review {project.id}`"
        )
    documents = drafting_settings(workspace, project.id, recommendation=None, choose=False)
    chat_model = generation_model(args.model)
    source = (f" from the documents of index {documents.index_name!r} ({documents.k} passages a question)"
              if documents else "")
    print(f"drafting {args.n} samples{source} with {chat_model.model_name}; {deadline_note(settings)}", flush=True)
    options = {"n": args.n, "max_attempts": args.max_attempts, "deadline_s": call_deadline_s(settings)}
    batch, result = (draft_retrieval_batch(store, project.id, chat_model, documents, **options) if documents
                     else generate_next_batch(store, project.id, chat_model, **options))
    if batch is not None:
        print(f"batch {batch.number}: {len(result.samples)} samples waiting for review")
    dropped = ", ".join(f"{reason} {count}" for reason, count in result.dropped.items())
    print(f"dropped: {dropped or 'none'}")
    if not result.complete:
        print(f"error: {result.message}", file=sys.stderr)
    else:
        print(result.message)
    if batch is not None:
        print(f"next: tunesmith studio review {project.id}")
    return 0 if result.complete else 1


def run_review(args: argparse.Namespace) -> int:
    from tools.generation.rounds import learn_from_batch
    from tools.generation.terminal_review import BatchReview, confirm

    with open_store() as store:
        project = find_project(store, args.project)
        batch = store.open_batch(project.id)
        if batch is None:
            raise UserError(
                f"project {project.id!r} has no batch waiting for review; next: `{next_step(store, project)}`"
            )
        review = BatchReview(store, batch, editor=os.environ.get("VISUAL") or os.environ.get("EDITOR"))
        hint = f"run `tunesmith studio review {project.id}` to continue"
        try:
            if not review.run():
                print(f"{_decisions(review.decisions)} saved; {hint}")
                return 0
            if not confirm(f"Submit batch {batch.number}? [Y/n] ", default=True):
                print(f"{_decisions(review.decisions)} saved; batch {batch.number} is left open; {hint}")
                return 0
        except (EOFError, KeyboardInterrupt) as stop:
            print(f"\n{_decisions(review.decisions)} saved; {hint}")
            return 130 if isinstance(stop, KeyboardInterrupt) else 0
        notes = learn_from_batch(store, batch.id)
        stats = next(s for s in store.batch_stats(project.id) if s.batch_id == batch.id)
        print(
            f"batch {batch.number} submitted: {stats.approved + stats.edited} of {stats.decided} accepted "
            f"({_percent(stats.acceptance_rate)}): {stats.approved} approved, {stats.edited} edited, "
            f"{stats.rejected} rejected"
        )
        print_notes(notes)
        print(f"accepted so far: {accepted_count(store, project.id)} / target {project.target_count}")
        print(f"next: {next_step(store, project)}")
    return 0


def run_notes(args: argparse.Namespace) -> int:
    from tools.dataset.dedup import canonical_text

    if any(not text.strip() for text in args.add):
        raise UserError("--add needs the note's text, e.g. --add 'Keep answers under 50 words'")
    said: list[str] = []

    def change(notes: list[str]) -> list[str]:  # runs inside the store's transaction: no note added meanwhile is lost
        unknown = sorted({n for n in args.remove if not 1 <= n <= len(notes)})
        if unknown:
            raise UserError(
                f"no note number {', '.join(map(str, unknown))}: project {args.project!r} has "
                f"{len(notes)} note(s), numbered as `tunesmith studio notes {args.project}` lists them"
            )
        kept = [] if args.clear else [note for i, note in enumerate(notes, 1) if i not in set(args.remove)]
        known = {canonical_text(note) for note in kept}
        for text in args.add:
            if canonical_text(text) in known:
                said.append(f"already a note: {text}")
            known.add(canonical_text(text))
        return [*kept, *args.add]

    with open_store() as store:
        project = find_project(store, args.project)
        changing = args.clear or args.remove or args.add
        notes = store.update_notes(project.id, change) if changing else store.notes(project.id)
        for line in said:
            print(line)
        print_notes(notes)
    return 0


def run_status(args: argparse.Namespace) -> int:
    with open_store() as store:
        project = find_project(store, args.project)
        print(f"project {project.id}: {project.task}")
        print(f"  {len(project.seeds)} seed(s); system prompt: {project.system or '(none)'}")
        stats = store.batch_stats(project.id)
        statuses = {batch.id: batch.status for batch in store.batches(project.id)}
        if stats:
            print(
                _STATUS_ROW.format(
                    "batch", "status", "samples", "approved", "edited", "rejected", "pending", "acceptance"
                )
            )
        else:
            print("no batches yet")
        for batch in stats:
            print(
                _STATUS_ROW.format(
                    batch.number,
                    statuses[batch.batch_id],
                    batch.total,
                    batch.approved,
                    batch.edited,
                    batch.rejected,
                    batch.pending,
                    _percent(batch.acceptance_rate),
                )
            )
        print(f"accepted: {accepted_count(store, project.id)} / target {project.target_count}")
        coverage = store.tag_counts(project.id)
        if coverage:
            print("tags of accepted samples: " + ", ".join(f"{tag} {n}" for tag, n in coverage.items()))
        print_notes(store.notes(project.id))
        print(f"next: {next_step(store, project)}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with open_store() as store:
        projects = project_ids(store.path)
        if not projects:
            print(
                f"no projects in {store.path} yet; create one with "
                "`tunesmith studio new NAME --task TEXT --seeds FILE`"
            )
            return 0
        width = max(7, *(len(project_id) for project_id, _ in projects))
        print(f"{'project':<{width}}  {'accepted':>12}  {'open batch':<22}  conversation in the app")
        for project_id, title in projects:
            project = store.project(project_id)
            batch = store.open_batch(project_id)
            state = (
                f"batch {batch.number} ({len(store.batch_samples(batch.id, 'pending'))} pending)"
                if batch
                else "-"
            )
            accepted = f"{accepted_count(store, project_id)}/{project.target_count}"
            print(f"{project_id:<{width}}  {accepted:>12}  {state:<22}  {title or '-'}")
    return 0


def project_ids(db_path: Path) -> list[tuple[str, str | None]]:
    """Every project id in the store, most recently updated first, with its app conversation's title if any.

    ReviewStore has no listing method, so this reads its projects table (and the app's conversations table,
    when the app has created it) directly.
    """
    import sqlite3

    db = sqlite3.connect(db_path)
    try:
        has_conversations = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'conversations'"
        ).fetchone()
        sql = (
            "SELECT p.id, c.title FROM projects p LEFT JOIN conversations c ON c.thread_id = p.id"
            if has_conversations
            else "SELECT p.id, NULL FROM projects p"
        )
        return [(row[0], row[1]) for row in db.execute(sql + " ORDER BY p.updated DESC, p.id")]
    finally:
        db.close()


def run_export(args: argparse.Namespace) -> int:
    from tools.dataset.build import build_dataset, made_files
    from tools.dataset.cli import print_build_report
    from tools.output_files import refuse_existing

    refuse_existing(made_files(args.out), args.force)  # before the store is opened: nothing is touched
    with open_store() as store:
        project = find_project(store, args.project)
        samples = store.accepted_samples(project.id)
        tag_counts = store.tag_counts(project.id)
        if not samples:
            raise UserError(
                f"project {project.id!r} has no accepted samples yet; approve or edit some first: "
                f"`{next_step(store, project)}`"
            )
    report = build_dataset(
        samples,
        args.out,
        eval_fraction=args.eval_fraction,
        system=args.system or project.system or None,
        fmt=args.format,
        tag_counts=tag_counts,
        force=args.force,
    )
    print_build_report(report, rows="accepted samples")
    return 0


def _decisions(count: int) -> str:
    return f"{count} decision{'' if count == 1 else 's'}"


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"
