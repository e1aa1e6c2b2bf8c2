"""The Data studio tab: seeds in; batches reviewed one sample at a time with keys (focus mode) or as a filtered list;
conflicts resolved; error notes and the next request shown as they will be sent. Every action answers here, in the
studio. Its two panels live in their own modules: the Hub import (ui/hub_panel.py) and the dataset versions with
their build settings and health (ui/versions_panel.py); this module lays them out and wires them to the review.

Layout and rendering only: every read and decision goes through the session's desk (session.studio), and every
handler returns its outputs by component ({component: value}), never by position."""
from __future__ import annotations

import html
import json

import gradio as gr

from agent.session import NOTHING_SHOWN, Action, Decision, DecisionKind, ReviewPanel, Session
from tools.errors import UserError
from tools.shown_text import literal as shown
from ui.charts import acceptance_chart
from ui.hub_panel import HubPanel
from ui.notice import notice
from ui.versions_panel import VersionsPanel, settings_of

CHANGED_MEANWHILE = "was changed since you saw it"  # the store's DecisionConflict wording
STATUS_COLOURS = {"pending": ("#fef9c3", "#854d0e"), "approved": ("#dcfce7", "#166534"),
                  "rejected": ("#fee2e2", "#991b1b"), "edited": ("#dbeafe", "#1e40af")}
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


def trained_context(sample) -> str:
    """The fields that are trained on besides instruction/input/output, so the card shows all of them."""
    parts = []
    if sample.system:
        parts.append(f"<br>system: <i>{html.escape(sample.system)}</i>")
    for question, answer in sample.history:
        parts.append(f"<br>earlier turn: <i>{html.escape(question)}</i> → <i>{html.escape(answer)}</i>")
    return "".join(parts)


def render_header(panel: ReviewPanel) -> str:
    """The batch line over the review: number, state, counts as badges, and the tag coverage of accepted samples."""
    if panel.batch_number is None:
        return "<p><i>No batch yet. Save seeds, then generate a batch (or import a file below).</i></p>"
    counts = panel.counts
    state = "open for review" if panel.batch_open else "submitted"
    header = (f"<b>Batch {panel.batch_number}</b> ({state}): {len(panel.samples)} samples, {counts['pending']} "
              "pending. " + " ".join(badge(status, f"{status} {n}") for status, n in counts.items()))
    if panel.tag_coverage:
        header += "<br>Tags of accepted samples: " + " · ".join(
            f"{html.escape(tag)} {n}" for tag, n in panel.tag_coverage.items())
    return f"<div id='ts-header-text'>{header}</div>"


def render_focus_line(panel: ReviewPanel) -> str:
    s, position = panel.focused, panel.position
    twin = next((t for t in s.tags if t.startswith("duplicate of")), "")
    return (f"<div id='ts-focus-line' data-position='{position}' data-status='{s.status}'>"
            f"Sample {position + 1} of {len(panel.samples)} · {badge(s.status)}"
            + (f" — <i>{html.escape(s.reason)}</i>" if s.reason else "")
            + (f" · {badge('pending', twin)} (the question was asked before: approve only if the answer "
               "adds something)" if twin else "")
            + (f" · tags: {html.escape(', '.join(t for t in s.tags if t != twin))}"
               if len(s.tags) > bool(twin) else "")
            + trained_context(s.current) + "</div>")


class DataTab:
    def __init__(self, session: Session, chat_outputs_fn):
        self.session = session
        self.studio = session.studio  # the desk: the tab's only way to the project
        self.chat_outputs_fn = chat_outputs_fn  # the advisor tab's outputs by component, after the graph moved on
        self.hub = HubPanel(self.studio)  # section 1's search and import of a public dataset
        self.versions = VersionsPanel(self.studio)  # section 3: build settings, builds, versions and their health

    # --- seeds, task and notes ------------------------------------------------------------------------------
    def save_seeds(self, thread_id: str, task: str, system: str, target: float, upload, pasted: str) -> str:
        path = None if upload is None else upload if isinstance(upload, str) else upload.name
        saved, said = self.studio.save_seeds(thread_id, task, system, target, path, pasted)
        return notice(said, saved)

    def project_fields(self, thread_id: str | None, shown_for: str | None, task_now: str) -> dict:
        """Section 1 for the conversation: what is saved, else the task typed in the chat. A box the person is
        typing in for this same conversation (nothing saved yet) is left as it is."""
        fields = self.studio.project_fields(thread_id, self.session.view(thread_id).messages if thread_id else [])
        out = {self.seeds_status: fields.seeds_line, self.notes: fields.notes, self.fields_for: thread_id}
        if not fields.saved and shown_for == thread_id and (task_now or "").strip():
            return out
        return {**out, self.task: fields.task, self.system: fields.system, self.target: fields.target}

    def save_notes(self, thread_id: str, text: str) -> dict:
        try:
            notes = self.studio.save_notes(thread_id, text.splitlines())
        except UserError as exc:
            return {self.notes_status: notice(exc.message, False)}
        return {self.notes: "\n".join(notes), self.next_request: self.show_next_request(thread_id),
                self.notes_status: f"Saved {len(notes)} note(s); the next request below carries exactly these."}

    def show_next_request(self, thread_id: str | None) -> str:
        """The next batch's request as the generator will receive it (from the documents on the hybrid path)."""
        return self.studio.next_request(thread_id, self.session.view(thread_id).recommendation if thread_id else None)

    def acceptance_frame(self, thread_id: str | None) -> gr.BarPlot:
        return acceptance_chart(self.studio.acceptance(thread_id))

    # --- review ---------------------------------------------------------------------------------------------
    def show_panel(self, panel: ReviewPanel) -> dict:
        """The focus panel and the header for a review panel state."""
        s = panel.focused
        out = {self.header: render_header(panel), self.position: panel.position, self.focus_seen: s,
               self.focus_message: notice(panel.message, not panel.refused) if panel.message else "",
               self.f_reason: ""}
        if s is None:
            return {**out, self.focus_line: "<i>No sample to review.</i>", self.f_instruction: "",
                    self.f_input: "", self.f_output: ""}
        return {**out, self.focus_line: render_focus_line(panel), self.f_instruction: s.current.instruction,
                self.f_input: s.current.input, self.f_output: s.current.output}

    def focus_view(self, thread_id: str | None, position: int = 0) -> dict:
        return self.show_panel(self.studio.panel(thread_id, position))

    def focus_decide(self, thread_id: str, seen, kind: DecisionKind, reason: str, instruction: str, inp: str,
                     output: str) -> dict:
        """Decides the focused sample (as drawn: compare-and-set); the desk moves on to the next pending one."""
        if seen is None:
            return self.show_panel(self.studio.panel(thread_id, 0, "there is no sample to decide.", refused=True))
        edited = ({**seen.current.model_dump(), "instruction": instruction, "input": inp, "output": output}
                  if kind is DecisionKind.EDIT else None)
        decision = Decision(kind, (seen.id,), reason=reason, edited=edited, seen=seen)
        return self.show_panel(self.studio.decide(thread_id, decision))

    def decide_card(self, thread_id: str, decision: Decision, refresh: int, problem: gr.Markdown) -> dict:
        """A list card's decision in one event (a chained step would be gone once the cards re-render): what went
        wrong on the card, the header, and a redraw when it was saved or decided meanwhile elsewhere (the card then
        shows that)."""
        panel = self.studio.decide(thread_id, decision)
        redraw = not panel.refused or CHANGED_MEANWHILE in panel.message
        return {problem: notice(panel.message, False) if panel.refused else "",
                self.header: render_header(panel), self.refresh: refresh + 1 if redraw else refresh,
                self.conflicts_refresh: self.conflicts_key(thread_id)}

    def bulk(self, thread_id: str, kind: DecisionKind, reason: str, status: str, tag: str | None, text: str,
             refresh: int) -> dict:
        """Approves/rejects the pending samples the filter shows, or adds a tag to every sample shown; the cards
        re-render only when something changed (a refusal must not redraw under the cursor)."""
        ids = tuple(s.id for s in self.studio.panel(thread_id, review_filter=(status, tag, text)).samples)
        try:
            decision = Decision(kind, ids, reason=reason, tags=reason, bulk=True)
        except UserError as exc:
            return {self.bulk_status: notice(exc.message, False)}
        panel = self.studio.decide(thread_id, decision)
        changed = not panel.refused and panel.message != NOTHING_SHOWN
        return {self.bulk_status: notice(panel.message, not panel.refused),
                self.refresh: refresh + 1 if changed else refresh, self.header: render_header(panel)}

    def tag_choices(self, thread_id: str | None):
        return gr.update(choices=["", *self.studio.tag_choices(thread_id)])

    # --- journey actions (graph steps), answered here as well as in the chat --------------------------------
    def graph_action(self, thread_id: str, text: str, action: Action, status, settings: dict | None = None) -> dict:
        try:
            if settings is not None:
                self.studio.choose_build_settings(thread_id, settings)
        except UserError as exc:
            return {status: notice(exc.message, False)}
        view = self.session.act(thread_id, action, text, tab="Data studio",
                                **({"config": settings} if settings is not None else {}))
        said = next((m["content"] for m in reversed(view.messages) if m.get("role") == "assistant"), "")
        return {**self.chat_outputs_fn(thread_id), status: notice(said)}

    def submit(self, thread_id: str, fmt: str, eval_fraction: float, system: str, include_seeds: bool) -> dict:
        """Submits with the build settings below (kept for the version a submission builds at the target)."""
        try:
            said = self.session.submit_batch(thread_id, settings_of(fmt, eval_fraction, system, include_seeds))
        except UserError as exc:
            return {**self.chat_outputs_fn(thread_id), self.studio_status: notice(exc.message, False)}
        return {**self.chat_outputs_fn(thread_id), self.studio_status: notice(said)}

    # --- conflicts ------------------------------------------------------------------------------------------
    def conflicts_key(self, thread_id: str | None) -> str:
        """What the conflicts section shows, as a key: it re-renders only when this changes."""
        return json.dumps([[s.id, s.status, s.current.output] for c in self.studio.conflicts(thread_id)
                           for s in c.samples])

    # --- a (re)opened conversation ----------------------------------------------------------------------------
    def refresh_all(self, thread_id: str | None, shown_for: str | None, task_now: str) -> dict:
        """Everything this tab shows for a (re)opened conversation, or after the chat moved the journey on."""
        panel = self.show_panel(self.studio.panel(thread_id))
        del panel[self.focus_message]
        return {**self.project_fields(thread_id, shown_for, task_now), self.chart: self.acceptance_frame(thread_id),
                **self.versions.show(thread_id), **panel}

    @property
    def refresh_inputs(self) -> list:
        return [self.fields_for, self.task]

    @property
    def refresh_outputs(self) -> list:
        return [self.task, self.system, self.target, self.seeds_status, self.notes, self.fields_for, self.chart,
                *self.versions.outputs, *self.focus_outputs]

    # --- layout ---------------------------------------------------------------------------------------------
    def build(self, thread: gr.State, chat_outputs: list) -> None:
        self.refresh, self.conflicts_refresh, self.position = gr.State(0), gr.State(""), gr.State(0)
        self.focus_seen = gr.State(None)  # the focused sample as drawn: decisions are compare-and-set against it
        self.fields_for = gr.State(None)  # the conversation section 1 was filled for
        with gr.Row():
            with gr.Column(scale=2):
                self._build_seeds()
            with gr.Column(scale=3):
                self._build_review(thread)
        self.versions.build(self.system)
        self.focus_outputs = [self.position, self.focus_seen, self.focus_line, self.f_instruction, self.f_input,
                              self.f_output, self.f_reason, self.header, self.focus_message]
        self._wire_seeds(thread)
        self._wire_review(thread)
        self._wire_panels(thread)
        self.events = self._wire_journey(thread, chat_outputs)  # the actions that move the conversation on

    def _build_seeds(self) -> None:
        gr.Markdown("#### 1 · Task and seed examples")
        self.task = gr.Textbox(label="Task description", lines=2, elem_id="ts-task")
        self.system = gr.Textbox(label="System prompt (optional; every sample of the dataset gets it)", lines=1,
                                 elem_id="ts-system")
        self.target = gr.Number(label="Target number of samples", value=100, precision=0, elem_id="ts-target")
        self.upload = gr.File(label="Seed file (Alpaca / ShareGPT / OpenAI JSON or JSONL, CSV)",
                              file_types=[".json", ".jsonl", ".csv"], elem_id="ts-seed-file")
        self.pasted = gr.Textbox(label="…or paste examples (JSON, or 'Instruction: / Input: / Output:' blocks)",
                                 lines=4, elem_id="ts-seed-paste")
        self.save = gr.Button("Save seeds", elem_id="ts-save-seeds")
        self.seeds_status = gr.Markdown(elem_id="ts-seeds-status")
        gr.Markdown("#### Error notes (the next request carries exactly these)")
        self.notes = gr.Textbox(label="One note per line. A note ending '(for cases like …)' applies to those cases "
                                      "only; delete that part to make it a general rule.", lines=5, elem_id="ts-notes")
        self.save_notes_button = gr.Button("Save notes", size="sm", elem_id="ts-save-notes")
        self.notes_status = gr.Markdown(elem_id="ts-notes-status")
        with gr.Accordion("The next request, word for word", open=False):
            self.next_request = gr.Textbox(show_label=False, lines=12, interactive=False, elem_id="ts-next-request")
            self.show_request = gr.Button("Show the next request", size="sm", elem_id="ts-show-request")
        self.hub.build()
        self.chart = acceptance_chart([], elem_id="ts-acceptance")

    def _build_review(self, thread: gr.State) -> None:
        gr.Markdown("#### 2 · Review the batch")
        with gr.Row():
            self.generate = gr.Button("Generate a batch", variant="primary", elem_id="ts-generate")
            self.submit_button = gr.Button("Submit batch", variant="primary", elem_id="ts-submit-batch")
        self.studio_status = gr.Markdown(elem_id="ts-studio-status")
        self.header = gr.HTML(elem_id="ts-review-header")
        self.view = gr.Radio(["focus", "list"], value="focus", label="View", elem_id="ts-view")
        with gr.Group(visible=True, elem_id="ts-focus") as self.focus_panel:
            self.focus_line = gr.HTML(elem_id="ts-focus-status")
            self.f_instruction = gr.Textbox(label="instruction", lines=1, elem_id="ts-focus-instruction")
            self.f_input = gr.Textbox(label="input", lines=1, elem_id="ts-focus-input")
            self.f_output = gr.Textbox(label="output", lines=3, elem_id="ts-focus-output")
            self.f_reason = gr.Textbox(label="reason (needed to reject; start with 'general:' to make it a rule for "
                                             "every case)", lines=1, elem_id="ts-focus-reason")
            with gr.Row():
                self.f_prev = gr.Button("← Previous (k)", size="sm", elem_id="ts-focus-prev")
                self.f_approve = gr.Button("Approve (a)", size="sm", variant="primary", elem_id="ts-focus-approve")
                self.f_reject = gr.Button("Reject (r)", size="sm", variant="stop", elem_id="ts-focus-reject")
                self.f_save = gr.Button("Save edit (e)", size="sm", elem_id="ts-focus-save")
                self.f_next = gr.Button("Next (j) →", size="sm", elem_id="ts-focus-next")
            self.focus_message = gr.Markdown(elem_id="ts-focus-message")
            gr.HTML(KEYS_HINT, js_on_load=KEYS_JS, elem_id="ts-keys-hint")
        with gr.Column(visible=False, elem_id="ts-list") as self.list_panel:
            with gr.Row():
                status_filter = gr.Radio(["all", "pending", "approved", "rejected", "edited"], value="all",
                                         label="Show", scale=3, elem_id="ts-filter")
                self.tag_filter = gr.Dropdown([""], value="", label="Tag", allow_custom_value=True, scale=1,
                                              elem_id="ts-tag-filter")
                text_filter = gr.Textbox(label="Containing", placeholder="words", scale=2, elem_id="ts-text-filter")
            self.filters = [status_filter, self.tag_filter, text_filter]
            with gr.Row():
                self.bulk_reason = gr.Textbox(label="Reason (bulk reject) or tag (bulk tag)", scale=3,
                                              elem_id="ts-bulk-reason")
                self.bulk_buttons = [(gr.Button(label, size="sm", elem_id=elem_id), kind) for label, elem_id, kind in (
                    ("Approve shown pending", "ts-approve-all", DecisionKind.APPROVE),
                    ("Reject shown pending", "ts-reject-all", DecisionKind.REJECT),
                    ("Tag shown", "ts-tag-all", DecisionKind.TAG))]
            self.bulk_status = gr.Markdown(elem_id="ts-bulk-status")

            @gr.render(inputs=[thread, self.view, *self.filters, self.refresh])
            def render_samples(thread_id, mode, status, tag, text, _):
                if mode != "list" or not thread_id:
                    return
                panel = self.studio.panel(thread_id, review_filter=(status, tag, text))
                if panel.batch_number is not None and not panel.samples:
                    gr.Markdown("_No sample matches the filter._")
                for s in panel.samples:
                    self._sample_card(s, panel.batch_open, thread)

        gr.Markdown("#### Conflicts: the same question with different answers")

        @gr.render(inputs=[thread, self.conflicts_refresh])
        def render_conflicts(thread_id, _):
            found = self.studio.conflicts(thread_id)
            if not found:
                gr.Markdown("_No conflicting answers among the accepted samples._", elem_id="ts-no-conflicts")
            for conflict in found:
                self._conflict_card(conflict, thread)

    # --- wiring ---------------------------------------------------------------------------------------------
    def _wire_seeds(self, thread: gr.State) -> None:
        self.save.click(self.save_seeds, [thread, self.task, self.system, self.target, self.upload, self.pasted],
                        self.seeds_status)
        self.save_notes_button.click(self.save_notes, [thread, self.notes],
                                     [self.notes, self.notes_status, self.next_request])
        self.show_request.click(self.show_next_request, thread, self.next_request)

    def _wire_review(self, thread: gr.State) -> None:
        self.view.change(lambda mode: {self.focus_panel: gr.update(visible=mode == "focus"),
                                       self.list_panel: gr.update(visible=mode == "list")},
                         self.view, [self.focus_panel, self.list_panel]).then(
            self.focus_view, [thread, self.position], self.focus_outputs)
        decided_from = [thread, self.focus_seen, self.f_reason, self.f_instruction, self.f_input, self.f_output]
        for button, kind in ((self.f_approve, DecisionKind.APPROVE), (self.f_reject, DecisionKind.REJECT),
                             (self.f_save, DecisionKind.EDIT)):
            button.click(lambda t, seen, r, i, x, o, kind=kind: self.focus_decide(t, seen, kind, r, i, x, o),
                         decided_from, self.focus_outputs, show_progress="hidden", queue=False).then(
                self.conflicts_key, thread, self.conflicts_refresh)
        self.f_reason.submit(lambda t, seen, r, i, x, o: self.focus_decide(t, seen, DecisionKind.REJECT, r, i, x, o),
                             decided_from, self.focus_outputs, show_progress="hidden", queue=False)
        for button, step in ((self.f_prev, -1), (self.f_next, 1)):
            button.click(lambda t, p, step=step: self.focus_view(t, int(p or 0) + step), [thread, self.position],
                         self.focus_outputs, show_progress="hidden", queue=False)
        for button, kind in self.bulk_buttons:
            button.click(lambda t, r, status, tag, text, n, kind=kind: self.bulk(t, kind, r, status, tag, text, n),
                         [thread, self.bulk_reason, *self.filters, self.refresh],
                         [self.bulk_status, self.refresh, self.header])
        self.tag_filter.focus(self.tag_choices, thread, self.tag_filter)  # the batch's tags as they are now

    def _wire_panels(self, thread: gr.State) -> None:
        """The Hub and versions panels wire themselves; rows they bring in for review are shown in the review."""
        self._show_new_samples(self.hub.wire(thread), thread)
        self._show_new_samples(self.versions.wire(thread), thread).then(
            self.conflicts_key, thread, self.conflicts_refresh)

    def _show_new_samples(self, event, thread: gr.State):
        """After an event that may add samples to review: the focus panel and the list drawn again."""
        return event.then(self.focus_view, thread, self.focus_outputs).then(
            lambda n: n + 1, self.refresh, self.refresh)

    def _wire_journey(self, thread: gr.State, chat_outputs: list) -> list:
        versions = self.versions  # its build settings go with Submit and Build
        events = []
        for button, handler, inputs in (
                (self.generate, lambda t: self.graph_action(t, "Generate a batch", Action.GENERATE,
                                                            self.studio_status), [thread]),
                (self.submit_button, self.submit, [thread, *versions.controls])):
            event = button.click(handler, inputs, [*chat_outputs, self.studio_status])
            events.append(event)
            event = self._show_new_samples(event, thread)
            event = event.then(self.acceptance_frame, thread, self.chart)
            event = event.then(versions.show, thread, versions.outputs)  # the target reached builds one
            event.then(lambda t: "\n".join(self.studio.notes(t)), thread, self.notes)
        build = versions.build_button.click(
            lambda t, *settings: self.graph_action(t, "Build the dataset", Action.BUILD_DATASET, versions.status,
                                                   settings_of(*settings)),
            [thread, *versions.controls], [*chat_outputs, versions.status])
        build.then(versions.show, thread, versions.outputs)
        return [*events, build]

    def _sample_card(self, s, editable: bool, thread: gr.State) -> None:
        with gr.Group(elem_classes=["ts-sample"]):
            tags = "".join(f" <code>{html.escape(tag)}</code>" for tag in s.tags)
            gr.HTML(f"<b>#{s.position + 1}</b> · {badge(s.status)}{tags}" +
                    (f" — <i>{html.escape(s.reason)}</i>" if s.reason else ""), elem_classes=["ts-sample-status"])
            instruction = gr.Textbox(s.current.instruction, label="instruction", lines=1, interactive=editable)
            inp = gr.Textbox(s.current.input, label="input", lines=1, interactive=editable)
            output = gr.Textbox(s.current.output, label="output", lines=2, interactive=editable)
            if s.current.history:
                gr.Markdown("history: " + shown(json.dumps(s.current.history, ensure_ascii=False)))
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
            outputs = [problem, self.header, self.refresh, self.conflicts_refresh]  # one event per decision
            one = lambda kind, **given: Decision(kind, (s.id,), seen=s, **given)  # noqa: E731
            decide = lambda t, decision, n: self.decide_card(t, decision, n, problem)  # noqa: E731
            approve.click(lambda t, n: decide(t, one(DecisionKind.APPROVE), n), [thread, self.refresh], outputs)
            reject.click(lambda t, r, n: decide(t, one(DecisionKind.REJECT, reason=r), n),
                         [thread, reason, self.refresh], outputs)
            tags_box.submit(lambda t, text, n: decide(t, one(DecisionKind.TAG, tags=text), n),
                            [thread, tags_box, self.refresh], outputs)
            save.click(lambda t, i, x, o, n: decide(t, one(DecisionKind.EDIT, edited={
                **s.current.model_dump(), "instruction": i, "input": x, "output": o}), n),
                [thread, instruction, inp, output, self.refresh], outputs)

    def _conflict_card(self, conflict, thread: gr.State) -> None:
        ids = [s.id for s in conflict.samples]
        with gr.Group(elem_classes=["ts-conflict"]):
            lines = [f"**{shown(conflict.samples[0].current.prompt_text()[:200])}** — a build keeps "
                     f"`{conflict.kept_by_default}` until you choose:"]
            lines += [f"- `sample:{s.id}` ({s.status}): {shown(s.current.output[:300])}" for s in conflict.samples]
            lines += [f"- `{seed_id}` (seed): {shown(seed.output[:300])}" for seed_id, seed in conflict.seeds]
            gr.Markdown("\n".join(lines))
            merged = gr.Textbox(label="merged answer (for Merge)", lines=2, elem_classes=["ts-merged"])
            with gr.Row():
                buttons = [(gr.Button(f"Keep sample {i}", size="sm", elem_classes=["ts-keep-one"]),
                            DecisionKind.KEEP_ONE, i) for i in ids]
                buttons.append((gr.Button("Keep both", size="sm", elem_classes=["ts-keep-both"]),
                                DecisionKind.KEEP_BOTH, None))
                buttons.append((gr.Button(f"Merge into sample {ids[0]}", size="sm", elem_classes=["ts-merge"]),
                                DecisionKind.MERGE, ids[0]))
            for button, kind, keep in buttons:  # one event: a chained step would be gone once this card re-renders
                button.click(lambda t, m, kind=kind, keep=keep: self.resolve(t, Decision(
                    kind, tuple(ids), keep_id=keep, merged=m)), [thread, merged],
                    [self.studio_status, self.conflicts_refresh])

    def resolve(self, thread_id: str, decision: Decision) -> dict:
        panel = self.studio.decide(thread_id, decision)
        return {self.studio_status: notice(panel.message, not panel.refused),
                self.conflicts_refresh: self.conflicts_key(thread_id)}
