"""The Data studio's desk: the only way the UI reaches a conversation's project. Review (one call per decision, a
typed Decision in, the panel's new state out, with the rules: the batch must be open, the next pending sample, the
counts), seeds and notes, the build settings the person chose, dataset versions, builds from a file, imports for
review, public datasets, conflicts, and what the next batch request will say.

The build from reviewed samples runs as a graph node (agent/finetune_nodes.py), so the journey's chat hears of it."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tools.dataset.versions import (
    BuildSettings,
    build_version,
    chosen_settings,
    inputs_in_words,
    list_versions,
    remember_chosen_settings,
    versions_root,
)
from tools.errors import UserError
from tools.generation.decisions import Decision, DecisionKind, apply_decision

if TYPE_CHECKING:
    from tools.generation.project_dataset import Conflict
    from tools.generation.store import Batch, ReviewStore, StoredSample
    from tools.workspace import Workspace

STATUSES = ("pending", "approved", "rejected", "edited")
NOTHING_SHOWN = "No pending sample is shown."
DONE_WORDS = {DecisionKind.APPROVE: "Approved", DecisionKind.REJECT: "Rejected", DecisionKind.EDIT: "Saved the edit of",
              DecisionKind.TAG: "Tagged", DecisionKind.RESET: "Reset"}


@dataclass(frozen=True)
class ReviewPanel:
    """What the review panel shows: the current batch (the open one, else the last), its samples and counts, the
    sample in focus, and the answer to the last decision (refused: nothing was saved, the message says why)."""

    batch_number: int | None = None
    batch_open: bool = False
    samples: list[StoredSample] = field(default_factory=list)
    tag_coverage: dict[str, int] = field(default_factory=dict)  # tags of the project's accepted samples
    position: int = 0
    message: str = ""
    refused: bool = False

    @property
    def focused(self) -> StoredSample | None:
        return self.samples[self.position] if self.samples else None

    @property
    def counts(self) -> dict[str, int]:
        return {status: sum(s.status == status for s in self.samples) for status in STATUSES}


@dataclass(frozen=True)
class ProjectFields:
    """Section 1 of the studio: the task (the one typed in the chat until seeds are saved), seeds and notes."""

    task: str = ""
    system: str = ""
    target: int = 100
    seeds_line: str = ""
    notes: str = ""
    saved: bool = False


@dataclass
class DataStudio:
    store: ReviewStore
    workspace: Workspace

    # --- seeds, task and notes ------------------------------------------------------------------------------
    def project_fields(self, thread_id: str | None, chat: list[dict] = ()) -> ProjectFields:
        """The saved project, or the task as the person typed it in the chat (so it need not be typed twice)."""
        project = self.store.get_project(thread_id) if thread_id else None
        if project is None:
            return ProjectFields(task=task_from_chat(chat))
        return ProjectFields(project.task, project.system, project.target_count,
                             f"{len(project.seeds)} seed example(s) saved.", "\n".join(self.store.notes(thread_id)),
                             saved=True)

    def save_seeds(self, thread_id: str, task: str, system: str, target: int, path: str | None,
                   pasted: str) -> tuple[bool, str]:
        """Saves the task and the seed examples from a file or pasted text: (saved, what happened in words)."""
        from tools.dataset.readers import parse_pasted_text, read_samples

        if not (task or "").strip():
            return False, "describe the task first: one or two sentences on what the model must do."
        if path is None and not (pasted or "").strip():
            return False, "upload a seed file (Alpaca/ShareGPT/OpenAI JSON or JSONL, or CSV) or paste examples."
        try:
            result = read_samples(path) if path else parse_pasted_text(pasted)
        except UserError as exc:
            return False, exc.message
        if not result.samples:
            return False, "no usable examples:\n" + "\n".join(f"- {p.describe()}" for p in result.problems)
        self.store.save_project(thread_id, task.strip(), result.samples, system=(system or "").strip(),
                                target_count=int(target or 100))
        lines = [f"Saved {len(result.samples)} seed example(s) ({result.format}). Press **Generate a batch**, or "
                 "ask for one in the chat. Seeds go into the dataset too (see *Include the seed examples*)."]
        if result.problems:
            lines.append(f"{len(result.problems)} row(s) were not used — fix them and save again:")
            lines += [f"- {p.describe()}" for p in result.problems]
        return True, "\n".join(lines)

    def notes(self, thread_id: str | None) -> list[str]:
        return self.store.notes(thread_id) if self._has_project(thread_id) else []

    def save_notes(self, thread_id: str, lines: list[str]) -> list[str]:
        """Replaces the error notes with the person's list (cleaned); refused before seeds are saved."""
        if not self._has_project(thread_id):
            raise UserError("save seeds first.")
        return self.store.set_notes(thread_id, lines)

    def acceptance(self, thread_id: str | None) -> list[tuple[str, float]]:
        """Each batch's acceptance rate in percent, in batch order."""
        stats = self.store.batch_stats(thread_id) if self._has_project(thread_id) else []
        return [(f"#{s.number}", round(100 * (s.acceptance_rate or 0), 1)) for s in stats]

    def _has_project(self, thread_id: str | None) -> bool:
        return bool(thread_id) and self.store.get_project(thread_id) is not None

    # --- review ---------------------------------------------------------------------------------------------
    def _current_batch(self, thread_id: str | None) -> Batch | None:
        """The batch under review, else the last one submitted (shown read-only); None before any."""
        if not thread_id:
            return None
        batch = self.store.open_batch(thread_id)
        if batch is None:
            batches = self.store.batches(thread_id)
            batch = batches[-1] if batches else None
        return batch

    def panel(self, thread_id: str | None, position: int = 0, message: str = "", refused: bool = False,
              batch: Batch | None = None, review_filter: tuple[str, str | None, str] | None = None) -> ReviewPanel:
        """The review panel as it is now, focused on the sample at position (clamped into the batch); with a
        review_filter (status or 'all', tag, words), only the samples that pass it (the list view)."""
        batch = batch or self._current_batch(thread_id)
        if batch is None:
            return ReviewPanel(message=message, refused=refused)
        samples = self.store.batch_samples(batch.id)
        if review_filter is not None:
            status, tag, text = review_filter
            samples = [s for s in samples if s.matches(status, tag or None, text)]
        position = max(0, min(int(position or 0), len(samples) - 1))
        return ReviewPanel(batch.number, batch.status == "open", samples, self.store.tag_counts(thread_id), position,
                           message, refused)

    def decide(self, thread_id: str, decision: Decision, position: int | None = None) -> ReviewPanel:
        """Saves one decision and returns the panel after it. A decision on one sample moves the focus to the next
        pending one; a refused decision (batch closed, changed meanwhile, bad edit) saves nothing and says why,
        the panel then showing the sample as it is now."""
        from tools.generation.store import DecisionConflict

        batch = self._current_batch(thread_id)
        here = decision.seen.position if decision.seen is not None and position is None else position or 0
        if not decision.resolves_conflict:
            if batch is None or not decision.sample_ids and not decision.bulk:
                return self.panel(thread_id, here, "there is no sample to decide.", True, batch)
            if batch.status != "open":
                return self.panel(thread_id, here, f"batch {batch.number} is already submitted; generate or import "
                                                   "the next batch.", True, batch)
        try:
            changed, said = apply_decision(self.store, decision)
        except DecisionConflict as exc:  # the panel now shows that decision; deciding again replaces it
            return self.panel(thread_id, exc.current.position, exc.message, True, batch)
        except UserError as exc:
            return self.panel(thread_id, here, exc.message, True, batch)
        after = self.panel(thread_id, here, batch=batch)
        if decision.resolves_conflict:
            return replace(after, message=said)
        if decision.bulk:
            return replace(after, message=bulk_words(decision, changed))
        if decision.kind is DecisionKind.TAG:
            return after
        pending = [i for i, s in enumerate(after.samples) if s.status == "pending"]
        following = next((i for i in pending if i > here), pending[0] if pending else here)
        left = f"{len(pending)} pending." if pending else "All decided: press **Submit batch**."
        return replace(after, position=following,
                       message=f"{DONE_WORDS[decision.kind]} sample {here + 1}. {left}")

    def tag_choices(self, thread_id: str | None) -> list[str]:
        return sorted({t for s in self.panel(thread_id).samples for t in s.tags})

    def submit_open_batch(self, thread_id: str) -> tuple[int, list[str]]:
        """Closes the open batch when no review pause waits on it (an imported batch, or one the conversation is
        not paused on): (batch number, the notes now in force)."""
        from tools.generation.rounds import learn_from_batch

        batch = self.store.open_batch(thread_id) if self._has_project(thread_id) else None
        if batch is None:
            raise UserError("no batch is open for review: generate a batch or import rows first")
        return batch.number, learn_from_batch(self.store, batch.id)

    def where(self, row_id: str) -> str:
        """'sample:17' as 'sample 17 (batch 2 #5)' so the person can find it; other ids as they are."""
        if not row_id.startswith("sample:"):
            return row_id
        try:
            s = self.store.sample(int(row_id.split(":")[1]))
        except (UserError, ValueError):
            return row_id
        return f"{row_id} (batch {self.store.batch(s.batch_id).number} #{s.position + 1}, {s.status})"

    # --- build settings and dataset versions ----------------------------------------------------------------
    def versions_root(self, thread_id: str | None) -> Path:
        return versions_root(self.workspace.project_dir(thread_id))

    def choose_build_settings(self, thread_id: str | None, settings: dict) -> BuildSettings:
        """The studio's build controls as the person set them; kept for this conversation, so a build the journey
        starts by itself (the target reached) uses them."""
        chosen = BuildSettings(**settings)
        if thread_id:
            remember_chosen_settings(self.versions_root(thread_id), chosen)
        return chosen

    def chosen_build_settings(self, thread_id: str | None) -> BuildSettings | None:
        return chosen_settings(self.versions_root(thread_id)) if thread_id else None

    def versions(self, thread_id: str | None) -> list[dict]:
        """Every dataset version of the conversation, newest first (version.json of each, with its path and what
        went in, in words)."""
        if not thread_id:
            return []
        return [{**v, "went_in": inputs_in_words(v)} for v in list_versions(self.versions_root(thread_id))]

    @staticmethod
    def version_report(version_path: str) -> dict:
        from tools.dataset.versions import read_version_report

        return read_version_report(version_path)

    def build_from_file(self, thread_id: str, path: str, settings: BuildSettings | dict) -> dict:
        """The file as a version of its own (only its rows: no seeds); reviewed work and earlier versions stay."""
        settings = settings if isinstance(settings, BuildSettings) else BuildSettings(**settings)
        return build_version([path], self.versions_root(thread_id), "file", replace(settings, include_seeds=False))

    def import_for_review(self, thread_id: str, path: str) -> tuple[int, int, int, list[str]]:
        """Rows of the file as a new batch under review: (batch number, rows, twins flagged, row problems)."""
        from tools.dataset.readers import read_samples
        from tools.generation.project_dataset import import_for_review

        if not self._has_project(thread_id):
            raise UserError("save the task and seeds first (section 1); imported rows join that project")
        result = read_samples(path)
        batch, twins = import_for_review(self.store, thread_id, result.samples)
        return batch.number, len(result.samples), twins, [p.describe() for p in result.problems]

    # --- public datasets ------------------------------------------------------------------------------------
    @staticmethod
    def search_hub(words: str) -> list[dict]:
        from tools.dataset.hub import search_hub_datasets

        return search_hub_datasets(words)

    @staticmethod
    def preview_hub(repo_id: str, file: str | None = None):
        from tools.dataset.hub import preview_hub_dataset

        return preview_hub_dataset(repo_id, file)

    def import_hub(self, thread_id: str, repo_id: str, file: str, mapping: dict[str, str]
                   ) -> tuple[int, int, int, list[str]]:
        """A public dataset's file, mapped to instruction/input/output, as a new batch under review (like a file)."""
        from tools.dataset.hub import map_rows, read_hub_rows
        from tools.generation.project_dataset import import_for_review

        if not self._has_project(thread_id):
            raise UserError("save the task and seeds first (section 1); imported rows join that project")
        samples, problems = map_rows(read_hub_rows(repo_id, file), mapping)
        if not samples:
            raise UserError(f"no row of {repo_id}/{file} has both an instruction and an output with this mapping")
        batch, twins = import_for_review(self.store, thread_id, samples)
        return batch.number, len(samples), twins, [p.describe() for p in problems]

    # --- conflicts and the next request ---------------------------------------------------------------------
    def conflicts(self, thread_id: str | None) -> list[Conflict]:
        from tools.generation.project_dataset import project_conflicts

        if not self._has_project(thread_id):
            return []
        return project_conflicts(self.store, thread_id)

    def next_request(self, thread_id: str | None, recommendation: dict | None = None) -> str:
        """The user message the next batch request would send (notes, corrections, rejected examples, questions to
        avoid): a batch drafted from the conversation's documents when the next one will be (recommendation: the
        conversation's, which says whether it is on the RAG + fine-tuning path)."""
        from tools.generation.rounds import next_batch_request
        from tools.rag.raft import drafting_settings, next_retrieval_request

        if not self._has_project(thread_id):
            return "(save the task and seeds first)"
        try:
            documents = drafting_settings(self.workspace, thread_id, recommendation, choose=False)
            if documents is not None:
                return next_retrieval_request(self.store, thread_id, documents)
        except UserError as exc:  # e.g. the index is gone: the next batch would be refused with the same words
            return f"(the next batch cannot be drafted from the documents: {exc.message})"
        return next_batch_request(self.store, thread_id)


def bulk_words(decision: Decision, changed: int) -> str:
    if decision.kind is DecisionKind.TAG:
        return f"Tagged {changed} sample(s) '{decision.tags.strip().lower()}'."
    if not changed:
        return NOTHING_SHOWN
    return f"{DONE_WORDS[decision.kind]} {changed} pending sample(s)."


def task_from_chat(messages: list[dict]) -> str:
    """The first thing the person typed in the chat that describes a task (not a quick choice or a command)."""
    from agent.actions import typed_command
    from tools.advisor.profile import QUESTIONS

    choices = {label.lower() for question in QUESTIONS for label, _ in question.choices}
    for message in messages:
        text = (message.get("content") or "").strip() if message.get("role") == "user" else ""
        if len(text.split()) >= 4 and text.lower() not in choices and typed_command(text) is None:
            return text
    return ""
