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
        from tools.rag.raft import conversation_index

        return conversation_index(self.workspace, thread_id)

    def use_documents_for_samples(self, thread_id: str, k: int) -> str:
        """RAG + fine-tuning: the conversation's batches are drafted from its documents from now on; what that
        means, in words (UserError while nothing is indexed)."""
        from tools.rag.raft import use_documents

        settings = use_documents(self.workspace, thread_id, k)
        project = self.store.get_project(thread_id) if thread_id else None
        step = ("press **Generate a batch** in the **Data studio**" if project and project.seeds else
                "describe the task in the **Data studio** with a few answers in your style as seeds (**Save seeds**),"
                " then press **Generate a batch**")
        return (f"Training samples will be drafted from these documents: each holds a question, {settings.k} "
                "passages retrieved for it (the one that answers among others; in one sample in five none answers) "
                "and an answer citing its passage as [n]. The model is then evaluated and tried with the same "
                f"retrieval. Next, {step}.")

    def use_plain_samples(self, thread_id: str) -> str:
        """The conversation's batches are ordinary samples again; what that means, in words."""
        from tools.rag.raft import use_plain_samples

        use_plain_samples(self.workspace, thread_id)
        return ("The next batches will be ordinary samples (a question and an answer, no passages). Samples "
                "already drafted from the documents stay as they are, and runs trained on them are still evaluated "
                "and tried with retrieval. To draft from the documents again, press **Draft the training samples "
                "from these documents**.")

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
