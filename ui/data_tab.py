"""The Data studio tab: seeds in; batches reviewed one sample at a time with keys (focus mode) or as a filtered list;
conflicts resolved; error notes and the next request shown as they will be sent; every build a new dataset version
with its drops, conflicts and health as pictures. Every action answers here, in the studio."""
from __future__ import annotations

import html
import json
from pathlib import Path

import gradio as gr
import pandas as pd

from agent.session import Session
from tools.errors import UserError
from ui.charts import NO_VERSION, acceptance_chart, checks_chart, drops_chart, lengths_chart

CHANGED_MEANWHILE = "was changed since you saw it"  # the store's DecisionConflict wording
NOTHING_SHOWN = "No pending sample is shown."

STATUS_COLOURS = {"pending": ("#fef9c3", "#854d0e"), "approved": ("#dcfce7", "#166534"),
                  "rejected": ("#fee2e2", "#991b1b"), "edited": ("#dbeafe", "#1e40af")}
FILE_MODES = ("as its own dataset version", "import rows into the samples to review")
# Keys of the focus mode (Argilla / Label Studio habits); typing in a box is left alone except Ctrl+Enter / Esc.
KEYS_JS = """
if (!window.tsFocusKeys) {
  window.tsFocusKeys = true;
  const click = (id) => { const b = document.querySelector('#' + id); if (b) b.click(); };
  document.addEventListener('keydown', (e) => {
    const focus = document.querySelector('#ts-focus');
    if (!focus || focus.offsetParent === null) return;
    const typing = ['TEXTAREA', 'INPUT'].includes(e.target.tagName);
    if (typing) {
      if (e.key === 'Escape') e.target.blur();
      else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && focus.contains(e.target)) {
        e.preventDefault(); const box = e.target; box.dispatchEvent(new Event('input', {bubbles: true}));
        box.blur();  // the next key is a command again
        setTimeout(() => click(box.closest('#ts-focus-reason') ? 'ts-focus-reject' : 'ts-focus-save'), 0);
      }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const go = {a: 'ts-focus-approve', j: 'ts-focus-next', ArrowRight: 'ts-focus-next', k: 'ts-focus-prev',
                ArrowLeft: 'ts-focus-prev'}[e.key];
    if (go) { e.preventDefault(); click(go); return; }
    const box = {r: '#ts-focus-reason textarea', e: '#ts-focus-output textarea'}[e.key];
    if (box) { e.preventDefault(); const el = document.querySelector(box); if (el) el.focus(); }
  });
}
"""
KEYS_HINT = ("<div id='ts-keys'>Keys: <b>a</b> approve · <b>r</b> reason, then <b>Ctrl+Enter</b> rejects · "
             "<b>e</b> edit the output, then <b>Ctrl+Enter</b> saves · <b>j</b>/→ next · <b>k</b>/← previous · "
             "<b>Esc</b> leaves a box</div>")


def badge(status: str, text: str | None = None) -> str:
    """A status as coloured text (readable without colour and without an emoji font)."""
    background, colour = STATUS_COLOURS.get(status, ("#f1f5f9", "#334155"))
    return (f"<span class='ts-badge ts-badge-{status}' style='background:{background};color:{colour};"
            f"border:1px solid {colour};border-radius:4px;padding:0 6px;font-weight:600'>"
            f"{html.escape(text or status)}</span>")


def notice(text: str, ok: bool = True) -> str:
    """An action's answer in the studio: what happened, what to do next."""
    return text if ok else f"**Not done:** {text}"


def trained_context(sample) -> str:
    """The fields that are trained on besides instruction/input/output, so the card shows all of them."""
    parts = []
    if sample.system:
        parts.append(f"<br>system: <i>{html.escape(sample.system)}</i>")
    for question, answer in sample.history:
        parts.append(f"<br>earlier turn: <i>{html.escape(question)}</i> → <i>{html.escape(answer)}</i>")
    return "".join(parts)


class DataTab:
    def __init__(self, session: Session, chat_outputs_fn):
        self.session = session
        self.store = session.store
        self.studio = session.studio
        self.chat_outputs_fn = chat_outputs_fn  # refreshes the advisor tab after the graph moves on

    # --- seeds ----------------------------------------------------------------------------------------------
    def save_seeds(self, thread_id: str, task: str, system: str, target: float, upload, pasted: str) -> str:
        if not (task or "").strip():
            return notice("describe the task first: one or two sentences on what the model must do.", False)
        try:
            if upload is not None:
                result = self.studio.read_seeds(upload if isinstance(upload, str) else upload.name, "")
            elif (pasted or "").strip():
                result = self.studio.read_seeds(None, pasted)
            else:
                return notice("upload a seed file (Alpaca/ShareGPT/OpenAI JSON or JSONL, or CSV) or paste examples.",
                              False)
        except UserError as exc:
            return notice(exc.message, False)
        if not result.samples:
            return notice("no usable examples:\n" + "\n".join(f"- {p.describe()}" for p in result.problems), False)
        self.store.save_project(thread_id, task.strip(), result.samples, system=(system or "").strip(),
                                target_count=int(target or 100))
        lines = [f"Saved {len(result.samples)} seed example(s) ({result.format}). Press **Generate a batch**, or "
                 "ask for one in the chat. Seeds go into the dataset too (see *Include the seed examples*)."]
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

    # --- review: shared -------------------------------------------------------------------------------------
    def current_batch(self, thread_id: str):
        if not thread_id or self.store.get_project(thread_id) is None:
            return None
        batches = self.store.batches(thread_id)
        return self.store.open_batch(thread_id) or (batches[-1] if batches else None)

    def review_header(self, thread_id: str) -> str:
        batch = self.current_batch(thread_id)
        if batch is None:
            return "<p><i>No batch yet. Save seeds, then generate a batch (or import a file below).</i></p>"
        samples = self.store.batch_samples(batch.id)
        counts = {status: sum(s.status == status for s in samples) for status in STATUS_COLOURS}
        state = "open for review" if batch.status == "open" else "submitted"
        header = (f"<b>Batch {batch.number}</b> ({state}): {len(samples)} samples, {counts['pending']} pending. "
                  + " ".join(badge(status, f"{status} {n}") for status, n in counts.items()))
        coverage = self.store.tag_counts(thread_id)
        if coverage:
            header += "<br>Tags of accepted samples: " + " · ".join(
                f"{html.escape(tag)} {n}" for tag, n in coverage.items())
        return f"<div id='ts-header-text'>{header}</div>"

    def decide(self, sample_id: int, action: str, reason: str = "", edited: dict | None = None, seen=None) -> str:
        """Saves one decision; returns '' or what went wrong. seen: the sample as the reviewer saw it, so a
        decision made meanwhile elsewhere (the terminal, another tab) is shown, never silently overwritten."""
        try:
            if action == "approve":
                self.store.approve(sample_id, seen=seen)
            elif action == "reject":
                self.store.reject(sample_id, reason, seen=seen)
            elif action == "edit":
                self.store.edit(sample_id, edited, seen=seen)
            return ""
        except UserError as exc:
            return notice(exc.message, False)
        except ValueError as exc:  # an edit that is not a valid sample (e.g. blank output)
            why = exc.errors()[0]["msg"] if hasattr(exc, "errors") else exc
            return notice(f"this edit is not a valid sample: {why}", False)

    # --- review: focus mode (one sample, keys, only the panel and the counts change) ------------------------
    def focus_view(self, thread_id: str, position: int, message: str = ""):
        """(position, the sample as shown, status line, instruction, input, output, reason, header, message)."""
        batch = self.current_batch(thread_id)
        samples = self.store.batch_samples(batch.id) if batch else []
        if not samples:
            return 0, None, "<i>No sample to review.</i>", "", "", "", "", self.review_header(thread_id), message
        position = max(0, min(int(position or 0), len(samples) - 1))
        s = samples[position]
        twin = next((t for t in s.tags if t.startswith("duplicate of")), "")
        line = (f"<div id='ts-focus-line' data-position='{position}' data-status='{s.status}'>"
                f"Sample {position + 1} of {len(samples)} · {badge(s.status)}"
                + (f" — <i>{html.escape(s.reason)}</i>" if s.reason else "")
                + (f" · {badge('pending', twin)} (the question was asked before: approve only if the answer "
                   "adds something)" if twin else "")
                + (f" · tags: {html.escape(', '.join(t for t in s.tags if t != twin))}"
                   if len(s.tags) > bool(twin) else "")
                + trained_context(s.current) + "</div>")
        return (position, s, line, s.current.instruction, s.current.input, s.current.output, "",
                self.review_header(thread_id), message)

    def focus_move(self, thread_id: str, position: int, step: int):
        return self.focus_view(thread_id, int(position or 0) + step)

    def focus_decide(self, thread_id: str, position: int, seen, action: str, reason: str, instruction: str, inp: str,
                     output: str):
        """Decides the focused sample and moves to the next pending one (the counts come back in the same reply)."""
        batch = self.current_batch(thread_id)
        samples = self.store.batch_samples(batch.id) if batch else []
        position = int(position or 0)
        if not samples or position >= len(samples):
            return self.focus_view(thread_id, position, notice("there is no sample to decide.", False))
        if batch.status != "open":
            return self.focus_view(thread_id, position, notice(
                f"batch {batch.number} is already submitted; generate or import the next batch.", False))
        s = samples[position]
        edited = {**s.current.model_dump(), "instruction": instruction, "input": inp, "output": output}
        shown = seen if seen is not None and seen.id == s.id else None
        problem = self.decide(s.id, action, reason, edited if action == "edit" else None, seen=shown)
        if problem:  # e.g. decided meanwhile elsewhere: the panel now shows that decision; deciding again replaces it
            return self.focus_view(thread_id, position, problem)
        pending = [i for i, t in enumerate(samples) if t.status == "pending" and i != position]
        following = next((i for i in pending if i > position), pending[0] if pending else position)
        done = {"approve": "Approved", "reject": "Rejected", "edit": "Saved the edit of"}[action]
        left = len(pending)
        message = f"{done} sample {position + 1}. " + (f"{left} pending." if left else
                                                        "All decided: press **Submit batch**.")
        return self.focus_view(thread_id, following, message)

    # --- review: list mode (filters, bulk) ------------------------------------------------------------------
    def shown_samples(self, batch, status: str, tag: str | None, text: str) -> list:
        """The batch's samples that pass the review filter (status, tag, words)."""
        return [s for s in self.store.batch_samples(batch.id) if s.matches(status, tag or None, text)]

    def tag_choices(self, thread_id: str):
        batch = self.current_batch(thread_id)
        tags = sorted({t for s in self.store.batch_samples(batch.id) for t in s.tags}) if batch else []
        return gr.update(choices=[""] + tags)

    def bulk(self, thread_id: str, action: str, reason: str, status: str, tag: str | None, text: str) -> str:
        """Approves/rejects the pending samples the filter shows, or adds a tag to every sample shown."""
        batch = self.current_batch(thread_id)
        if batch is None or batch.status != "open":
            return notice("there is no open batch.", False)
        shown = self.shown_samples(batch, status, tag, text)
        try:
            if action == "tag":
                count = self.store.bulk_tag([s.id for s in shown], reason)
                return f"Tagged {count} sample(s) '{reason.strip().lower()}'."
            ids = [s.id for s in shown if s.status == "pending"]
            if not ids:
                return NOTHING_SHOWN
            count = self.store.bulk(ids, action, reason)
        except UserError as exc:
            return notice(exc.message, False)
        return f"{action.capitalize()}d {count} pending sample(s)."

    def save_tags(self, sample_id: int, tags: str) -> str:
        try:
            self.store.set_tags(sample_id, tags)
            return ""
        except UserError as exc:
            return notice(exc.message, False)

    # --- notes and the next request -------------------------------------------------------------------------
    def save_notes(self, thread_id: str, text: str) -> tuple[str, str, str]:
        if self.store.get_project(thread_id) is None:
            return text, notice("save seeds first.", False), ""
        notes = self.store.set_notes(thread_id, text.splitlines())
        return ("\n".join(notes), f"Saved {len(notes)} note(s); the next request below carries exactly these.",
                self.studio.next_request(thread_id))

    def acceptance_frame(self, thread_id: str) -> gr.BarPlot:
        stats = self.store.batch_stats(thread_id) if thread_id and self.store.get_project(thread_id) else []
        return acceptance_chart([(f"#{s.number}", round(100 * (s.acceptance_rate or 0), 1)) for s in stats])

    # --- journey actions (graph steps), answered here as well as in the chat --------------------------------
    def graph_action(self, thread_id: str, text: str, action: str, config: dict | None = None):
        reply = {"text": text, "action": action, "tab": "Data studio", **({"config": config} if config else {})}
        view = self.session.send(thread_id, reply)
        said = next((m["content"] for m in reversed(view.messages) if m.get("role") == "assistant"), "")
        return [*self.chat_outputs_fn(thread_id), said]

    def submit(self, thread_id: str, fmt: str, eval_fraction: float, system: str, include_seeds: bool):
        """Submits through the conversation when it waits on this batch (with the build settings below, for the
        version a submission builds: at the target, or after Improve); otherwise (an imported batch) here."""
        if not thread_id or self.session.view(thread_id).pause == "review":
            return self.graph_action(thread_id, "Submit batch", "submit",
                                     self.build_settings(fmt, eval_fraction, system, include_seeds))
        try:
            number, notes = self.studio.submit_open_batch(thread_id)
        except UserError as exc:
            return [*self.chat_outputs_fn(thread_id), notice(exc.message, False)]
        said = f"Batch {number} submitted; {len(notes)} error note(s) now go into every next request."
        return [*self.chat_outputs_fn(thread_id), said]

    def build_settings(self, fmt: str, eval_fraction: float, system: str, include_seeds: bool) -> dict:
        return {"fmt": fmt, "eval_fraction": float(eval_fraction), "system": (system or "").strip(),
                "include_seeds": bool(include_seeds)}

    # --- conflicts ------------------------------------------------------------------------------------------
    def resolve(self, ids: list[int], action: str, keep_id: int | None, merged: str = "") -> str:
        try:
            return self.studio.resolve_conflict(ids, action, keep_id, merged)
        except UserError as exc:
            return notice(exc.message, False)

    def conflicts_key(self, thread_id: str) -> str:
        """What the conflicts section shows, as a key: it re-renders only when this changes."""
        return json.dumps([[s.id, s.status, s.current.output] for c in self.studio.conflicts(thread_id)
                           for s in c.samples])

    # --- public datasets ------------------------------------------------------------------------------------
    def hub_search(self, words: str):
        try:
            found = self.studio.search_hub(words or "")
        except UserError as exc:
            return gr.update(choices=[], value=None), notice(exc.message, False)
        if not found:
            return gr.update(choices=[], value=None), "Nothing found for these words; try others, or generate samples."
        choices = [(f"{d['id']} ({d['downloads']} downloads)", d["id"]) for d in found]
        return gr.update(choices=choices, value=None), f"{len(found)} dataset(s) found: pick one to preview its rows."

    def hub_preview(self, repo_id: str | None, file: str | None):
        if not repo_id:
            return gr.skip(), gr.skip(), *[gr.skip()] * 3, gr.skip()
        try:
            preview = self.studio.preview_hub(repo_id, file or None)
        except UserError as exc:
            return gr.update(choices=[], value=None), None, *[gr.update(choices=[])] * 3, notice(exc.message, False)
        columns = [""] + preview.columns
        mapping = [gr.update(choices=columns, value=preview.suggested_mapping.get(field, ""))
                   for field in ("instruction", "input", "output")]
        return (gr.update(choices=preview.files, value=preview.file), pd.DataFrame(preview.rows), *mapping,
                "Check which column is which, then import: the rows join the project as a batch to review.")

    def hub_import(self, thread_id: str, repo_id: str | None, file: str | None, instruction: str, inp: str,
                   output: str) -> str:
        if not repo_id or not file:
            return notice("search and pick a dataset and a file first.", False)
        try:
            number, rows, twins, problems = self.studio.import_hub(
                thread_id, repo_id, file, {"instruction": instruction, "input": inp, "output": output})
        except UserError as exc:
            return notice(exc.message, False)
        text = (f"Imported {rows} row(s) of {repo_id} as batch {number}: review them like generated samples"
                + (f"; {twins} repeat an earlier question" if twins else "") + ".")
        if problems:
            text += f"\n\n{len(problems)} row(s) not imported:\n" + "\n".join(f"- {p}" for p in problems[:20])
        return text

    # --- dataset versions -----------------------------------------------------------------------------------
    def use_file(self, thread_id: str, upload, mode: str, fmt: str, eval_fraction: float, system: str,
                 include_seeds: bool):
        """Builds the file as a version of its own, or imports its rows as a batch to review; never replaces work."""
        if upload is None:
            return notice("choose a dataset file first.", False), *self.show_dataset(thread_id)
        path = upload if isinstance(upload, str) else upload.name
        try:
            if mode == FILE_MODES[1]:
                number, rows, twins, problems = self.studio.import_for_review(thread_id, path)
                text = (f"Imported {rows} row(s) as batch {number}: review them above like generated samples"
                        + (f"; {twins} repeat an earlier question (marked 'duplicate of …')" if twins else "") + ".")
                if problems:
                    text += f"\n\n{len(problems)} row(s) could not be read:\n" + "\n".join(f"- {p}" for p in problems)
                return text, *self.show_dataset(thread_id)
            report = self.studio.build_from_file(thread_id, path,
                                                 self.build_settings(fmt, eval_fraction, system, include_seeds))
        except UserError as exc:
            return notice(exc.message, False), *self.show_dataset(thread_id)
        name = report["version"]["name"]
        return (f"Built version **{name}** from {Path(path).name}; your reviewed samples and earlier versions are "
                "unchanged.", *self.show_dataset(thread_id, name))

    def version_choices(self, thread_id: str) -> list[str]:
        return [v["name"] for v in self.studio.versions(thread_id)] if thread_id else []

    def show_dataset(self, thread_id: str, name: str | None = None):
        """(versions table, version picker, summary, dropped rows, length histogram, drops plot, checks plot,
        downloads) for the chosen version (the newest by default)."""
        versions = self.studio.versions(thread_id) if thread_id else []
        table = pd.DataFrame([{"version": v["name"], "source": v["source"], "format": v["settings"]["fmt"],
                               "eval fraction": v["settings"]["eval_fraction"],
                               "seeds": "in" if v["settings"]["include_seeds"] else "out",
                               "train": v["counts"]["train"], "eval": v["counts"]["eval"],
                               "dropped": v["counts"]["dropped"], "created": v["created"]} for v in versions]
                             or [{"version": "-"}])
        chosen = next((v for v in versions if v["name"] == name), versions[0] if versions else None)
        picker = gr.update(choices=[v["name"] for v in versions], value=chosen["name"] if chosen else None)
        if chosen is None:
            return (table, picker, "_No dataset version yet._", pd.DataFrame([{"sample": "-"}]),
                    *self.health_frames(None), None)
        report = self.studio.version_report(chosen["path"])
        return (table, picker, self.dataset_summary(report), self.drops_frame(report), *self.health_frames(report),
                self.dataset_files(Path(chosen["path"])))

    @staticmethod
    def dataset_summary(report: dict) -> str:
        version, health = report["version"], report["health"]
        conflicts = health["conflicting_answers"]["count"]
        lines = [f"**{version['name']}** ({report['format']}, eval fraction {version['settings']['eval_fraction']}, "
                 f"seeds {'in' if version['settings']['include_seeds'] else 'out'}): **{report['kept']} kept** of "
                 f"{report['rows_read']} read → {report['train']} train / {report['eval']} eval; "
                 f"{report['dropped']} dropped (each listed below with its reason).",
                 f"- conflicting answers: {conflicts}" + (" — resolve them in *Conflicts* above, then build again"
                                                           if conflicts else "")]
        lines += [f"- dropped `{reason}`: {n}" for reason, n in report["drops"].items()]
        lines += [f"- warning: {w}" for w in health.get("warnings", [])]
        return "\n".join(lines)

    def drops_frame(self, report: dict) -> pd.DataFrame:
        """Every dropped row: the sample (batch and position for reviewed ones), why, and the twin kept."""
        rows = []
        for row in report.get("dropped_rows", []):
            rows.append({"sample": self.where(row["id"]), "reason": row["reason"],
                         "kept instead": self.where(row["kept"]) if row.get("kept") else "",
                         "detail": row.get("detail", "")})
        return pd.DataFrame(rows or [{"sample": "-", "reason": "nothing dropped"}])

    def where(self, row_id: str) -> str:
        """'sample:17' as 'sample 17 (batch 2 #5)' so the person can find it; other ids as they are."""
        if not row_id.startswith("sample:"):
            return row_id
        try:
            s = self.store.sample(int(row_id.split(":")[1]))
        except (UserError, ValueError):
            return row_id
        return f"{row_id} (batch {self.store.batch(s.batch_id).number} #{s.position + 1}, {s.status})"

    @staticmethod
    def health_frames(report: dict | None) -> tuple[gr.BarPlot, gr.BarPlot, gr.BarPlot]:
        """The version's three charts (lengths, drops, checks); report None: no version yet."""
        if report is None:
            return (lengths_chart([], NO_VERSION), drops_chart([], NO_VERSION), checks_chart([], NO_VERSION))
        health = report["health"]
        lengths = [(f"{b['from']}–{b['to']}", b["count"]) for b in health.get("length_histogram", [])]
        checks = [("conflicting answers", health["conflicting_answers"]["count"]),
                  ("refusal-like", health["refusals"]["count"]),
                  ("possibly unsupported", health["unsupported"]["count"]),
                  *((f"label {label}", n) for label, n in (health.get("labels") or {}).get("counts", {}).items())]
        return (lengths_chart(lengths, "no samples in this version"),
                drops_chart(list(report["drops"].items()), "nothing dropped"),
                checks_chart(checks, "no conflicts, refusals or unsupported answers found"))

    @staticmethod
    def dataset_files(out: Path) -> list[str]:
        return [str(p) for p in sorted(out.iterdir()) if p.is_file()]

    # --- layout ---------------------------------------------------------------------------------------------
    def build(self, thread: gr.State, chat_outputs: list) -> None:
        refresh, conflicts_refresh, position = gr.State(0), gr.State(""), gr.State(0)
        with gr.Row():
            with gr.Column(scale=2):
                gr.Markdown("#### 1 · Task and seed examples")
                task = gr.Textbox(label="Task description", lines=2, elem_id="ts-task")
                system = gr.Textbox(label="System prompt (optional; every sample of the dataset gets it)", lines=1,
                                    elem_id="ts-system")
                target = gr.Number(label="Target number of samples", value=100, precision=0, elem_id="ts-target")
                upload = gr.File(label="Seed file (Alpaca / ShareGPT / OpenAI JSON or JSONL, CSV)",
                                 file_types=[".json", ".jsonl", ".csv"], elem_id="ts-seed-file")
                pasted = gr.Textbox(label="…or paste examples (JSON, or 'Instruction: / Input: / Output:' blocks)",
                                    lines=4, elem_id="ts-seed-paste")
                save = gr.Button("Save seeds", elem_id="ts-save-seeds")
                seeds_status = gr.Markdown(elem_id="ts-seeds-status")
                gr.Markdown("#### Error notes (the next request carries exactly these)")
                notes = gr.Textbox(label="One note per line. A note ending '(for cases like …)' applies to those "
                                         "cases only; delete that part to make it a general rule.", lines=5,
                                   elem_id="ts-notes")
                save_notes = gr.Button("Save notes", size="sm", elem_id="ts-save-notes")
                notes_status = gr.Markdown(elem_id="ts-notes-status")
                with gr.Accordion("The next request, word for word", open=False):
                    next_request = gr.Textbox(show_label=False, lines=12, interactive=False,
                                              elem_id="ts-next-request")
                    show_request = gr.Button("Show the next request", size="sm", elem_id="ts-show-request")
                with gr.Accordion("Public data first: look for an existing dataset on the Hugging Face Hub",
                                  open=False, elem_id="ts-hub"):
                    hub_words = gr.Textbox(label="Task words", placeholder="e.g. customer support tickets",
                                           elem_id="ts-hub-words")
                    hub_search = gr.Button("Search", size="sm", elem_id="ts-hub-search")
                    hub_found = gr.Dropdown([], label="Dataset", elem_id="ts-hub-found")
                    hub_file = gr.Dropdown([], label="File", elem_id="ts-hub-file")
                    hub_rows = gr.Dataframe(label="First rows", interactive=False, elem_id="ts-hub-rows")
                    with gr.Row():
                        hub_mapping = [gr.Dropdown([], label=f"{field} column", elem_id=f"ts-hub-{field}")
                                       for field in ("instruction", "input", "output")]
                    hub_import = gr.Button("Import these rows for review", size="sm", elem_id="ts-hub-import")
                    hub_status = gr.Markdown(elem_id="ts-hub-status")
                chart = acceptance_chart([], elem_id="ts-acceptance")
            with gr.Column(scale=3):
                gr.Markdown("#### 2 · Review the batch")
                with gr.Row():
                    generate = gr.Button("Generate a batch", variant="primary", elem_id="ts-generate")
                    submit = gr.Button("Submit batch", variant="primary", elem_id="ts-submit-batch")
                studio_status = gr.Markdown(elem_id="ts-studio-status")
                header = gr.HTML(elem_id="ts-review-header")
                view = gr.Radio(["focus", "list"], value="focus", label="View", elem_id="ts-view")
                with gr.Group(visible=True, elem_id="ts-focus") as focus_panel:
                    focus_line = gr.HTML(elem_id="ts-focus-status")
                    f_instruction = gr.Textbox(label="instruction", lines=1, elem_id="ts-focus-instruction")
                    f_input = gr.Textbox(label="input", lines=1, elem_id="ts-focus-input")
                    f_output = gr.Textbox(label="output", lines=3, elem_id="ts-focus-output")
                    f_reason = gr.Textbox(label="reason (needed to reject; start with 'general:' to make it a rule "
                                                "for every case)", lines=1, elem_id="ts-focus-reason")
                    with gr.Row():
                        f_prev = gr.Button("← Previous (k)", size="sm", elem_id="ts-focus-prev")
                        f_approve = gr.Button("Approve (a)", size="sm", variant="primary", elem_id="ts-focus-approve")
                        f_reject = gr.Button("Reject (r)", size="sm", variant="stop", elem_id="ts-focus-reject")
                        f_save = gr.Button("Save edit (e)", size="sm", elem_id="ts-focus-save")
                        f_next = gr.Button("Next (j) →", size="sm", elem_id="ts-focus-next")
                    focus_message = gr.Markdown(elem_id="ts-focus-message")
                    gr.HTML(KEYS_HINT, js_on_load=KEYS_JS, elem_id="ts-keys-hint")
                with gr.Column(visible=False, elem_id="ts-list") as list_panel:
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

                    @gr.render(inputs=[thread, view, *filters, refresh])
                    def render_samples(thread_id, mode, status, tag, text, _):
                        batch = self.current_batch(thread_id) if mode == "list" else None
                        if batch is None:
                            return
                        shown = self.shown_samples(batch, status, tag, text)
                        if not shown:
                            gr.Markdown("_No sample matches the filter._")
                        for s in shown:
                            self._sample_card(s, batch.status == "open", refresh, thread, header, conflicts_refresh)

                gr.Markdown("#### Conflicts: the same question with different answers")

                @gr.render(inputs=[thread, conflicts_refresh])
                def render_conflicts(thread_id, _):
                    found = self.studio.conflicts(thread_id)
                    if not found:
                        gr.Markdown("_No conflicting answers among the accepted samples._", elem_id="ts-no-conflicts")
                    for conflict in found:
                        self._conflict_card(conflict, thread, conflicts_refresh, studio_status)

        gr.Markdown("#### 3 · Build a dataset version (each build is new; none is ever overwritten)")
        with gr.Row():
            fmt = gr.Radio(["alpaca", "sharegpt", "openai"], value="alpaca", label="Export format", elem_id="ts-fmt")
            eval_fraction = gr.Slider(0.0, 0.5, value=0.1, step=0.05, label="Eval fraction", elem_id="ts-eval")
            include_seeds = gr.Checkbox(value=True, label="Include the seed examples", elem_id="ts-include-seeds")
            build = gr.Button("Build from reviewed samples", variant="primary", elem_id="ts-build")
        with gr.Row():
            dataset_upload = gr.File(label="…or use a dataset file you already have",
                                     file_types=[".json", ".jsonl", ".csv"], elem_id="ts-dataset-file")
            file_mode = gr.Radio(list(FILE_MODES), value=FILE_MODES[0], label="Use the file", elem_id="ts-file-mode")
            build_upload = gr.Button("Use file", elem_id="ts-build-file")
        build_status = gr.Markdown(elem_id="ts-build-status")
        versions = gr.Dataframe(label="Dataset versions (newest first; training uses the newest built from reviewed "
                                      "samples unless you pick another)", interactive=False, elem_id="ts-versions")
        version = gr.Dropdown([], label="Show version", elem_id="ts-version")
        dataset_report = gr.Markdown(elem_id="ts-dataset-report")
        drops = gr.Dataframe(label="Dropped rows (every one, with its reason)", interactive=False, elem_id="ts-drops")
        with gr.Row():
            lengths_plot = lengths_chart([], NO_VERSION, elem_id="ts-length-plot")
            drops_plot = drops_chart([], NO_VERSION, elem_id="ts-drops-plot")
            checks_plot = checks_chart([], NO_VERSION, elem_id="ts-checks-plot")
        downloads = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="ts-downloads")
        dataset_outputs = [versions, version, dataset_report, drops, lengths_plot, drops_plot, checks_plot, downloads]

        bump = lambda n: n + 1  # noqa: E731 - re-render the cards / conflicts
        focus_seen = gr.State(None)  # the focused sample as drawn: decisions are compare-and-set against it
        focus_outputs = [position, focus_seen, focus_line, f_instruction, f_input, f_output, f_reason, header,
                         focus_message]
        hub_search.click(self.hub_search, hub_words, [hub_found, hub_status])
        hub_preview_outputs = [hub_file, hub_rows, *hub_mapping, hub_status]
        hub_found.input(self.hub_preview, [hub_found, hub_file], hub_preview_outputs)  # the person's pick only
        hub_file.input(self.hub_preview, [hub_found, hub_file], hub_preview_outputs)
        hub_import.click(self.hub_import, [thread, hub_found, hub_file, *hub_mapping], hub_status).then(
            lambda t: self.focus_view(t, 0), thread, focus_outputs).then(lambda n: n + 1, refresh, refresh)
        save.click(self.save_seeds, [thread, task, system, target, upload, pasted], seeds_status)
        save_notes.click(self.save_notes, [thread, notes], [notes, notes_status, next_request])
        show_request.click(self.studio.next_request, thread, next_request)
        view.change(lambda mode: (gr.update(visible=mode == "focus"), gr.update(visible=mode == "list")), view,
                    [focus_panel, list_panel]).then(self.focus_view, [thread, position], focus_outputs)
        for button, action in ((f_approve, "approve"), (f_reject, "reject"), (f_save, "edit")):
            button.click(lambda t, p, seen, r, i, x, o, action=action:
                         self.focus_decide(t, p, seen, action, r, i, x, o),
                         [thread, position, focus_seen, f_reason, f_instruction, f_input, f_output], focus_outputs,
                         show_progress="hidden", queue=False).then(self.conflicts_key, thread, conflicts_refresh)
        f_reason.submit(lambda t, p, seen, r, i, x, o: self.focus_decide(t, p, seen, "reject", r, i, x, o),
                        [thread, position, focus_seen, f_reason, f_instruction, f_input, f_output], focus_outputs,
                        show_progress="hidden", queue=False)
        for button, step in ((f_prev, -1), (f_next, 1)):
            button.click(lambda t, p, step=step: self.focus_move(t, p, step), [thread, position], focus_outputs,
                         show_progress="hidden", queue=False)
        # re-render the cards only when the bulk action changed something (a refusal must not redraw under the cursor)
        bump_if_done = lambda msg, n: n if msg.startswith(("**Not done", NOTHING_SHOWN)) else n + 1  # noqa: E731
        for button, action in ((approve_all, "approve"), (reject_all, "reject"), (tag_all, "tag")):
            button.click(lambda t, r, *f, action=action: self.bulk(t, action, r, *f), [thread, bulk_reason, *filters],
                         bulk_status).then(bump_if_done, [bulk_status, refresh], refresh).then(
                self.review_header, thread, header)
        tag_filter.focus(self.tag_choices, thread, tag_filter)  # the batch's tags as they are now
        for button, handler, inputs in (
                (generate, lambda t: self.graph_action(t, "Generate a batch", "generate"), [thread]),
                (submit, self.submit, [thread, fmt, eval_fraction, system, include_seeds])):
            event = button.click(handler, inputs, [*chat_outputs, studio_status])
            event = event.then(lambda t: self.focus_view(t, 0), thread, focus_outputs).then(bump, refresh, refresh)
            event = event.then(self.acceptance_frame, thread, chart)
            event = event.then(self.show_dataset, thread, dataset_outputs)  # reaching the target builds a version
            event.then(lambda t: "\n".join(self.store.notes(t)) if self.store.get_project(t) else "", thread, notes)
        build.click(lambda t, f, e, s, i: self.graph_action(t, "Build the dataset", "build_dataset",
                                                            self.build_settings(f, e, s, i)),
                    [thread, fmt, eval_fraction, system, include_seeds], [*chat_outputs, build_status]).then(
            self.show_dataset, thread, dataset_outputs)
        build_upload.click(self.use_file, [thread, dataset_upload, file_mode, fmt, eval_fraction, system,
                                           include_seeds], [build_status, *dataset_outputs]).then(
            lambda t: self.focus_view(t, 0), thread, focus_outputs).then(bump, refresh, refresh).then(
            self.conflicts_key, thread, conflicts_refresh)
        version.input(self.show_dataset, [thread, version], dataset_outputs)
        self.refresh_targets = ([task, system, target, seeds_status, notes], header, chart, refresh,
                                [*dataset_outputs, *focus_outputs[:-2]])

    def refresh_all(self, thread_id: str):
        """Everything this tab shows for a (re)opened conversation."""
        return (*self.load_project(thread_id), self.review_header(thread_id), self.acceptance_frame(thread_id),
                *self.show_dataset(thread_id), *self.focus_view(thread_id, 0)[:-2])

    def _sample_card(self, s, editable: bool, refresh: gr.State, thread: gr.State, header: gr.HTML,
                     conflicts: gr.State) -> None:
        with gr.Group(elem_classes=["ts-sample"]):
            tags = "".join(f" <code>{html.escape(tag)}</code>" for tag in s.tags)
            gr.HTML(f"<b>#{s.position + 1}</b> · {badge(s.status)}{tags}" +
                    (f" — <i>{html.escape(s.reason)}</i>" if s.reason else ""), elem_classes=["ts-sample-status"])
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
            # re-render when it was saved, or when it was decided meanwhile elsewhere (the card then shows that)
            bump = lambda msg, n: n + 1 if not msg or CHANGED_MEANWHILE in msg else n  # noqa: E731
            for event in (approve.click(lambda: self.decide(s.id, "approve", seen=s), None, problem),
                          reject.click(lambda r: self.decide(s.id, "reject", r, seen=s), reason, problem),
                          tags_box.submit(lambda text: self.save_tags(s.id, text), tags_box, problem),
                          save.click(lambda i, x, o: self.decide(s.id, "edit", edited={
                              **s.current.model_dump(), "instruction": i, "input": x, "output": o}, seen=s),
                              [instruction, inp, output], problem)):
                event.then(self.review_header, thread, header).then(bump, [problem, refresh], refresh).then(
                    self.conflicts_key, thread, conflicts)

    def _conflict_card(self, conflict, thread: gr.State, conflicts_refresh: gr.State, status: gr.Markdown) -> None:
        ids = [s.id for s in conflict.samples]
        with gr.Group(elem_classes=["ts-conflict"]):
            lines = [f"**{html.escape(conflict.samples[0].current.prompt_text()[:200])}** — a build keeps "
                     f"`{conflict.kept_by_default}` until you choose:"]
            lines += [f"- `sample:{s.id}` ({s.status}): {s.current.output[:300]}" for s in conflict.samples]
            lines += [f"- `{seed_id}` (seed): {seed.output[:300]}" for seed_id, seed in conflict.seeds]
            gr.Markdown("\n".join(lines))
            merged = gr.Textbox(label="merged answer (for Merge)", lines=2, elem_classes=["ts-merged"])
            with gr.Row():
                buttons = [(gr.Button(f"Keep sample {i}", size="sm", elem_classes=["ts-keep-one"]), "keep_one", i)
                           for i in ids]
                buttons.append((gr.Button("Keep both", size="sm", elem_classes=["ts-keep-both"]), "keep_both", None))
                buttons.append((gr.Button(f"Merge into sample {ids[0]}", size="sm", elem_classes=["ts-merge"]),
                                "merge", ids[0]))
            for button, action, keep in buttons:
                button.click(lambda m, action=action, keep=keep: self.resolve(ids, action, keep, m), merged,
                             status).then(self.conflicts_key, thread, conflicts_refresh)
