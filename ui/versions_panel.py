"""The Data studio's dataset versions panel: the build settings, building a version (from the reviewed samples or
from a file), the versions table, and for the chosen version its summary, dropped rows, health charts and files.

Layout and rendering only: every read goes through the desk (session.studio), and every handler returns its outputs
by component ({component: value}), never by position."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from agent.session import DataStudio
from tools.errors import UserError
from tools.shown_text import literal as shown
from ui.charts import NO_VERSION, checks_chart, drops_chart, lengths_chart
from ui.notice import notice

FILE_MODES = ("as its own dataset version", "import rows into the samples to review")


def settings_of(fmt: str, eval_fraction: float, system: str, include_seeds: bool) -> dict:
    """The build controls as the desk takes them."""
    return {"fmt": fmt, "eval_fraction": float(eval_fraction), "system": (system or "").strip(),
            "include_seeds": bool(include_seeds)}


def dataset_summary(report: dict, went_in: str) -> str:
    """A version in a few lines: what went in, the format and split, what was kept and dropped, and warnings."""
    version, health = report["version"], report["health"]
    conflicts = health["conflicting_answers"]["count"]
    lines = [f"**{version['name']}** ({report['format']}, eval fraction {version['settings']['eval_fraction']}; "
             f"from {shown(went_in)}): **{report['kept']} kept** of {report['rows_read']} read → {report['train']} "
             f"train / {report['eval']} eval; {report['dropped']} dropped (each listed below with its reason).",
             f"- conflicting answers: {conflicts}" + (" — resolve them in *Conflicts* above, then build again"
                                                       if conflicts else "")]
    lines += [f"- dropped `{reason}`: {n}" for reason, n in report["drops"].items()]
    lines += [f"- warning: {shown(w)}" for w in health.get("warnings", [])]
    return "\n".join(lines)


class VersionsPanel:
    def __init__(self, studio: DataStudio):
        self.studio = studio

    def remember_settings(self, thread_id: str | None, fmt: str, eval_fraction: float, system: str,
                          include_seeds: bool) -> None:
        """The person changed a build control: a build the journey starts by itself will use it."""
        try:
            self.studio.choose_build_settings(thread_id, settings_of(fmt, eval_fraction, system, include_seeds))
        except UserError:
            pass  # a half-typed value: the build itself says what is wrong

    def use_file(self, thread_id: str, upload, mode: str, fmt: str, eval_fraction: float, system: str,
                 include_seeds: bool) -> dict:
        """Builds the file as a version of its own, or imports its rows as a batch to review; never replaces work."""
        if upload is None:
            return {self.status: notice("choose a dataset file first.", False)}
        path = upload if isinstance(upload, str) else upload.name
        try:
            if mode == FILE_MODES[1]:
                number, rows, twins, problems = self.studio.import_for_review(thread_id, path)
                text = (f"Imported {rows} row(s) as batch {number}: review them above like generated samples"
                        + (f"; {twins} repeat an earlier question (marked 'duplicate of …')" if twins else "") + ".")
                if problems:
                    text += f"\n\n{len(problems)} row(s) could not be read:\n" + "\n".join(
                        f"- {shown(p)}" for p in problems)
                return {self.status: text, **self.show(thread_id)}
            report = self.studio.build_from_file(thread_id, path,
                                                 settings_of(fmt, eval_fraction, system, include_seeds))
        except UserError as exc:
            return {self.status: notice(exc.message, False), **self.show(thread_id)}
        name = report["version"]["name"]
        return {self.status: f"Built version **{name}** from {shown(Path(path).name)}; your reviewed samples "
                             "and earlier versions are unchanged.", **self.show(thread_id, name)}

    def show(self, thread_id: str | None, name: str | None = None) -> dict:
        """The versions table, the picker, and for the chosen version (the newest by default) its summary, dropped
        rows, three charts and files."""
        versions = self.studio.versions(thread_id)
        table = pd.DataFrame([{"version": v["name"], "source": v["source"], "format": v["settings"]["fmt"],
                               "eval fraction": v["settings"]["eval_fraction"], "went in": v["went_in"],
                               "train": v["counts"]["train"], "eval": v["counts"]["eval"],
                               "dropped": v["counts"]["dropped"], "created": v["created"]} for v in versions]
                             or [{"version": "-"}])
        chosen = next((v for v in versions if v["name"] == name), versions[0] if versions else None)
        out = {self.table: table,
               self.picker: gr.update(choices=[v["name"] for v in versions], value=chosen and chosen["name"])}
        if chosen is None:
            return {**out, self.report: "_No dataset version yet._",
                    self.drops: pd.DataFrame([{"sample": "-"}]), **self.health_frames(None), self.downloads: None}
        report = self.studio.version_report(chosen["path"])
        return {**out, self.report: dataset_summary(report, chosen["went_in"]),
                self.drops: self.drops_frame(report), **self.health_frames(report),
                self.downloads: [str(p) for p in sorted(Path(chosen["path"]).iterdir()) if p.is_file()]}

    def drops_frame(self, report: dict) -> pd.DataFrame:
        """Every dropped row: the sample (batch and position for reviewed ones), why, and the twin kept."""
        rows = [{"sample": self.studio.where(row["id"]), "reason": row["reason"],
                 "kept instead": self.studio.where(row["kept"]) if row.get("kept") else "",
                 "detail": row.get("detail", "")} for row in report.get("dropped_rows", [])]
        return pd.DataFrame(rows or [{"sample": "-", "reason": "nothing dropped"}])

    def health_frames(self, report: dict | None) -> dict:
        """The version's three charts (lengths, drops, checks); report None: no version yet."""
        if report is None:
            return {self.lengths_plot: lengths_chart([], NO_VERSION), self.drops_plot: drops_chart([], NO_VERSION),
                    self.checks_plot: checks_chart([], NO_VERSION)}
        health = report["health"]
        lengths = [(f"{b['from']}–{b['to']}", b["count"]) for b in health.get("length_histogram", [])]
        checks = [("conflicting answers", health["conflicting_answers"]["count"]),
                  ("refusal-like", health["refusals"]["count"]),
                  ("possibly unsupported", health["unsupported"]["count"]),
                  *((f"label {label}", n) for label, n in (health.get("labels") or {}).get("counts", {}).items())]
        return {self.lengths_plot: lengths_chart(lengths, "no samples in this version"),
                self.drops_plot: drops_chart(list(report["drops"].items()), "nothing dropped"),
                self.checks_plot: checks_chart(checks, "no conflicts, refusals or unsupported answers found")}

    def build(self, system: gr.Textbox) -> None:
        """Section 3; system is section 1's system prompt box, which is a build setting too."""
        gr.Markdown("#### 3 · Build a dataset version (each build is new; none is ever overwritten)")
        with gr.Row():
            fmt = gr.Radio(["alpaca", "sharegpt", "openai"], value="alpaca", label="Export format", elem_id="ts-fmt")
            eval_fraction = gr.Slider(0.0, 0.5, value=0.1, step=0.05, label="Eval fraction", elem_id="ts-eval")
            include_seeds = gr.Checkbox(value=True, label="Include the seed examples", elem_id="ts-include-seeds")
            self.build_button = gr.Button("Build from reviewed samples", variant="primary", elem_id="ts-build")
        with gr.Row():
            self.upload = gr.File(label="…or use a dataset file you already have",
                                  file_types=[".json", ".jsonl", ".csv"], elem_id="ts-dataset-file")
            self.file_mode = gr.Radio(list(FILE_MODES), value=FILE_MODES[0], label="Use the file",
                                      elem_id="ts-file-mode")
            self.use_file_button = gr.Button("Use file", elem_id="ts-build-file")
        self.status = gr.Markdown(elem_id="ts-build-status")
        self.table = gr.Dataframe(label="Dataset versions (newest first; training uses the newest unless you pick "
                                        "another)", interactive=False, elem_id="ts-versions")
        self.picker = gr.Dropdown([], label="Show version", elem_id="ts-version")
        self.report = gr.Markdown(elem_id="ts-dataset-report")
        self.drops = gr.Dataframe(label="Dropped rows (every one, with its reason)", interactive=False,
                                  elem_id="ts-drops")
        with gr.Row():
            self.lengths_plot = lengths_chart([], NO_VERSION, elem_id="ts-length-plot")
            self.drops_plot = drops_chart([], NO_VERSION, elem_id="ts-drops-plot")
            self.checks_plot = checks_chart([], NO_VERSION, elem_id="ts-checks-plot")
        self.downloads = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="ts-downloads")
        self.controls = [fmt, eval_fraction, system, include_seeds]  # in settings_of's order
        self.outputs = [self.table, self.picker, self.report, self.drops, self.lengths_plot, self.drops_plot,
                        self.checks_plot, self.downloads]

    def wire(self, thread: gr.State):
        """The panel's own events; returns the file's use, which the tab follows by showing rows imported to
        review."""
        for control in self.controls:  # the build a reached target starts uses what the person set here
            control.change(self.remember_settings, [thread, *self.controls], None, show_progress="hidden")
        self.picker.input(self.show, [thread, self.picker], self.outputs)
        return self.use_file_button.click(self.use_file, [thread, self.upload, self.file_mode, *self.controls],
                                          [self.status, *self.outputs])
