"""The Training tab: explained parameters, preflight and approval, live progress (bar, loss, log), cancel and
resume, base-vs-tuned evaluation, a try-it chat with the tuned model, and export."""
from __future__ import annotations

import html
import json
from pathlib import Path

import gradio as gr
import pandas as pd

from agent.session import Session
from tools.errors import UserError

PARAMETERS = ("method", "lora_r", "lora_alpha", "learning_rate", "epochs", "max_steps", "batch_size", "grad_accum",
              "max_seq_len")


def _cell(text: str, limit: int = 400) -> str:
    """Model output as one Markdown table cell: escaped (untrusted text), pipes kept, line breaks shown."""
    text = html.escape(text if len(text) <= limit else text[:limit] + " …")
    return text.replace("|", "&#124;").replace("\n", "<br>") or "_(empty)_"


def evaluation_tables(result: dict) -> str:
    """Base vs tuned: the metrics (lower loss/perplexity, higher overlap is better), then every example side by
    side with its reference."""
    lines = [f"**{result['samples']} eval samples from** `{result['eval_file']}`", "",
             "| metric | base | tuned |", "|---|---:|---:|"]
    for metric in ("loss", "perplexity", "rouge_l", "exact_match"):
        base, tuned = result["base"].get(metric), result["tuned"].get(metric)
        if base is not None:
            lines.append(f"| {metric} | {base:.4g} | {tuned:.4g} |")
    lines += ["", "| # | prompt | reference | base | tuned |", "|---|---|---|---|---|"]
    for number, example in enumerate(result["side_by_side"], 1):
        cells = [_cell(example[key]) for key in ("prompt", "reference", "base", "tuned")]
        lines.append(f"| {number} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def progress_html(events: list[dict], status: str) -> str:
    """A progress bar from the last logged step, with the status and the latest loss."""
    logs = [e for e in events if e.get("step") is not None and e.get("max_steps")]
    step, total = (logs[-1]["step"], logs[-1]["max_steps"]) if logs else (0, 0)
    share = 100 * step / total if total else (100 if status == "done" else 0)
    losses = [e["loss"] for e in events if e.get("event") == "log" and e.get("loss") is not None]
    loss = f" · loss {losses[-1]:.4f}" if losses else ""
    return (f'<div id="ts-train-progress" data-status="{status}" data-step="{step}">'
            f'<div style="background:#e2e8f0;border-radius:6px;height:14px">'
            f'<div style="width:{share:.0f}%;background:#2563eb;height:14px;border-radius:6px"></div></div>'
            f"<small>{status} · step {step}/{total or '?'}{loss}</small></div>")


class TrainingTab:
    def __init__(self, session: Session, chat_outputs_fn):
        self.session = session
        self.chat_outputs_fn = chat_outputs_fn
        self._processes: dict[str, object] = {}

    def run_dir(self, thread_id: str) -> str | None:
        return self.session.view(thread_id).run_dir if thread_id else None

    # --- proposal and approval ------------------------------------------------------------------------------
    def propose(self, thread_id: str, base_model: str, *values):
        choices = {"base_model": (base_model or "").strip(), **dict(zip(PARAMETERS, values))}
        choices = {k: (int(v) if k in ("lora_r", "max_steps", "batch_size", "grad_accum", "max_seq_len") else v)
                   for k, v in choices.items() if v not in (None, "")}
        self.session.send(thread_id, {"text": "Check and propose training", "action": "prepare_training",
                                      "config": choices})
        return self.chat_outputs_fn(thread_id) + [self.plan_markdown(thread_id)]

    def plan_markdown(self, thread_id: str) -> str:
        view = self.session.view(thread_id)
        return next((m["content"] for m in reversed(view.messages) if m["content"].startswith("**Preflight**")),
                    "_Choose a base model and press **Check and propose**._")

    def approve(self, thread_id: str):
        self.session.send(thread_id, {"text": "Start training", "action": "approve"})
        return self.chat_outputs_fn(thread_id)

    def suggest(self, task: str, gpu_gb: float | None) -> str:
        from tools.training.models import suggest_base_models

        try:
            models = suggest_base_models(task or "general", gpu_gb=gpu_gb or None)
        except UserError as exc:
            return f"⚠️ {exc.message}"
        return "\n".join(f"- **{m['name']}** — {m['reason']}" for m in models[:5])

    # --- progress -------------------------------------------------------------------------------------------
    @staticmethod
    def run_signature(run_dir: str | None, stage: str | None, status: str | None) -> list:
        """What the panel shows depends on only these; equal signatures mean nothing to redraw."""
        if not run_dir:
            return [None]
        files = [Path(run_dir) / name for name in ("progress.jsonl", "train.log", "eval.json")]
        return [run_dir, stage, status, *(f.stat().st_size if f.exists() else -1 for f in files)]

    def poll(self, thread_id: str, shown: list | None):
        """Runs every second: redraws the panel only when the run's files or status changed since `shown`."""
        from tools.training.launch import read_progress, run_status, tail_log

        view = self.session.view(thread_id) if thread_id else None  # read once per tick
        run_dir = view.run_dir if view else None
        status = run_status(run_dir) if run_dir else None
        signature = self.run_signature(run_dir, view.stage if view else None, status)
        unchanged_chat = [gr.skip()] * len(self.chat_outputs)
        if signature == shown:
            return [gr.skip()] * 4 + unchanged_chat + [shown]
        if not run_dir:
            return [progress_html([], "not started"), pd.DataFrame({"step": [], "loss": []}), "", gr.skip(),
                    *unchanged_chat, signature]
        events = read_progress(run_dir)
        losses = pd.DataFrame([{"step": e["step"], "loss": e["loss"]} for e in events
                               if e.get("event") == "log" and e.get("loss") is not None] or [{"step": 0, "loss": None}])
        log = tail_log(Path(run_dir) / "train.log", 15)
        finished = status == "done" and view.stage == "training"
        chat = unchanged_chat
        if finished:  # tell the agent once, so it evaluates and reports in the chat
            self.session.send(thread_id, {"text": "Training finished", "action": "training_finished"})
            chat = self.chat_outputs_fn(thread_id)
        return [progress_html(events, status), losses, log, self.evaluation_markdown(run_dir), *chat, signature]

    def cancel(self, thread_id: str) -> str:
        from tools.training.launch import cancel_run

        run_dir = self.run_dir(thread_id)
        return cancel_run(run_dir) if run_dir else "Nothing is running."

    def resume(self, thread_id: str) -> str:
        from tools.training.config import load_config
        from tools.training.launch import run_status, start_training

        run_dir = self.run_dir(thread_id)
        if not run_dir or run_status(run_dir) not in ("interrupted", "cancelled", "failed"):
            return "There is no stopped run to resume."
        try:
            start_training(load_config(Path(run_dir) / "config.json"), resume=True)
        except UserError as exc:
            return f"⚠️ {exc.message}"
        return "Resumed from the last checkpoint."

    # --- after the run --------------------------------------------------------------------------------------
    @staticmethod
    def evaluation_markdown(run_dir: str | None) -> str:
        path = Path(run_dir) / "eval.json" if run_dir else None
        if not path or not path.exists():
            return "_The comparison with the base model appears here when training has finished._"
        return evaluation_tables(json.loads(path.read_text(encoding="utf-8")))

    def try_it(self, thread_id: str, prompt: str, history: list) -> tuple[list, str]:
        from tools.training.inference import chat, load_tuned

        run_dir = self.run_dir(thread_id)
        if not run_dir or not (prompt or "").strip():
            return history, prompt
        try:
            answer = chat(load_tuned(run_dir), prompt)
        except UserError as exc:
            answer = f"⚠️ {exc.message}"
        return history + [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}], ""

    def export(self, thread_id: str, merge: bool):
        from tools.training.export import export_run

        run_dir = self.run_dir(thread_id)
        if not run_dir:
            return "⚠️ No finished run to export.", None
        out = Path(run_dir) / ("export-merged" if merge else "export-adapter")
        try:
            written = export_run(run_dir, out, merge=merge)
        except UserError as exc:
            return f"⚠️ {exc.message}", None
        serve = (out / "vllm_serve.sh").read_text(encoding="utf-8") if (out / "vllm_serve.sh").exists() else ""
        files = [p for p in written.values() if Path(p).is_file()]
        return f"Exported to `{out}`.\n\n```bash\n{serve.strip()}\n```", files

    # --- layout ---------------------------------------------------------------------------------------------
    def build(self, thread: gr.State, chat_outputs: list) -> None:
        from tools.training.config import TrainConfig

        self.chat_outputs = chat_outputs
        fields = TrainConfig.model_fields
        with gr.Row():
            with gr.Column(scale=2):
                gr.Markdown("#### 1 · Base model and settings")
                base_model = gr.Textbox(label="Base model (local folder with weights and tokenizer)",
                                        info=fields["base_model"].description, elem_id="ts-base-model")
                with gr.Accordion("Which base model? Suggestions by task and GPU", open=False):
                    task = gr.Textbox(label="Task in a few words")
                    gpu = gr.Number(label="GPU memory (GB)", value=24)
                    suggest = gr.Button("Suggest", size="sm")
                    suggestions = gr.Markdown()
                controls = []
                for name in PARAMETERS:
                    default = fields[name].default
                    info = fields[name].description
                    if name == "method":
                        controls.append(gr.Radio(["qlora", "lora", "full"], value=default, label=name, info=info))
                    else:
                        controls.append(gr.Number(value=default, label=name, info=info, elem_id=f"ts-param-{name}"))
                propose = gr.Button("Check and propose", variant="primary", elem_id="ts-propose")
            with gr.Column(scale=3):
                gr.Markdown("#### 2 · Preflight and approval")
                plan = gr.Markdown(elem_id="ts-plan")
                start = gr.Button("Start training", variant="primary", elem_id="ts-start-training")
                gr.Markdown("#### 3 · Progress")
                progress = gr.HTML(progress_html([], "not started"))
                loss = gr.LinePlot(x="step", y="loss", title="Training loss", elem_id="ts-loss")
                with gr.Row():
                    cancel = gr.Button("Cancel", size="sm", elem_id="ts-cancel")
                    resume = gr.Button("Resume", size="sm", elem_id="ts-resume")
                run_note = gr.Markdown()
                log = gr.Textbox(label="Log", lines=6, max_lines=6, elem_id="ts-train-log")
        gr.Markdown("#### 4 · Result: base vs tuned, try it, export")
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

        suggest.click(self.suggest, [task, gpu], suggestions)
        propose.click(self.propose, [thread, base_model, *controls], chat_outputs + [plan])
        start.click(self.approve, thread, chat_outputs)
        shown = gr.State(None)  # the run signature last drawn (per browser tab)
        timer.tick(self.poll, [thread, shown], [progress, loss, log, evaluation, *chat_outputs, shown])
        cancel.click(self.cancel, thread, run_note)
        resume.click(self.resume, thread, run_note)
        prompt.submit(self.try_it, [thread, prompt, tried], [tried, prompt])
        export.click(self.export, [thread, merge], [exported, export_files])
