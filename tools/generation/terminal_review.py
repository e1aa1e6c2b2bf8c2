"""The terminal review loop: one decision per pending sample of an open batch, stored the moment it is made.

Answers are read from stdin (a person at a terminal, or a script piping them); EOFError and KeyboardInterrupt
propagate to the caller, which reports how many decisions were saved (BatchReview.decisions).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from tools.dataset.schema import AlpacaSample
from tools.errors import UserError
from tools.generation.decisions import Decision, DecisionKind, apply_decision
from tools.generation.store import Batch, DecisionConflict, ReviewStore, StoredSample

ACTION_PROMPT = "[a]pprove  [r]eject  [e]dit  [t]ag  [s]kip  [A]pprove all remaining  [q]uit > "
END_OF_TEXT = "."  # a line with only this ends a multi-line answer
Outcome = Literal["decided", "kept", "skipped", "quit", "approved_all"]


def ask(prompt: str) -> str:
    """One line from stdin (EOFError at its end); echoed when piped, so a saved log reads like the session."""
    answer = input(prompt)
    if not sys.stdin.isatty():
        print(answer)
    return answer


def confirm(prompt: str, default: bool) -> bool:
    """A yes/no answer; an empty answer takes the default."""
    while True:
        answer = ask(prompt).strip().lower()
        if not answer:
            return default
        if answer in ("y", "yes", "n", "no"):
            return answer.startswith("y")
        print("please answer y or n")


def numbered(lines: list[str], indent: str = "  ") -> str:
    """Lines as a numbered list ('  1. ...'), the numbering `studio notes --remove N` uses."""
    return "\n".join(f"{indent}{i}. {line}" for i, line in enumerate(lines, 1))


def _field(label: str, value: str) -> list[str]:
    value_lines = value.splitlines() or [""]
    if len(value_lines) == 1:
        return [f"  {label + ':':<13} {value_lines[0]}"]
    return [f"  {label}:"] + [f"      {line}" for line in value_lines]


def format_sample(sample: AlpacaSample) -> str:
    """Every field of the sample, multi-line values kept as written."""
    lines = _field("system", sample.system or "(none)")
    if not sample.history:
        lines += _field("history", "(none)")
    for turn, (question, answer) in enumerate(sample.history, 1):
        lines += _field(f"history {turn} user", question) + _field(f"history {turn} answer", answer)
    lines += _field("instruction", sample.instruction)
    lines += _field("input", sample.input or "(none)")
    lines += _field("output", sample.output)
    return "\n".join(lines)


def parse_edited_sample(text: str) -> tuple[AlpacaSample | None, str]:
    """The edited file as a sample, or None and what is wrong with it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
    if not isinstance(data, dict):
        return None, "expected one JSON object with instruction, input, output, system and history"
    try:
        return AlpacaSample.model_validate(data), ""
    except ValidationError as exc:
        problems = [
            f"field '{'.'.join(str(part) for part in error['loc']) or 'sample'}': {error['msg']}"
            for error in exc.errors()[:3]
        ]
        return None, "; ".join(problems)


def run_editor(editor: str, path: Path) -> str:
    """Opens path in the editor command (no shell); returns what went wrong, or "" when it exited cleanly."""
    try:
        command = [*shlex.split(editor), str(path)]
    except ValueError as exc:
        return f"cannot read the editor command {editor!r} ({exc}); fix $VISUAL or $EDITOR"
    if len(command) == 1:
        return "the editor command is empty; set $VISUAL or $EDITOR to an editor such as 'nano' or 'vim'"
    try:
        completed = subprocess.run(command, check=False)
    except OSError as exc:
        return (
            f"cannot start the editor {command[0]!r} ({exc.strerror}); set $VISUAL or $EDITOR to one on PATH"
        )
    return f"the editor exited with status {completed.returncode}" if completed.returncode else ""


def edit_in_editor(sample: AlpacaSample, editor: str) -> AlpacaSample | None:
    """The sample as the person left it in their editor, or None to keep it as it is (nothing is lost)."""
    fd, name = tempfile.mkstemp(prefix="tunesmith-sample-", suffix=".json")
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(json.dumps(sample.to_record(), indent=2, ensure_ascii=False) + "\n")
        while True:
            failure = run_editor(editor, path)
            if failure:
                print(f"{failure}; the sample is unchanged")
                return None
            edited, problem = parse_edited_sample(path.read_text(encoding="utf-8"))
            if edited is not None:
                return edited
            print(f"the edited sample is not usable: {problem}")
            while (choice := ask("[e]dit again or [k]eep the original? ").strip().lower()) not in ("e", "k"):
                print("please answer e or k")
            if choice == "k":
                print("kept the original")
                return None
    finally:
        path.unlink(missing_ok=True)


def read_new_output(sample: AlpacaSample) -> AlpacaSample | None:
    """Without an editor: a new output typed at the prompt; None when it is left empty (output unchanged)."""
    print(
        f"no $VISUAL or $EDITOR set: type the new output, then a line with only '{END_OF_TEXT}' "
        f"(just '{END_OF_TEXT}' keeps the current output)"
    )
    lines = []
    while (line := ask("")).strip() != END_OF_TEXT:
        lines.append(line)
    text = "\n".join(lines)
    if not text.strip():
        print("output unchanged")
        return None
    return sample.model_copy(update={"output": text})


@dataclass
class BatchReview:
    """Walks the pending samples of one open batch; `decisions` counts what this run has stored."""

    store: ReviewStore
    batch: Batch
    editor: str | None = None
    decisions: int = 0

    def run(self) -> bool:
        """Asks about every pending sample, skipped ones again after each pass.

        True when none is left pending, False when the person quit.
        """
        total = len(self.store.batch_samples(self.batch.id))
        while pending := self.store.batch_samples(self.batch.id, "pending"):
            skipped = 0
            for listed in pending:
                stored = self.store.sample(listed.id)  # the app may have decided it since the list was read
                if stored.status != "pending":
                    continue
                outcome = self._review_one(stored, total)
                if outcome == "quit":
                    return False
                if outcome == "approved_all":
                    break
                skipped += outcome == "skipped"
            if skipped:
                print(f"{skipped} skipped sample(s) still pending; going through them again.")
        return True

    def _review_one(self, stored: StoredSample, total: int) -> Outcome:
        tags = f" [{', '.join(stored.tags)}]" if stored.tags else ""
        print(f"\n--- sample {stored.position + 1}/{total}, batch {self.batch.number}{tags} ---")
        print(format_sample(stored.current))
        while True:
            answer = ask(ACTION_PROMPT).strip()
            if answer == "A":
                if self._approve_all():
                    return "approved_all"
                continue
            answer = answer.lower()
            if answer in ("a", "r", "e"):
                outcome = self._decide(stored, answer)
                if outcome is None:
                    continue
                return outcome
            if answer == "t":
                self._tag(stored.id)
            elif answer == "s":
                return "skipped"
            elif answer == "q":
                return "quit"
            else:
                print("please answer a, r, e, t, s, A or q")

    def _decide(self, stored: StoredSample, answer: str) -> Outcome | None:
        """Saves approve/reject/edit as a compare-and-set on what was shown; None: ask about this sample again."""
        reason, edited = "", None
        if answer == "r":
            reason = self._ask_reason()
            kind, said = DecisionKind.REJECT, f"rejected: {reason}"
        elif answer == "e":
            edited = self._edit(stored.current)
            if edited is None:
                return None
            kind, said = DecisionKind.EDIT, "edited version saved"
        else:
            kind, said = DecisionKind.APPROVE, "approved"
        seen = stored
        while True:
            try:
                apply_decision(self.store, Decision(kind, (stored.id,), reason=reason, edited=edited, seen=seen))
            except DecisionConflict as conflict:  # the app (or another terminal) decided it meanwhile
                print(conflict.message)
                print(format_sample(conflict.current.current))
                if not confirm("replace that decision with yours? [y/N] ", False):
                    print("kept the other decision")
                    return "kept"
                seen = conflict.current
                continue
            except UserError as exc:  # e.g. the database stayed busy: nothing saved, ask again
                print(exc.message)
                return None
            print(said)
            self.decisions += 1
            return "decided"

    def _tag(self, sample_id: int) -> None:
        """Replaces the sample's tags (saved at once); a bad tag is explained and asked again."""
        while True:
            try:
                apply_decision(self.store, Decision(DecisionKind.TAG, (sample_id,),
                                                    tags=ask("tags, comma-separated (empty clears them): ")))
                tags = self.store.sample(sample_id).tags
                print(f"tags: {', '.join(tags) or '(none)'}")
                return
            except UserError as exc:
                print(exc.message)

    def _ask_reason(self) -> str:
        while not (reason := ask("reason (it becomes an error note for the next batch): ").strip()):
            print("a reason is needed: it tells the next batch what to avoid")
        return reason

    def _edit(self, sample: AlpacaSample) -> AlpacaSample | None:
        edited = edit_in_editor(sample, self.editor) if self.editor else read_new_output(sample)
        if edited is not None and edited == sample:
            print("no change made; the sample is still undecided")
            return None
        return edited

    def _approve_all(self) -> bool:
        ids = [sample.id for sample in self.store.batch_samples(self.batch.id, "pending")]
        if not confirm(
            f"approve all {len(ids)} remaining sample(s) of batch {self.batch.number}? [y/N] ", False
        ):
            return False
        try:
            approved = apply_decision(self.store, Decision(DecisionKind.APPROVE, tuple(ids), bulk=True)).changed
        except UserError as exc:
            print(exc.message)
            return False
        self.decisions += approved
        left = len(ids) - approved
        kept = f"; {left} decided elsewhere meanwhile kept as they are" if left else ""
        print(f"approved {approved} sample(s){kept}")
        return True
