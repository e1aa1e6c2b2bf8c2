"""Training path nodes: propose a config with preflight and memory estimate, pause for approval, launch the
trainer subprocess, and report base-vs-tuned evaluation when the app says the run has finished."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from langgraph.types import interrupt

from agent.finetune_nodes import project_dir
from agent.schemas import QuickReply
from agent.state import AgentState, checked_resume, say
from tools.errors import UserError


def next_run_dir(workspace: Path, thread_id: str) -> Path:
    runs = project_dir(workspace, thread_id) / "runs"
    number = 1 + max([int(p.name.split("-")[1]) for p in runs.glob("run-*") if p.name.split("-")[1].isdigit()],
                     default=0)
    return runs / f"run-{number}"


def render_plan_markdown(config: dict, preflight: dict, explanations: list) -> str:
    icon = {"ok": "✅", "warn": "⚠️", "fail": "❌"}
    lines = ["**Preflight** — " + ("GO: ready to train." if preflight["ok"] else "NO-GO: fix the failed checks.")]
    for check in preflight["checks"]:
        lines.append(f"- {icon[check['status']]} **{check['name']}**: {check['message']}"
                     + (f" _Fix: {check['fix']}_" if check.get("fix") else ""))
    lines += ["", "**Settings** (each with why):"]
    lines += [f"- `{name}` = `{value}` — {why}" for name, value, why in explanations
              if name not in ("data_dir", "out_dir")]
    return "\n".join(lines)


class TrainingNodes:
    def __init__(self, workspace: Path | None):
        self.workspace = workspace

    def prepare_training(self, state: AgentState, config) -> dict:
        """Builds the config from the person's choices, runs the preflight, and explains every parameter."""
        from tools.training.config import TrainConfig, explain_parameters
        from tools.training.preflight import run_preflight

        thread_id = config["configurable"]["thread_id"]
        choices = dict(state["last_reply"].get("config") or {})
        if not state.get("dataset_dir"):
            return {"messages": [say("Build the dataset first (Data studio → Build), then prepare training.")],
                    "reply_kind": "not_ready"}
        if not choices.get("base_model"):
            return {"messages": [say("Pick a base model in the **Training** tab (a local folder with the model and "
                                      "its tokenizer) and press **Check and propose**.")], "reply_kind": "not_ready"}
        try:
            train_config = TrainConfig(**choices, data_dir=state["dataset_dir"],
                                       out_dir=next_run_dir(self.workspace, thread_id))
            report = run_preflight(train_config).to_dict()
        except UserError as exc:
            return {"messages": [say(f"⚠️ {exc.message}")], "reply_kind": "not_ready"}
        plan = {"config": train_config.model_dump(mode="json"), "preflight": report}
        text = render_plan_markdown(plan["config"], report, explain_parameters(train_config))
        return {"messages": [say(text)], "training_plan": plan, "stage": "training", "run_dir": None,
                "reply_kind": "ready" if report["ok"] else "not_ready"}

    def approve_training(self, state: AgentState) -> dict:
        """Pauses until the person approves the proposed run (or asks a question, or changes settings)."""
        reply = interrupt({"kind": "approve_training", "stage": "training", "plan": state.get("training_plan"),
                           "quick_replies": [
                               QuickReply(label="Start training", reply={"text": "Start training",
                                                                         "action": "approve"}).model_dump(),
                               QuickReply(label="Change settings", reply={"text": "Change settings",
                                                                          "action": "revise"}).model_dump()]})
        reply = checked_resume(reply)
        kind = {"approve": "approve", "revise": "revise"}.get(reply.get("action"), "question")
        return {"last_reply": reply, "reply_kind": kind, "messages": [{"role": "user", "content": reply["text"]}]}

    def start_training(self, state: AgentState) -> dict:
        """Launches the trainer as a subprocess (no shell); the app follows its JSON-lines progress."""
        from tools.training.config import TrainConfig
        from tools.training.launch import start_training

        train_config = TrainConfig(**state["training_plan"]["config"])
        try:
            process = start_training(train_config)
        except UserError as exc:
            return {"messages": [say(f"⚠️ {exc.message}")]}
        return {"messages": [say(f"Training started (process {process.pid}) in `{train_config.out_dir}`. "
                                  "Follow the progress bar and loss curve in the **Training** tab; you can cancel "
                                  "it there, and resume it if it stops.")],
                "run_dir": str(train_config.out_dir), "stage": "training"}

    def evaluate_training(self, state: AgentState) -> dict:
        """Compares the tuned model with its base on the eval split and reports in plain words."""
        from tools.training.evaluate import evaluate_run, format_report
        from tools.training.launch import run_status

        run_dir = state.get("run_dir")
        if not run_dir or run_status(run_dir) != "done":
            return {"messages": [say("The training run has not finished yet; I'll compare it when it has.")]}
        try:
            result = evaluate_run(run_dir)
        except UserError as exc:
            return {"messages": [say(f"⚠️ Evaluation failed: {exc.message}")]}
        return {"messages": [say("Training finished. Base vs tuned on the held-out split:\n\n```text\n"
                                  + format_report(result) + "\n```\n\nTry the tuned model and export it in the "
                                  "**Training** tab.")],
                "stage": "done", "evaluation": _json_plain(result)}


def _json_plain(result: dict) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(result, default=str))


def route_after_preparation(state: AgentState) -> Literal["approve_training", "wait_for_user"]:
    return "approve_training" if state.get("reply_kind") == "ready" else "wait_for_user"


def route_after_approval(state: AgentState) -> Literal["start_training", "wait_for_user", "answer_free_question"]:
    kind = state.get("reply_kind")
    return "start_training" if kind == "approve" else "wait_for_user" if kind == "revise" else "answer_free_question"
