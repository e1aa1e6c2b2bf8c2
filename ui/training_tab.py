"""The Training tab: explained parameters, preflight and approval, live progress (bar, loss, log), cancel and
resume, base-vs-tuned evaluation, a try-it chat with the tuned model, and export."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from agent.session import Action, ConversationView, Session, evaluation_words, metrics_table
from tools.shown_text import table_cell

BUILTIN_NAME = "gemma-3-270m"  # the built-in base model (tools.training.builtin), the default choice
BASE_MODEL_LABEL = ("Base model: gemma-3-270m is built in (works offline; Gemma Terms of Use apply), or a local "
                    "folder / a downloaded hub id")
EXAMPLE_INTRO = ("Trains the built-in **gemma-3-270m** base model to rewrite dates as YYYY-MM-DD (120 examples, "
                 "30 LoRA steps of 8 on the CPU), then compares it with the untouched base on 20 held-out dates. "
                 "About five minutes on two cores, plus a minute or two the very first time to unpack the model. "
                 "Gemma Terms of Use apply.")
NO_PLAN = "_Choose a base model and press **Check and propose**._"


def _number(name: str, value, integer: bool) -> int | float:
    """A setting typed in a box as the number the config takes; ValueError says what is wrong and the fix."""
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{name}: {str(value)[:40]!r} is not a number; type one (e.g. 2e-4 or 3), or leave the box "
                         "empty to have it planned") from None
    if integer:
        if not number.is_integer():
            raise ValueError(f"{name}: {value} must be a whole number")
        return int(number)
    return number


def evaluation_tables(result: dict) -> str:
    """The metrics side by side, then every example with its reference."""
    lines = [metrics_table(result), "", "| # | prompt | reference | base | tuned |", "|---|---|---|---|---|"]
    for number, example in enumerate(result["side_by_side"], 1):
        cells = [table_cell(example[key]) for key in ("prompt", "reference", "base", "tuned")]
        lines.append(f"| {number} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def progress_html(run) -> str:
    """A progress bar from the run's last step, with the status and the latest loss (run None: no run yet)."""
    status = run.status if run else "not_started"
    step, total = (run.step, run.max_steps) if run else (0, None)
    share = 100 * step / total if total else (100 if status == "done" else 0)
    loss = f" · loss {run.last_loss:.4f}" if run and run.last_loss is not None else ""
    return (f'<div id="ts-train-progress" data-status="{status}" data-step="{step}">'
            f'<div style="background:#e2e8f0;border-radius:6px;height:14px">'
            f'<div style="width:{share:.0f}%;background:#2563eb;height:14px;border-radius:6px"></div></div>'
            f"<small>{status.replace('_', ' ')} · step {step}/{total or '?'}{loss}</small></div>")


def loss_frame(run) -> pd.DataFrame:
    """The run's losses for the line plot (one empty point before the first, so the plot keeps its axes)."""
    points = [{"step": step, "loss": loss} for step, loss in run.losses] if run else []
    return pd.DataFrame(points or [{"step": 0, "loss": None}])


def plan_key(view: ConversationView) -> str | None:
    """Which plan is proposed (its run folder): a new key means a new plan to show."""
    return (view.training_plan or {}).get("config", {}).get("out_dir")


def last_reply_text(view: ConversationView) -> str:
    """What the assistant last said (a refusal, a resume note), shown next to the button that asked."""
    return next((m["content"] for m in reversed(view.messages) if m["role"] != "user"), "")


class TrainingTab:
    def __init__(self, session: Session, chat_outputs_fn):
        self.session = session
        self.runs = session.runs
        self.chat_outputs_fn = chat_outputs_fn

    def run_dir(self, thread_id: str) -> str | None:
        return self.session.view(thread_id).run_dir if thread_id else None

    # --- proposal and approval ------------------------------------------------------------------------------
    def propose(self, thread_id: str, base_model: str, dataset_version: str | None, parent_run: str | None,
                *values):
        choices = {"base_model": (base_model or "").strip(), "dataset_version": dataset_version,
                   "parent_run": parent_run or None,
                   **dict(zip((p.name for p in self.parameters), values))}
        numbers = {p.name: p.integer for p in self.parameters if p.integer or p.planned}
        try:
            choices = {k: _number(k, v, numbers[k]) if k in numbers else v
                       for k, v in choices.items() if str(v if v is not None else "").strip()}
        except ValueError as exc:
            return {**self.chat_outputs_fn(thread_id), self.panel["plan"]: f"{self.runs.PROBLEM} {exc}"}
        view = self.session.act(thread_id, Action.PREPARE_TRAINING, "Check and propose", tab="Training",
                                config=choices)
        return {**self.chat_outputs_fn(thread_id), self.panel["plan"]: self.plan_markdown(view)}

    @staticmethod
    def plan_markdown(view: ConversationView) -> str:
        """The checked plan; when the last check was refused, that reason above the plan it left in place."""
        plan = (view.training_plan or {}).get("markdown") or NO_PLAN
        last = last_reply_text(view)
        return plan if last == plan or last.startswith("**Preflight**") else f"{last}\n\n{plan}"

    def approve(self, thread_id: str):
        view = self.session.act(thread_id, Action.APPROVE, "Start training", tab="Training")
        return {**self.chat_outputs_fn(thread_id), self.run_note: last_reply_text(view)}

    def suggest(self, task: str, gpu_gb: float | None) -> str:
        return self.runs.suggest_base_models(task, gpu_gb)

    def parent_choices(self, thread_id: str):
        """Finished LoRA runs of this conversation a new round can continue from ('' = start from the base)."""
        return gr.update(choices=[""] + (self.session.finished_adapter_runs(thread_id) if thread_id else []))

    def version_names(self, thread_id: str | None) -> list[str]:
        """The conversation's dataset versions, newest first."""
        return [v["name"] for v in self.session.studio.versions(thread_id)] if thread_id else []

    def dataset_choices(self, thread_id: str):
        """The conversation's dataset versions, newest first (the choice in the picker stays: the poll preselects)."""
        return gr.update(choices=self.version_names(thread_id))

    # --- the built-in example -------------------------------------------------------------------------------
    def start_example(self) -> str:
        self.session.start_example()
        return self.example_markdown()

    def example_markdown(self) -> str:
        example = self.runs.example
        if example is None:
            return ""
        lines = "\n".join(example.lines[-8:])
        text = f"Example in `{example.folder}`\n\n```\n{lines}\n```"
        if example.error:
            return f"{text}\n\n{self.runs.PROBLEM} {example.error}"
        if example.summary:
            done = example.summary
            text += (f"\n\n**Exact match on 20 held-out rows: base {done['base_exact_match']:.0%} → tuned "
                     f"{done['tuned_exact_match']:.0%}** ({done['minutes_total']} minutes in all)\n\n"
                     "| input | base | tuned |\n|---|---|---|\n" + "\n".join(
                         f"| {table_cell(e['prompt'].splitlines()[-1])} | {table_cell(e['base'], 80)} "
                         f"| {table_cell(e['tuned'])} |"
                         for e in done["examples"]))
        return text

    def example_poll(self):
        example = self.runs.example
        if example is None:
            return gr.skip()
        return {self.example_note: self.example_markdown(),
                self.example_loss: loss_frame(self.runs.progress(str(example.run_dir)))}

    # --- progress -------------------------------------------------------------------------------------------
    def run_signature(self, view: ConversationView | None, versions: list[str] | None = None) -> dict:
        """What the panel shows depends on only these; equal signatures mean nothing to redraw."""
        if view is None:
            return {}
        return {"run": self.runs.signature(view.run_dir), "stage": view.stage, "phase": view.run_phase,
                "plan": plan_key(view), "messages": len(view.messages), "versions": versions or []}

    def poll(self, thread_id: str, shown: dict | None):
        """Runs every second and only reads: the server's run watcher records the run's end and evaluates it;
        this redraws the panel (and the chat, which the watcher may have written to) when something changed, the
        plan with its dataset and earlier run when a new one was proposed elsewhere (e.g. after Improve), and
        preselects the newest dataset version when there is no plan or a new version was built."""
        view = self.session.view(thread_id) if thread_id else None
        versions = self.version_names(thread_id)
        signature = self.run_signature(view, versions)
        if signature == shown:
            return gr.skip()  # an empty dict would be read as one value for all the outputs (a ValueError a tick)
        shown, panel = shown or {}, self.panel
        update = {panel["shown"]: signature, panel["evaluation"]: self.evaluation_markdown(view),
                  panel["verdict"]: evaluation_words(view.evaluation) if view and view.evaluation else "",
                  panel["improve"]: gr.update(visible=bool(view and view.can_improve))}
        if view and shown and shown.get("messages") != len(view.messages):
            update |= self.chat_outputs_fn(thread_id)
        if view and view.training_plan and shown.get("plan") != signature["plan"]:
            update |= {panel["plan"]: self.plan_markdown(view), **self.plan_choices(thread_id, view)}
        elif shown.get("versions") != versions:
            update[panel["dataset"]] = gr.update(choices=versions, value=versions[0] if versions else None)
        run = self.runs.progress(view.run_dir if view else None)
        return update | {panel["progress"]: progress_html(run), panel["loss"]: loss_frame(run),
                         panel["log"]: run.log_tail() if run else "",
                         panel["evaluation"]: self.evaluation_markdown(view, run.evaluation.note if run else "")}

    def plan_choices(self, thread_id: str, view: ConversationView) -> dict:
        """The dataset version and earlier run the shown plan uses, selected in their pickers."""
        config = view.training_plan["config"]
        versions = self.version_names(thread_id)
        runs = [""] + self.session.finished_adapter_runs(thread_id)
        parent = Path(config["parent_run"]).name if config.get("parent_run") else ""
        data = Path(config["data_dir"]).name
        return {self.panel["dataset"]: gr.update(choices=versions, value=data if data in versions else None),
                self.panel["parent"]: gr.update(choices=runs, value=parent if parent in runs else "")}

    def cancel(self, thread_id: str):
        view = self.session.act(thread_id, Action.CANCEL_RUN, "Cancel", tab="Training")
        return {**self.chat_outputs_fn(thread_id), self.run_note: last_reply_text(view)}

    def resume(self, thread_id: str):
        view = self.session.act(thread_id, Action.RESUME_RUN, "Resume", tab="Training")
        return {**self.chat_outputs_fn(thread_id), self.run_note: last_reply_text(view)}

    # --- after the run --------------------------------------------------------------------------------------
    @staticmethod
    def evaluation_markdown(view: ConversationView | None, progress: str = "") -> str:
        if view and view.evaluation:
            return evaluation_tables(view.evaluation)
        if view and view.run_phase == "evaluating":
            return f"_Comparing base and tuned: {progress or 'starting'}…_"
        return "_The comparison with the base model appears here when training has finished._"

    def improve(self, thread_id: str) -> dict:
        """Improve: the failing held-out rows become the next batch to review (or the reason it cannot be)."""
        note = self.improve_note
        if not thread_id:
            return {note: "Open a conversation first."}
        before = len(self.session.view(thread_id).messages) + 1  # + the event "You pressed Improve"
        view = self.session.act(thread_id, Action.IMPROVE, "Improve", tab="Training")
        said = "\n\n".join(m["content"] for m in view.messages[before:] if m["role"] == "assistant")
        return {**self.chat_outputs_fn(thread_id), note: said,
                self.panel["improve"]: gr.update(visible=view.can_improve)}

    def try_it(self, thread_id: str, prompt: str, history: list) -> dict:
        run_dir = self.run_dir(thread_id)
        if not run_dir or not (prompt or "").strip():
            return {self.tried: history, self.try_input: prompt}
        answer = self.runs.try_tuned(run_dir, prompt)
        return {self.tried: history + [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
                self.try_input: ""}

    def export(self, thread_id: str, merge: bool) -> dict:
        run_dir = self.run_dir(thread_id)
        note, files = (self.runs.export(run_dir, merge) if run_dir
                       else (f"{self.runs.PROBLEM} No finished run to export.", None))
        return {self.exported: note, self.export_files: files}

    # --- layout ---------------------------------------------------------------------------------------------
    def build(self, thread: gr.State, chat_outputs: list) -> None:
        base_model_parameter, *self.parameters = self.runs.parameters()
        with gr.Accordion("New here? Try an example: the built-in model learns a task on this machine in minutes",
                          open=False, elem_id="ts-example"):
            gr.Markdown(EXAMPLE_INTRO)
            try_example = gr.Button("Try an example", variant="primary", size="sm", elem_id="ts-try-example")
            with gr.Row():
                example_note = gr.Markdown(elem_id="ts-example-note")
                example_loss = gr.LinePlot(x="step", y="loss", title="Example: training loss",
                                           elem_id="ts-example-loss")
            example_timer = gr.Timer(2.0)
        with gr.Row():
            with gr.Column(scale=2):
                gr.Markdown("#### 1 · Base model and settings")
                base_model = gr.Textbox(value=BUILTIN_NAME, label=BASE_MODEL_LABEL, info=base_model_parameter.why,
                                        elem_id="ts-base-model")
                with gr.Accordion("Which base model? Suggestions by task and GPU", open=False):
                    task = gr.Textbox(label="Task in a few words")
                    gpu = gr.Number(label="GPU memory (GB) of the machine you will train on",
                                    value=24 if self.runs.gpu_here() else None)
                    suggest = gr.Button("Suggest", size="sm")
                    suggestions = gr.Markdown()
                dataset = gr.Dropdown(label="Dataset version to train on", choices=[], elem_id="ts-dataset-version",
                                      info="Every build in the Data studio is a version; the run records which.")
                parent = gr.Dropdown(label="Continue from an earlier run (a new round)", choices=[""], value="",
                                     elem_id="ts-parent-run", info="Its adapter keeps learning on the new data; "
                                     "the evaluation then compares this round with that run.")
                controls = []
                for p in self.parameters:
                    if p.choices:
                        controls.append(gr.Radio(list(p.choices), value=p.default, label=p.name, info=p.why))
                    elif p.planned:  # empty means "planned": a Number box would show (and send) 0
                        controls.append(gr.Textbox(value="", placeholder="empty: planned from your data and model",
                                                   label=p.name, info=p.why, elem_id=f"ts-param-{p.name}"))
                    else:
                        controls.append(gr.Number(value=p.default, label=p.name, info=p.why,
                                                  elem_id=f"ts-param-{p.name}"))
                propose = gr.Button("Check and propose", variant="primary", elem_id="ts-propose")
            with gr.Column(scale=3):
                gr.Markdown("#### 2 · Preflight and approval")
                plan = gr.Markdown(elem_id="ts-plan")
                start = gr.Button("Start training", variant="primary", elem_id="ts-start-training")
                gr.Markdown("#### 3 · Progress")
                progress = gr.HTML(progress_html(None))
                loss = gr.LinePlot(x="step", y="loss", title="Training loss", elem_id="ts-loss")
                with gr.Row():
                    cancel = gr.Button("Cancel", size="sm", elem_id="ts-cancel")
                    resume = gr.Button("Resume", size="sm", elem_id="ts-resume")
                run_note = gr.Markdown(elem_id="ts-run-note")
                log = gr.Textbox(label="Log", lines=6, max_lines=6, elem_id="ts-train-log")
        gr.Markdown("#### 4 · Result: base vs tuned, try it, export")
        verdict = gr.Markdown(elem_id="ts-verdict")
        with gr.Row():
            improve = gr.Button("Improve", variant="primary", visible=False, scale=0, elem_id="ts-improve")
            improve_note = gr.Markdown(elem_id="ts-improve-note")
        evaluation = gr.Markdown(elem_id="ts-evaluation")
        with gr.Row():
            with gr.Column():
                tried = gr.Chatbot(label="Try the tuned model", height=260, elem_id="ts-try-chat")
                prompt = gr.Textbox(placeholder="Ask the tuned model…", show_label=False, elem_id="ts-try-input")
            with gr.Column():
                merge = gr.Checkbox(label="Merge into the full-precision base (not the 4-bit one)", value=True)
                export = gr.Button("Export", elem_id="ts-export")
                exported = gr.Markdown(elem_id="ts-exported")
                export_files = gr.File(label="Exported files", file_count="multiple", interactive=False)
        timer = gr.Timer(1.0)

        self.example_note, self.example_loss, self.run_note = example_note, example_loss, run_note
        self.tried, self.try_input, self.exported, self.export_files = tried, prompt, exported, export_files
        try_example.click(self.start_example, None, example_note)
        example_timer.tick(self.example_poll, None, [example_note, example_loss])
        suggest.click(self.suggest, [task, gpu], suggestions)
        dataset.focus(self.dataset_choices, thread, dataset)
        parent.focus(self.parent_choices, thread, parent)
        propose.click(self.propose, [thread, base_model, dataset, parent, *controls], chat_outputs + [plan])
        start.click(self.approve, thread, chat_outputs + [run_note])
        shown = gr.State(None)  # the run signature last drawn (per browser tab)
        self.panel = {"progress": progress, "loss": loss, "log": log, "verdict": verdict, "evaluation": evaluation,
                      "improve": improve, "plan": plan, "dataset": dataset, "parent": parent, "shown": shown}
        timer.tick(self.poll, [thread, shown], [*self.panel.values(), *chat_outputs])
        self.improve_note = improve_note  # what Improve did, or why it could not
        # Improve drafts a batch: the Data studio's review follows it (app.py chains its refresh on these)
        self.events = [improve.click(self.improve, thread, [*chat_outputs, improve_note, improve])]
        cancel.click(self.cancel, thread, chat_outputs + [run_note])
        resume.click(self.resume, thread, chat_outputs + [run_note])
        prompt.submit(self.try_it, [thread, prompt, tried], [tried, prompt])
        export.click(self.export, [thread, merge], [exported, export_files])
