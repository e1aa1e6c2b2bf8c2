"""The Retrieval and Prompt tabs: the RAG and ICL paths made real (index + cited answers; few-shot prompt + try)."""
from __future__ import annotations

import shutil
from pathlib import Path

import gradio as gr
import pandas as pd

from agent.session import Action, Session
from tools.errors import LLMUnavailable, UserError
from tools.llm import SETUP_HINT, describe_llm_error


class RetrievalTab:
    def __init__(self, session: Session):
        self.session = session
        self.problem = session.runs.PROBLEM  # a word before a problem, readable without an emoji font

    def _index(self, thread_id: str):
        return self.session.paths.document_index(thread_id)

    def index_files(self, thread_id: str, uploads) -> str:
        if not uploads:
            return f"{self.problem} Choose one or more documents (.txt, .md, .html, .json, .csv)."
        docs = self.session.project_dir(thread_id) / "docs"
        docs.mkdir(parents=True, exist_ok=True)
        copies = []
        for upload in uploads:
            source = Path(upload if isinstance(upload, str) else upload.name)
            target = docs / Path(source.name).name  # uploaded names are untrusted: keep the bare file name only
            shutil.copyfile(source, target)
            copies.append(target)
        try:
            report = self._index(thread_id).add_documents(copies)
        except UserError as exc:
            return f"{self.problem} {exc.message}"
        lines = [f"Indexed {sum(report.indexed.values())} chunk(s) from {len(report.indexed)} file(s)."]
        lines += [f"- `{Path(f).name}`: {n} chunk(s)" for f, n in report.indexed.items()]
        lines += [f"- {self.problem} skipped `{Path(f).name}`: {why}" for f, why in report.skipped.items()]
        return "\n".join(lines)

    def ask(self, thread_id: str, question: str):
        if not (question or "").strip():
            return f"{self.problem} Type a question.", pd.DataFrame()
        try:
            index = self._index(thread_id)
        except UserError as exc:  # e.g. an index built with another embedding model
            return f"{self.problem} {exc.message}", pd.DataFrame()
        if index.count() == 0:
            return f"{self.problem} Nothing is indexed yet: upload documents and press **Index**.", pd.DataFrame()
        answer = index.answer(question, chat_model=self.session.chat_model)
        text = answer.text + (f"\n\n_{answer.note}_" if answer.note else "")
        hits = pd.DataFrame([{"#": i, "source": h.label, "score": round(h.score, 3), "text": h.text[:300]}
                             for i, h in enumerate(answer.citations, 1)])
        return text, hits

    def use_for_samples(self, thread_id: str, k: float) -> str:
        if not thread_id:
            return f"{self.problem} Open a conversation first."
        try:
            return self.session.paths.use_documents_for_samples(thread_id, int(k))
        except UserError as exc:
            return f"{self.problem} {exc.message}"

    def use_plain_samples(self, thread_id: str) -> str:
        if not thread_id:
            return f"{self.problem} Open a conversation first."
        try:
            return self.session.paths.use_plain_samples(thread_id)
        except UserError as exc:
            return f"{self.problem} {exc.message}"

    def build(self, thread: gr.State) -> None:
        gr.Markdown("Upload the documents answers must come from; Tunesmith chunks and indexes them with a local "
                    "embedding model. Ask questions to see the answer, its citations and the retrieved passages.")
        with gr.Row():
            uploads = gr.File(label="Documents", file_count="multiple", elem_id="ts-rag-files",
                              # .pdf/.docx are accepted so the index can say why it skips them and what to do
                              file_types=[".txt", ".md", ".html", ".htm", ".json", ".csv", ".pdf", ".docx"])
            with gr.Column():
                index = gr.Button("Index", variant="primary", elem_id="ts-rag-index")
                report = gr.Markdown(elem_id="ts-rag-report")
        question = gr.Textbox(label="Question", elem_id="ts-rag-question")
        ask = gr.Button("Ask", elem_id="ts-rag-ask")
        answer = gr.Markdown(elem_id="ts-rag-answer")
        hits = gr.Dataframe(label="Retrieved passages (judge them: are these the right ones?)", wrap=True,
                            elem_id="ts-rag-hits")
        gr.Markdown("#### RAG + fine-tuning\nTrain a model to answer from these documents in your style: the "
                    "Data studio's batches are then drafted from them, each sample holding a question, the passages "
                    "retrieved for it and an answer citing the one that answers (on the RAG + fine-tuning path this "
                    "happens as soon as documents are indexed; **Draft ordinary samples instead** goes back).")
        with gr.Row():
            k = gr.Slider(1, 8, value=3, step=1, label="Passages a question (k)", elem_id="ts-rag-k")
            use = gr.Button("Draft the training samples from these documents", elem_id="ts-rag-use")
            plain = gr.Button("Draft ordinary samples instead", elem_id="ts-rag-plain")
        use_report = gr.Markdown(elem_id="ts-rag-use-report")
        index.click(self.index_files, [thread, uploads], report)
        use.click(self.use_for_samples, [thread, k], use_report)
        plain.click(self.use_plain_samples, thread, use_report)
        ask.click(self.ask, [thread, question], [answer, hits])
        question.submit(self.ask, [thread, question], [answer, hits])


class PromptTab:
    def __init__(self, session: Session, chat_outputs_fn):
        self.session = session
        self.problem = session.runs.PROBLEM
        self.chat_outputs_fn = chat_outputs_fn

    def build_prompt(self, thread_id: str, query: str) -> str:
        try:
            return self.session.paths.few_shot_prompt(thread_id, (query or "").strip() or None)
        except UserError as exc:
            return f"{self.problem} {exc.message}"

    def try_it(self, thread_id: str, query: str) -> dict:
        prompt = self.build_prompt(thread_id, query)
        return {self.prompt: prompt, self.answer: self.answer_to(prompt, query)}

    def answer_to(self, prompt: str, query: str) -> str:
        if prompt.startswith(self.problem):
            return ""
        if self.session.chat_model is None:
            return f"Trying the prompt needs an LLM endpoint. {SETUP_HINT}"
        try:
            return self.session.paths.try_prompt(prompt, query)
        except (LLMUnavailable, UserError) as exc:
            return f"{self.problem} {exc}"

    def measure(self, thread_id: str):
        from tools.advisor.baseline import render_baseline_markdown

        if self.session.chat_model is None:
            return {self.baseline: f"Measuring needs an LLM endpoint. {SETUP_HINT}"}
        try:
            result = self.session.paths.measure_baseline(thread_id)
        except UserError as exc:
            return {self.baseline: f"{self.problem} {exc.message}"}
        except Exception as exc:  # an LLM failure: say it plainly, nothing is lost
            return {self.baseline: f"{self.problem} {describe_llm_error(exc)}"}
        summary = {k: v for k, v in result.items() if k != "rows"}
        self.session.act(thread_id, Action.BASELINE, "Measure zero-shot vs few-shot", tab="Prompt", baseline=summary)
        return {**self.chat_outputs_fn(thread_id), self.baseline: render_baseline_markdown(result)}

    def build(self, thread: gr.State, chat_outputs: list) -> None:
        gr.Markdown("A few-shot prompt from your examples (the seeds and approved samples of the Data studio). With "
                    "many examples, the most relevant ones are retrieved for each input.")
        query = gr.Textbox(label="Try an input", elem_id="ts-icl-query")
        with gr.Row():
            show = gr.Button("Show prompt", elem_id="ts-icl-show")
            try_button = gr.Button("Try it", variant="primary", elem_id="ts-icl-try")
            measure = gr.Button("Measure zero-shot vs few-shot", elem_id="ts-icl-measure")
        prompt = gr.Code(label="Prompt (copy it)", language="markdown", elem_id="ts-icl-prompt")
        answer = gr.Markdown(elem_id="ts-icl-answer")
        baseline = gr.Markdown(elem_id="ts-icl-baseline")
        self.prompt, self.answer, self.baseline = prompt, answer, baseline
        show.click(self.build_prompt, [thread, query], prompt)
        try_button.click(self.try_it, [thread, query], [prompt, answer])
        measure.click(self.measure, thread, chat_outputs + [baseline])
