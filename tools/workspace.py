"""Where everything a person makes is kept: every workspace path, and both databases, in one place.

    WORKSPACE/checkpoints.db                    LangGraph conversations (one thread each)
    WORKSPACE/tunesmith.db                      conversation list, projects, batches, decisions, notes (ReviewStore,
                                                with its schema migrations)
    WORKSPACE/guidance-index/                   the guidance knowledge base's vector index
    WORKSPACE/projects/<conversation>/datasets/vNNN-reviewed|file/   one dataset version per build (never
                                                overwritten; tools.dataset.versions), build-settings.json beside them
    WORKSPACE/projects/<conversation>/runs/run-N/   one training run (config, progress, checkpoints, eval)
    WORKSPACE/projects/<conversation>/docs/ and rag/   documents uploaded in the Retrieval tab and their index
    WORKSPACE/rag/<name>/                       document indexes made with `tunesmith rag index`
    WORKSPACE/examples/dates-to-iso-N/          the built-in example project's runs
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tools.errors import UserError

if TYPE_CHECKING:
    from tools.settings import Settings

CHECKPOINTS_DB = "checkpoints.db"
STORE_DB = "tunesmith.db"
GUIDANCE_INDEX = "guidance-index"
SCRATCH_PROJECT = "scratch"  # datasets built before any conversation is open


class Workspace:
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> Workspace:
        return cls(settings.tunesmith_workspace)

    def file(self, *parts: str) -> Path:
        """A path inside the workspace; refuses anything that escapes it (uploaded names are untrusted)."""
        path = self.root.joinpath(*parts).resolve()
        if path != self.root and self.root not in path.parents:
            raise UserError(f"path {'/'.join(parts)!r} points outside the workspace {self.root}; use a plain name")
        return path

    # --- the two databases --------------------------------------------------------------------------------
    @property
    def checkpoints_db(self) -> Path:
        return self.file(CHECKPOINTS_DB)

    @property
    def store_db(self) -> Path:
        return self.file(STORE_DB)

    # --- folders --------------------------------------------------------------------------------------------
    @property
    def examples_dir(self) -> Path:
        return self.file("examples")

    def named_rag_index(self, name: str) -> Path:
        """A document index made from the terminal (`tunesmith rag index ... --name NAME`)."""
        return self.file("rag", name)

    @property
    def guidance_index(self) -> Path:
        return self.file(GUIDANCE_INDEX)

    def project_dir(self, thread_id: str | None) -> Path:
        return self.file("projects", thread_id or SCRATCH_PROJECT)

    def generation_lock(self, thread_id: str) -> Path:
        """Held while a batch of the project is being drafted (tools.locks): one draft at a time."""
        return self.project_dir(thread_id) / ".generate.lock"

    def rag_index_dir(self, thread_id: str) -> Path:
        return self.project_dir(thread_id) / "rag"

    def runs_dir(self, thread_id: str) -> Path:
        return self.project_dir(thread_id) / "runs"

    def next_run_dir(self, thread_id: str) -> Path:
        """runs/run-N with N one above the highest run so far."""
        numbers = [int(p.name.split("-")[1]) for p in self.runs_dir(thread_id).glob("run-*")
                   if p.name.split("-")[1].isdigit()]
        return self.runs_dir(thread_id) / f"run-{1 + max(numbers, default=0)}"
