"""The Data studio's own actions on a conversation's project: dataset versions, builds from the reviewed work or
from a file, imports for review, conflicts and their resolution, and what the next batch request will say.

The UI reaches these through Session.studio; they need no graph step (the build from reviewed samples also runs
as a graph node, so the journey's chat hears of it)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tools.dataset.versions import BuildSettings, build_version, latest_version_path, list_versions, versions_root
from tools.errors import UserError

if TYPE_CHECKING:
    from tools.generation.project_dataset import Conflict
    from tools.generation.store import ReviewStore
    from tools.workspace import Workspace


@dataclass
class DataStudio:
    store: ReviewStore
    workspace: Workspace

    def versions_root(self, thread_id: str | None) -> Path:
        return versions_root(self.workspace.project_dir(thread_id))

    def versions(self, thread_id: str) -> list[dict]:
        """Every dataset version of the conversation, newest first (version.json of each, with its path)."""
        return list_versions(self.versions_root(thread_id))

    def latest_version_path(self, thread_id: str) -> Path | None:
        return latest_version_path(self.versions_root(thread_id))

    def build_from_reviewed(self, thread_id: str, settings: BuildSettings) -> dict:
        """A new version from the accepted samples (and seeds unless switched off), with the given settings."""
        from tools.generation.project_dataset import build_project_version

        return build_project_version(self.store, thread_id, self.versions_root(thread_id), settings)

    @staticmethod
    def read_seeds(path: str | None, pasted: str):
        """Seed examples from an uploaded file or pasted text: a ReadResult with every row problem."""
        from tools.dataset.readers import parse_pasted_text, read_samples

        return read_samples(path) if path else parse_pasted_text(pasted)

    @staticmethod
    def version_report(version_path: str) -> dict:
        from tools.dataset.versions import read_version_report

        return read_version_report(version_path)

    def build_from_file(self, thread_id: str, path: str, settings: BuildSettings | dict) -> dict:
        """The file as a version of its own; the reviewed work and earlier versions stay as they are."""
        settings = settings if isinstance(settings, BuildSettings) else BuildSettings(**settings)
        return build_version([path], self.versions_root(thread_id), "file", settings)

    def import_for_review(self, thread_id: str, path: str) -> tuple[int, int, int, list[str]]:
        """Rows of the file as a new batch under review: (batch number, rows, twins flagged, row problems)."""
        from tools.dataset.readers import read_samples
        from tools.generation.project_dataset import import_for_review

        if self.store.get_project(thread_id) is None:
            raise UserError("save the task and seeds first (section 1); imported rows join that project")
        result = read_samples(path)
        batch, twins = import_for_review(self.store, thread_id, result.samples)
        return batch.number, len(result.samples), twins, [p.describe() for p in result.problems]

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

        if self.store.get_project(thread_id) is None:
            raise UserError("save the task and seeds first (section 1); imported rows join that project")
        samples, problems = map_rows(read_hub_rows(repo_id, file), mapping)
        if not samples:
            raise UserError(f"no row of {repo_id}/{file} has both an instruction and an output with this mapping")
        batch, twins = import_for_review(self.store, thread_id, samples)
        return batch.number, len(samples), twins, [p.describe() for p in problems]

    def submit_open_batch(self, thread_id: str) -> tuple[int, list[str]]:
        """Closes the open batch when no review pause waits on it (an imported batch, or one the conversation is
        not paused on): (batch number, the notes now in force)."""
        from tools.generation.rounds import learn_from_batch

        batch = self.store.open_batch(thread_id) if thread_id and self.store.get_project(thread_id) else None
        if batch is None:
            raise UserError("no batch is open for review: generate a batch or import rows first")
        return batch.number, learn_from_batch(self.store, batch.id)

    def conflicts(self, thread_id: str) -> list[Conflict]:
        from tools.generation.project_dataset import project_conflicts

        if not thread_id or self.store.get_project(thread_id) is None:
            return []
        return project_conflicts(self.store, thread_id)

    def resolve_conflict(self, sample_ids: list[int], action: str, keep_id: int | None, merged: str = "") -> str:
        from tools.generation.project_dataset import resolve_conflict

        return resolve_conflict(self.store, sample_ids, action, keep_id, merged)

    def next_request(self, thread_id: str) -> str:
        """The user message the next batch request would send (notes, rejected examples, questions to avoid)."""
        from tools.generation.rounds import next_batch_request

        if not thread_id or self.store.get_project(thread_id) is None:
            return "(save the task and seeds first)"
        return next_batch_request(self.store, thread_id)
