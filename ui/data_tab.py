"""The Data studio tab: seeds in, batches reviewed sample by sample (each decision saved at once), error notes,
acceptance per batch, and the dataset build with downloads."""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pandas as pd

from agent.finetune_nodes import project_dir
from agent.session import Session
from tools.dataset.schema import AlpacaSample
from tools.errors import UserError

STATUS_BADGE = {"pending": "⏳ pending", "approved": "✅ approved", "rejected": "❌ rejected", "edited": "✏️ edited"}


class DataTab:
    def __init__(self, session: Session, chat_outputs_fn):
        self.session = session
        self.store = session.deps.store
        self.chat_outputs_fn = chat_outputs_fn  # refreshes the advisor tab after the graph moves on

    # --- seeds ----------------------------------------------------------------------------------------------
    def save_seeds(self, thread_id: str, task: str, system: str, target: float, upload, pasted: str) -> str:
        from tools.dataset.readers import parse_pasted_text, read_samples

        if not (task or "").strip():
            return "⚠️ Describe the task first: one or two sentences on what the model must do."
        try:
            if upload is not None:
                result = read_samples(upload if isinstance(upload, str) else upload.name)
            elif (pasted or "").strip():
                result = parse_pasted_text(pasted)
            else:
                return "⚠️ Upload a seed file (Alpaca/ShareGPT/OpenAI JSON or JSONL, or CSV) or paste examples."
        except UserError as exc:
            return f"⚠️ {exc.message}"
        if not result.samples:
            return "⚠️ No usable examples:\n" + "\n".join(f"- {p.describe()}" for p in result.problems)
        self.store.save_project(thread_id, task.strip(), result.samples, system=(system or "").strip(),
                                target_count=int(target or 100))
        lines = [f"Saved {len(result.samples)} seed example(s) ({result.format}). Ask for a batch in the chat, or "
                 "press **Generate a batch**."]
        if result.problems:
            lines.append(f"{len(result.problems)} row(s) were not used — fix them and save again:")
            lines += [f"- {p.describe()}" for p in result.problems]
        return "\n".join(lines)

    def load_project(self, thread_id: str):
        project = self.store.get_project(thread_id) if thread_id else None
        if project is None:
            return "", "", 100, "", ""
        return (project.task, project.system, project.target_count,
                f"{len(project.seeds)} seed example(s) saved.", "\n".join(self.store.notes(thread_id)))

    # --- review ---------------------------------------------------------------------------------------------
    def current_batch(self, thread_id: str):
        if not thread_id or self.store.get_project(thread_id) is None:
            return None
        batches = self.store.batches(thread_id)
        return self.store.open_batch(thread_id) or (batches[-1] if batches else None)

    def review_header(self, thread_id: str) -> str:
        batch = self.current_batch(thread_id)
        if batch is None:
            return "_No batch yet. Save seeds, then generate a batch._"
        samples = self.store.batch_samples(batch.id)
        pending = sum(s.status == "pending" for s in samples)
        state = "open for review" if batch.status == "open" else "submitted"
        header = f"**Batch {batch.number}** ({state}): {len(samples)} samples, {pending} pending."
        coverage = self.store.tag_counts(thread_id)
        if coverage:
            header += "  \nTags of accepted samples: " + " · ".join(f"{tag} {n}" for tag, n in coverage.items())
        return header

    def shown_samples(self, batch, status: str, tag: str | None, text: str) -> list:
        """The batch's samples that pass the review filter (status, tag, words)."""
        return [s for s in self.store.batch_samples(batch.id) if s.matches(status, tag or None, text)]

    def tag_choices(self, thread_id: str):
        batch = self.current_batch(thread_id)
        tags = sorted({t for s in self.store.batch_samples(batch.id) for t in s.tags}) if batch else []
        return gr.update(choices=[""] + tags)

    def decide(self, sample_id: int, action: str, reason: str = "", edited: dict | None = None) -> str:
        try:
            if action == "approve":
                self.store.approve(sample_id)
            elif action == "reject":
                self.store.reject(sample_id, reason)
            elif action == "edit":
                self.store.edit(sample_id, AlpacaSample.model_validate(edited))
            return ""
        except UserError as exc:
            return f"⚠️ {exc.message}"
        except ValueError as exc:  # an edit that is not a valid sample (e.g. blank output)
            return f"⚠️ This edit is not a valid sample: {exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}"

    def bulk(self, thread_id: str, action: str, reason: str, status: str, tag: str | None, text: str) -> str:
        """Approves/rejects the pending samples the filter shows, or adds a tag to every sample shown."""
        batch = self.current_batch(thread_id)
        if batch is None or batch.status != "open":
            return "⚠️ There is no open batch."
        shown = self.shown_samples(batch, status, tag, text)
        try:
            if action == "tag":
                count = self.store.bulk_tag([s.id for s in shown], reason)
                return f"Tagged {count} sample(s) '{reason.strip().lower()}'."
            ids = [s.id for s in shown if s.status == "pending"]
            if not ids:
                return "No pending sample is shown."
            count = self.store.bulk(ids, action, reason)
        except UserError as exc:
            return f"⚠️ {exc.message}"
        return f"{action.capitalize()}d {count} pending sample(s)."

    def save_tags(self, sample_id: int, tags: str) -> str:
        try:
            self.store.set_tags(sample_id, tags)
            return ""
        except UserError as exc:
            return f"⚠️ {exc.message}"

    def save_notes(self, thread_id: str, text: str) -> tuple[str, str]:
        if self.store.get_project(thread_id) is None:
            return text, "⚠️ Save seeds first."
        notes = self.store.set_notes(thread_id, text.splitlines())
        return "\n".join(notes), f"Saved {len(notes)} note(s); the next batch's prompt includes them."

    def acceptance_frame(self, thread_id: str) -> pd.DataFrame:
        stats = self.store.batch_stats(thread_id) if thread_id and self.store.get_project(thread_id) else []
        rows = [{"batch": f"#{s.number}", "acceptance %": round(100 * (s.acceptance_rate or 0), 1)} for s in stats]
        return pd.DataFrame(rows or [{"batch": "-", "acceptance %": 0.0}])

    def graph_action(self, thread_id: str, text: str, action: str):
        self.session.send(thread_id, {"text": text, "action": action})
        return self.chat_outputs_fn(thread_id)

    # --- dataset --------------------------------------------------------------------------------------------
    def build_from_upload(self, thread_id: str, upload, fmt: str, eval_fraction: float, system: str):
        from tools.dataset.build import build_dataset

        if upload is None:
            return "⚠️ Choose a dataset file to build from.", None
        out = project_dir(self.session.settings.workspace, thread_id or "scratch") / "dataset"
        try:
            report = build_dataset([upload if isinstance(upload, str) else upload.name], out,
                                   eval_fraction=eval_fraction, system=(system or None), fmt=fmt)
        except UserError as exc:
            return f"⚠️ {exc.message}", None
        return self.dataset_summary(report), self.dataset_files(out)

    def show_dataset(self, thread_id: str):
        out = project_dir(self.session.settings.workspace, thread_id or "scratch") / "dataset"
        report_path = out / "report.json"
        if not report_path.exists():
            return "_No dataset built yet._", None
        return self.dataset_summary(json.loads(report_path.read_text(encoding="utf-8"))), self.dataset_files(out)

    @staticmethod
    def dataset_summary(report: dict) -> str:
        lines = [f"**{report['kept']} kept** of {report['rows_read']} read → {report['train']} train / "
                 f"{report['eval']} eval; {report['dropped']} dropped."]
        lines += [f"- dropped `{reason}`: {n}" for reason, n in report["drops"].items()]
        lines += [f"- ⚠️ {w}" for w in report.get("health", {}).get("warnings", [])]
        return "\n".join(lines)

    @staticmethod
    def dataset_files(out: Path) -> list[str]:
        return [str(p) for p in sorted(out.iterdir()) if p.is_file()]

    # --- layout ---------------------------------------------------------------------------------------------
    def build(self, thread: gr.State, chat_outputs: list) -> None:
        refresh = gr.State(0)
        with gr.Row():
            with gr.Column(scale=2):
                gr.Markdown("#### 1 · Task and seed examples")
                task = gr.Textbox(label="Task description", lines=2, elem_id="ts-task")
                system = gr.Textbox(label="System prompt (optional)", lines=1, elem_id="ts-system")
                target = gr.Number(label="Target number of samples", value=100, precision=0, elem_id="ts-target")
                upload = gr.File(label="Seed file (Alpaca / ShareGPT / OpenAI JSON or JSONL, CSV)",
                                 file_types=[".json", ".jsonl", ".csv"], elem_id="ts-seed-file")
                pasted = gr.Textbox(label="…or paste examples (JSON, or 'Instruction: / Input: / Output:' blocks)",
                                    lines=4, elem_id="ts-seed-paste")
                save = gr.Button("Save seeds", elem_id="ts-save-seeds")
                seeds_status = gr.Markdown(elem_id="ts-seeds-status")
                gr.Markdown("#### Error notes (fed into every next batch)")
                notes = gr.Textbox(label="One note per line; edit freely", lines=5, elem_id="ts-notes")
                save_notes = gr.Button("Save notes", size="sm", elem_id="ts-save-notes")
                notes_status = gr.Markdown()
                chart = gr.BarPlot(x="batch", y="acceptance %", title="Acceptance per batch", y_lim=[0, 100],
                                   elem_id="ts-acceptance")
            with gr.Column(scale=3):
                gr.Markdown("#### 2 · Review the batch")
                with gr.Row():
                    generate = gr.Button("Generate a batch", variant="primary", elem_id="ts-generate")
                    submit = gr.Button("Submit batch", variant="primary", elem_id="ts-submit-batch")
                header = gr.Markdown(elem_id="ts-review-header")
                with gr.Row():
                    status_filter = gr.Radio(["all", "pending", "approved", "rejected", "edited"], value="all",
                                             label="Show", scale=3, elem_id="ts-filter")
                    tag_filter = gr.Dropdown([""], value="", label="Tag", allow_custom_value=True, scale=1,
                                             elem_id="ts-tag-filter")
                    text_filter = gr.Textbox(label="Containing", placeholder="words", scale=2,
                                             elem_id="ts-text-filter")
                filters = [status_filter, tag_filter, text_filter]
                with gr.Row():
                    bulk_reason = gr.Textbox(label="Reason (bulk reject) or tag (bulk tag)", scale=3,
                                             elem_id="ts-bulk-reason")
                    approve_all = gr.Button("Approve shown pending", size="sm", elem_id="ts-approve-all")
                    reject_all = gr.Button("Reject shown pending", size="sm", elem_id="ts-reject-all")
                    tag_all = gr.Button("Tag shown", size="sm", elem_id="ts-tag-all")
                bulk_status = gr.Markdown(elem_id="ts-bulk-status")

                @gr.render(inputs=[thread, *filters, refresh])
                def render_samples(thread_id, status, tag, text, _):
                    batch = self.current_batch(thread_id)
                    if batch is None:
                        return
                    shown = self.shown_samples(batch, status, tag, text)
                    if not shown:
                        gr.Markdown("_No sample matches the filter._")
                    for s in shown:
                        self._sample_card(s, batch.status == "open", refresh)

        gr.Markdown("#### 3 · Build the dataset")
        with gr.Row():
            fmt = gr.Radio(["alpaca", "sharegpt", "openai"], value="alpaca", label="Export format", elem_id="ts-fmt")
            eval_fraction = gr.Slider(0.0, 0.5, value=0.1, step=0.05, label="Eval fraction")
            build = gr.Button("Build from reviewed samples", variant="primary", elem_id="ts-build")
        with gr.Row():
            dataset_upload = gr.File(label="…or build from a dataset file you already have",
                                     file_types=[".json", ".jsonl", ".csv"], elem_id="ts-dataset-file")
            build_upload = gr.Button("Build from file", elem_id="ts-build-file")
        dataset_report = gr.Markdown(elem_id="ts-dataset-report")
        downloads = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="ts-downloads")

        bump = lambda n: n + 1  # noqa: E731 - re-render the review cards
        save.click(self.save_seeds, [thread, task, system, target, upload, pasted], seeds_status)
        save_notes.click(self.save_notes, [thread, notes], [notes, notes_status])
        for button, action in ((approve_all, "approve"), (reject_all, "reject"), (tag_all, "tag")):
            button.click(lambda t, r, *f, action=action: self.bulk(t, action, r, *f), [thread, bulk_reason, *filters],
                         bulk_status).then(bump, refresh, refresh).then(self.review_header, thread, header)
        tag_filter.focus(self.tag_choices, thread, tag_filter)  # the batch's tags as they are now
        after_graph = [self.review_header, self.acceptance_frame]
        for button, text, action in ((generate, "Generate a batch", "generate"), (submit, "Submit batch", "submit"),
                                     (build, "Build the dataset", "build_dataset")):
            event = button.click(lambda t, text=text, action=action: self.graph_action(t, text, action), thread,
                                 chat_outputs)
            event = event.then(bump, refresh, refresh).then(after_graph[0], thread, header)
            event = event.then(after_graph[1], thread, chart).then(self.show_dataset, thread,
                                                                    [dataset_report, downloads])
            event.then(lambda t: "\n".join(self.store.notes(t)) if self.store.get_project(t) else "", thread, notes)
        build_upload.click(self.build_from_upload, [thread, dataset_upload, fmt, eval_fraction, system],
                           [dataset_report, downloads])
        self.refresh_targets = ([task, system, target, seeds_status, notes], header, chart, refresh,
                                [dataset_report, downloads])

    def refresh_all(self, thread_id: str):
        """Everything this tab shows for a (re)opened conversation."""
        return (*self.load_project(thread_id), self.review_header(thread_id), self.acceptance_frame(thread_id),
                *self.show_dataset(thread_id))

    def _sample_card(self, s, editable: bool, refresh: gr.State) -> None:
        with gr.Group(elem_classes=["ts-sample"]):
            tags = "".join(f" `{tag}`" for tag in s.tags)
            gr.Markdown(f"**#{s.position + 1}** · {STATUS_BADGE[s.status]}{tags}" +
                        (f" — _{s.reason}_" if s.reason else ""), elem_classes=["ts-sample-status"])
            instruction = gr.Textbox(s.current.instruction, label="instruction", lines=1, interactive=editable)
            inp = gr.Textbox(s.current.input, label="input", lines=1, interactive=editable)
            output = gr.Textbox(s.current.output, label="output", lines=2, interactive=editable)
            if s.current.history:
                gr.Markdown("history: " + json.dumps(s.current.history, ensure_ascii=False))
            if not editable:
                return
            with gr.Row():
                reason = gr.Textbox(placeholder="reason (needed to reject)", show_label=False, scale=3,
                                    elem_classes=["ts-reason"])
                approve = gr.Button("Approve", size="sm", elem_classes=["ts-approve"])
                reject = gr.Button("Reject", size="sm", elem_classes=["ts-reject"])
                save = gr.Button("Save edit", size="sm", elem_classes=["ts-save-edit"])
            tags_box = gr.Textbox(", ".join(s.tags), placeholder="tags, comma-separated (Enter saves)",
                                  show_label=False, elem_classes=["ts-tags"])
            problem = gr.Markdown()
            bump = lambda msg, n: n + 1 if not msg else n  # noqa: E731 - re-render only when it was saved
            approve.click(lambda: self.decide(s.id, "approve"), None, problem).then(bump, [problem, refresh], refresh)
            reject.click(lambda r: self.decide(s.id, "reject", r), reason, problem).then(
                bump, [problem, refresh], refresh)
            tags_box.submit(lambda text: self.save_tags(s.id, text), tags_box, problem).then(
                bump, [problem, refresh], refresh)
            save.click(lambda i, x, o: self.decide(s.id, "edit", edited={
                **s.current.model_dump(), "instruction": i, "input": x, "output": o}),
                [instruction, inp, output], problem).then(bump, [problem, refresh], refresh)
