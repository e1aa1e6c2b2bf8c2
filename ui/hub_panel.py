"""The Data studio's Hub import panel: search the Hugging Face Hub for a public dataset, preview a file's first rows,
say which column is the instruction, input and output, and import the rows as a batch to review.

Layout and rendering only: every read goes through the desk (session.studio), and every handler returns its outputs
by component ({component: value}), never by position."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from agent.session import DataStudio
from tools.errors import UserError
from tools.shown_text import literal as shown
from ui.notice import notice

FIELDS = ("instruction", "input", "output")  # the sample fields a column is mapped to, in the order of the boxes


class HubPanel:
    def __init__(self, studio: DataStudio):
        self.studio = studio

    def search(self, words: str) -> dict:
        try:
            found = self.studio.search_hub(words or "")
        except UserError as exc:
            return {self.found: gr.update(choices=[], value=None), self.status: notice(exc.message, False)}
        choices = [(f"{d['id']} ({d['downloads']} downloads)", d["id"]) for d in found]
        said = (f"{len(found)} dataset(s) found: pick one to preview its rows." if found else
                "Nothing found for these words; try others, or generate samples.")
        return {self.found: gr.update(choices=choices, value=None), self.status: said}

    def preview(self, repo_id: str | None, file: str | None) -> dict:
        if not repo_id:
            return {self.status: gr.skip()}  # (Gradio reads an empty dict as one value, not as no update)
        try:
            preview = self.studio.preview_hub(repo_id, file or None)
        except UserError as exc:
            return {self.file: gr.update(choices=[], value=None), self.rows: None,
                    **{box: gr.update(choices=[]) for box in self.mapping}, self.status: notice(exc.message, False)}
        columns = [""] + preview.columns
        mapping = {box: gr.update(choices=columns, value=preview.suggested_mapping.get(field, ""))
                   for box, field in zip(self.mapping, FIELDS, strict=True)}
        return {self.file: gr.update(choices=preview.files, value=preview.file),
                self.rows: pd.DataFrame(preview.rows), **mapping,
                self.status: "Check which column is which, then import: the rows join the project as a batch to "
                             "review."}

    def import_rows(self, thread_id: str, repo_id: str | None, file: str | None, instruction: str, inp: str,
                    output: str) -> str:
        if not repo_id or not file:
            return notice("search and pick a dataset and a file first.", False)
        try:
            number, rows, twins, problems = self.studio.import_hub(
                thread_id, repo_id, file, {"instruction": instruction, "input": inp, "output": output})
        except UserError as exc:
            return notice(exc.message, False)
        text = (f"Imported {rows} row(s) of {shown(repo_id)} as batch {number}: review them like generated samples"
                + (f"; {twins} repeat an earlier question" if twins else "") + ".")
        if problems:
            text += f"\n\n{len(problems)} row(s) not imported:\n" + "\n".join(f"- {shown(p)}" for p in problems[:20])
        return text

    def build(self) -> None:
        with gr.Accordion("Public data first: look for an existing dataset on the Hugging Face Hub", open=False,
                          elem_id="ts-hub"):
            self.words = gr.Textbox(label="Task words", placeholder="e.g. customer support tickets",
                                    elem_id="ts-hub-words")
            self.search_button = gr.Button("Search", size="sm", elem_id="ts-hub-search")
            self.found = gr.Dropdown([], label="Dataset", elem_id="ts-hub-found")
            self.file = gr.Dropdown([], label="File", elem_id="ts-hub-file")
            self.rows = gr.Dataframe(label="First rows", interactive=False, elem_id="ts-hub-rows")
            with gr.Row():
                self.mapping = [gr.Dropdown([], label=f"{field} column", elem_id=f"ts-hub-{field}")
                                for field in FIELDS]
            self.import_button = gr.Button("Import these rows for review", size="sm", elem_id="ts-hub-import")
            self.status = gr.Markdown(elem_id="ts-hub-status")

    def wire(self, thread: gr.State):
        """The panel's own events; returns the import, which the tab follows by showing the imported batch."""
        self.search_button.click(self.search, self.words, [self.found, self.status])
        for box in (self.found, self.file):  # the person's pick only
            box.input(self.preview, [self.found, self.file], [self.file, self.rows, *self.mapping, self.status])
        return self.import_button.click(self.import_rows, [thread, self.found, self.file, *self.mapping],
                                        self.status)
