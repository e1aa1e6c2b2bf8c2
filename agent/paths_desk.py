"""What the Retrieval and Prompt tabs do: the conversation's document index, few-shot prompts from the project's
examples, trying a prompt, and the zero-shot vs few-shot measurement. Reached as `session.paths`."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tools.errors import UserError

if TYPE_CHECKING:
    from tools.generation.store import ReviewStore
    from tools.workspace import Workspace


class PathsDesk:
    def __init__(self, workspace: Workspace, store: ReviewStore, chat_model: Callable[[], Any]):
        self.workspace = workspace
        self.store = store
        self.chat_model = chat_model  # read when used: the endpoint can be configured after start-up

    def document_index(self, thread_id: str):
        from tools.rag.index import DocumentIndex

        return DocumentIndex(self.workspace.rag_index_dir(thread_id), name=f"docs-{thread_id}")

    def project_examples(self, thread_id: str):
        """(project, its seeds + accepted samples); UserError before the Data studio has a task and seeds."""
        project = self.store.get_project(thread_id) if thread_id else None
        if project is None:
            raise UserError("add a task and examples in the Data studio (Save seeds) first")
        return project, project.seeds + self.store.accepted_samples(thread_id)

    def few_shot_prompt(self, thread_id: str, query: str | None) -> str:
        from tools.icl.prompt import build_few_shot_prompt

        project, examples = self.project_examples(thread_id)
        return build_few_shot_prompt(project.task, examples, query=query)

    def try_prompt(self, prompt: str, query: str) -> str:
        from tools.icl.prompt import try_prompt

        return try_prompt(self.chat_model(), prompt, query)

    def measure_baseline(self, thread_id: str) -> dict:
        from tools.advisor.baseline import run_baseline

        project, examples = self.project_examples(thread_id)
        return run_baseline(self.chat_model(), project.task, examples)
