"""Training path nodes: propose a config with preflight and memory estimate, pause for approval, launch the
trainer subprocess, record how the run ended (the session's watcher reports it), start the evaluation as its own
process, report base vs tuned, and resume or cancel a run."""
from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from langgraph.types import interrupt

from agent.actions import Action, received
from agent.finetune_nodes import quick, route_back
from agent.improve_nodes import previous_evaluation, round_change, round_change_markdown
from agent.state import AgentState, event, say
from tools.errors import UserError
from tools.training.run_folder import CONFIG_FILE, STOPPED, RunState, has_adapter, read_result, read_run
from tools.workspace import Workspace

if TYPE_CHECKING:
    from tools.training.preflight import PreflightReport


def render_plan_markdown(config: dict, preflight: PreflightReport, explanations: list, method_note: str = "") -> str:
    """The verdict and the checks first, then what "auto" chose (method_note), the plan's why and every setting."""
    lines = [preflight.to_markdown()] + (["", method_note] if method_note else [])
    if config.get("plan_note"):  # escaped: it quotes the data's own text
        lines += ["", f"**Plan**: {html.escape(config['plan_note'])}"]
    lines += ["", "**Settings** (each with why):"]
    lines += [f"- `{name}` = `{value}` — {why}" for name, value, why in explanations
              if name not in ("data_dir", "out_dir", "plan_note")]
    return "\n".join(lines)


def metrics_table(result: dict) -> str:
    """The metrics of each model side by side, as a Markdown table (lower loss, higher overlap is better)."""
    columns = [name for name in ("base", "previous", "tuned") if name in result]
    titles = {"base": "base", "previous": "previous round", "tuned": "now" if "previous" in result else "tuned"}
    lines = [f"**{result['samples']} eval samples from** `{result['eval_file']}`", "",
             "| metric | " + " | ".join(titles[name] for name in columns) + " |", "|---|" + "---:|" * len(columns)]
    for metric in ("loss", "perplexity", "rouge_l", "exact_match", "stop_rate"):
        if result["base"].get(metric) is not None:
            lines.append(f"| {metric} | " + " | ".join(f"{result[name].get(metric, float('nan')):.4g}"
                                                       for name in columns) + " |")
    if "previous_run" in result:
        lines.append(f"\n_previous round: the run this one continued from (`{result['previous_run']}`)_")
    if "retrieval" in result:  # a run trained on retrieval samples: the same questions asked with the index
        from tools.rag.raft_eval import retrieval_markdown

        lines += ["", retrieval_markdown(result)]
    return "\n".join(lines)


def evaluation_words(result: dict) -> str:
    """The evaluation in words: the verdict (tools/training/verdict.py) and, for a later round, previous vs now on
    the same held-out rows. The chat and the Training tab both show it above the numbers."""
    from tools.training.verdict import verdict_markdown

    return "\n\n".join(part for part in (verdict_markdown(result), round_change_markdown(result)) if part)


def evaluation_report(result: dict, run_name: str) -> str:
    """What the chat says when an evaluation ends: the evaluation in words, the metrics, and where to go next (the
    Training tab shows the same, with every example)."""
    from tools.generation.notes import failing_cases

    parts = [f"Training of `{run_name}` finished and was evaluated on the held-out rows.", evaluation_words(result),
             metrics_table(result)]
    after = "Try the tuned model and export it in the **Training** tab"
    if failing_cases(result):
        after += ", or press **Improve** (or type \"improve\") to draft the next batch from the rows it got wrong"
    return "\n\n".join(part for part in parts if part) + f"\n\n{after}."


def describe_run_end(run: RunState) -> str:
    """One plain paragraph on how a run stopped and what to do next."""
    name, at = run.run_dir.name, f"step {run.step}/{run.max_steps or '?'}"
    if run.status == "done":
        loss = f" (last loss {run.last_loss:.4f})" if run.last_loss is not None else ""
        return (f"Training of `{name}` finished at {at}{loss}. Comparing the tuned model with its base on the "
                "held-out split in a separate process; the report follows here.")
    if run.status == "cancelled":
        return f"Training of `{name}` was cancelled at {at}. **Resume** continues from the last checkpoint."
    if run.status == "failed":  # escaped: an error may quote a template (<start_of_turn>) or the data
        return (f"Training of `{name}` failed at {at}: {html.escape(run.message or 'no message')}\n\n"
                "Fix the cause, then press **Resume** (it continues from the last checkpoint) or "
                "**Check and propose** a new run.")
    return (f"The trainer of `{name}` stopped without a final report at {at} (its process is gone). Last lines "
            f"of its log:\n\n```text\n{run.log_tail(8)}\n```\n\nPress **Resume** to continue "
            "from the last checkpoint.")


def asked_choices(state: AgentState) -> dict:
    """The Training tab's settings sent with Check and propose; asked for in words (no settings sent): those of the
    last plan, else the tab's defaults (the built-in base model, the rest planned)."""
    from tools.training.builtin import BUILTIN_NAME

    config = state["last_reply"].get("config")
    if config is not None:
        return dict(config)
    return dict((state.get("training_plan") or {}).get("choices") or {"base_model": BUILTIN_NAME})


class TrainingNodes:
    def __init__(self, workspace: Workspace | None):
        self.workspace = workspace

    def prepare_training(self, state: AgentState, config) -> dict:
        """Builds the config from the person's choices (after Improve: those of the run the round continues), runs
        the preflight, and explains every parameter."""
        thread_id = config["configurable"]["thread_id"]
        improvement = state.get("improvement")
        if not improvement:
            return self.propose(state, thread_id, asked_choices(state))
        if improvement["step"] == "built":  # a round after Improve: continue the improved run
            choices = {**improvement["choices"], "parent_run": Path(improvement["run_dir"]).name
                       if has_adapter(improvement["run_dir"]) else None}
        else:  # the person proposes a run of their own: the round in the making (no batch drafted yet) is dropped
            choices = asked_choices(state)
        return {**self.propose(state, thread_id, choices), "improvement": None}

    def propose(self, state: AgentState, thread_id: str, choices: dict) -> dict:
        """The plan for these choices (dataset_version and parent_run name a version and a run), or a refusal."""
        from tools.training.config import TrainConfig, explain_parameters
        from tools.training.methods import auto_method, has_gpu
        from tools.training.preflight import run_preflight

        person_chose = {k: v for k, v in choices.items() if k not in ("dataset_version", "parent_run")}
        if state.get("run_phase") in ("training", "evaluating"):
            name = Path(state["run_dir"]).name
            return {"messages": [say(f"`{name}` is still {state['run_phase']}: wait for its report, or cancel it "
                                      "in the **Training** tab, before proposing another run.")], "stay": True}
        try:
            data_dir = self.chosen_dataset(thread_id, choices.pop("dataset_version", None), state.get("dataset_dir"))
        except UserError as exc:
            return {"messages": [say(f"⚠️ {exc.message}")], "stay": True}
        if not data_dir:
            return {"messages": [say("Build the dataset first (Data studio → Build), then prepare training.")],
                    "stay": True}
        if not choices.get("base_model"):
            return {"messages": [say("Pick a base model in the **Training** tab (a local folder with the model and "
                                      "its tokenizer) and press **Check and propose**.")], "stay": True}
        try:
            parent = self.chosen_parent_run(thread_id, choices.pop("parent_run", None))
        except UserError as exc:
            return {"messages": [say(f"⚠️ {exc.message}")], "stay": True}
        if parent:
            choices["parent_run"] = parent
            choices.setdefault("method", "lora")
            if choices["method"] not in ("lora", "qlora"):
                choices["method"] = "lora"  # a new round continues the earlier LoRA adapter
        method_note = ""
        if choices.get("method", "auto") == "auto":  # what auto means is the config's, as in the CLI
            method, why = auto_method(has_gpu())
            method_note = f"**Method: {method}** ({why})."
        try:
            train_config = TrainConfig(**choices, data_dir=data_dir, out_dir=self.workspace.next_run_dir(thread_id))
            report = run_preflight(train_config)
        except UserError as exc:
            return {"messages": [say(f"⚠️ {exc.message}")], "stay": True}
        settings = train_config.model_dump(mode="json")
        round_note = (f"**A new round**: continues `{Path(parent).name}` on `{Path(data_dir).name}`; its evaluation "
                      "compares the two.\n\n" if parent else "")
        plan = {"config": settings, "preflight": report.to_dict(), "choices": person_chose,
                "markdown": round_note + render_plan_markdown(settings, report, explain_parameters(train_config),
                                                              method_note)}
        return {"messages": [say(plan["markdown"])], "training_plan": plan, "stage": "training", "run_dir": None,
                "dataset_dir": str(data_dir), "run_phase": None, "evaluation": None}

    def chosen_dataset(self, thread_id: str, version: str | None, last_built: str | None) -> str | None:
        """The dataset version the person picked (a version folder of this conversation), else the last one built."""
        from tools.dataset.versions import list_versions, versions_root

        if not version:
            return last_built
        for found in list_versions(versions_root(self.workspace.project_dir(thread_id))):
            if version in (found["name"], found["path"]):
                return found["path"]
        raise UserError(f"dataset version {version!r} is not one of this conversation's versions; pick one from the "
                        "list (Data studio → Build makes new ones)")

    def chosen_parent_run(self, thread_id: str, name: str | None) -> str | None:
        """The earlier run of this conversation a new round continues from (its adapter), or None."""
        if not name:
            return None
        for run in self.workspace.runs_dir(thread_id).glob("run-*"):
            if run.name == name and has_adapter(run):
                return str(run)
        raise UserError(f"{name!r} is not a finished LoRA run of this conversation; pick one from the list, or "
                        "leave it empty to start from the base model")

    def approve_training(self, state: AgentState) -> dict:
        """Pauses until the person approves the proposed run (or asks a question, or changes settings)."""
        raw = interrupt({"kind": "approve_training", "stage": "training", "plan": state.get("training_plan"),
                         "quick_replies": [quick("Start training", Action.APPROVE).model_dump(),
                                           quick("Change settings", Action.REVISE).model_dump()]})
        return received(raw, "approve_training")

    def start_training(self, state: AgentState) -> dict:
        """Launches the trainer as a subprocess (no shell); the session's watcher notices when it stops."""
        from tools.training.config import TrainConfig
        from tools.training.launch import start_training

        train_config = TrainConfig(**state["training_plan"]["config"])
        try:
            process = start_training(train_config)
        except UserError as exc:
            return {"messages": [say(f"⚠️ {exc.message}")]}
        return {"messages": [say(f"Training started (process {process.pid}) in `{train_config.out_dir}`. "
                                  "Follow the progress bar and loss curve in the **Training** tab; you can cancel "
                                  "it there, and resume it if it stops. I'll report here when it ends, even if "
                                  "you close the page.")],
                "run_dir": str(train_config.out_dir), "run_phase": "training", "stage": "training"}

    def record_run_end(self, state: AgentState) -> dict:
        """The watcher saw the run stop: say how, and start the evaluation (once) when it finished."""
        from tools.training.evaluation_job import start_evaluation

        run_dir = state.get("run_dir")
        run = read_run(run_dir) if run_dir else None
        if state.get("run_phase") != "training" or run is None or run.status not in ("done", *STOPPED):
            return {"stay": True}  # stale news (e.g. the run was resumed meanwhile): nothing to record
        if run.status == "done":
            start_evaluation(run_dir)
            return {"messages": [event(describe_run_end(run))], "run_phase": "evaluating", "stay": True}
        return {"messages": [event(describe_run_end(run))], "run_phase": "stopped", "stay": True}

    def record_evaluation(self, state: AgentState) -> dict:
        """The evaluation process ended: report base vs tuned, or why it failed."""
        run_dir = state.get("run_dir")
        evaluation = read_run(run_dir).evaluation if run_dir else None
        if state.get("run_phase") != "evaluating" or evaluation is None or evaluation.status not in ("done",
                                                                                                     "failed"):
            return {"stay": True}
        result = read_result(run_dir) if evaluation.status == "done" else None
        if result is None:  # escaped: the reason may quote the model's or the data's text
            why = html.escape(evaluation.failure or f"its result {run_dir}/eval.json cannot be read")
            return {"messages": [event(f"Evaluating `{Path(run_dir).name}` failed: {why}")],
                    "run_phase": "finished", "stay": True}
        result["round_change"] = round_change(result, previous_evaluation(result))
        update = {"messages": [say(evaluation_report(result, Path(run_dir).name))],
                  "run_phase": "finished", "evaluation": result, "stay": True}
        if state.get("stage") == "training":  # the person may have moved on meanwhile (more batches): keep that
            update["stage"] = "done"
        return update

    def resume_training(self, state: AgentState) -> dict:
        """Restarts a stopped run and says truthfully where from: its last complete checkpoint, or step 0."""
        from tools.training.config import load_config
        from tools.training.launch import append_event, start_training
        from tools.training.train import last_complete_checkpoint

        run_dir = state.get("run_dir")
        status = read_run(run_dir).status if run_dir else None
        if status not in STOPPED:
            why = {None: "There is no run yet", "running": f"`{Path(run_dir or '').name}` is still training",
                   "done": f"`{Path(run_dir or '').name}` has finished"}.get(status, "The run has not started")
            return {"messages": [say(f"{why}: there is nothing to resume.")], "stay": True}
        checkpoint = last_complete_checkpoint(Path(run_dir))
        try:
            config = load_config(Path(run_dir) / CONFIG_FILE)
            # the new launch's first line: the old final event no longer describes the run
            append_event(run_dir, "resumed", message="resumed by the person")
            start_training(config, resume=True)
        except UserError as exc:
            return {"messages": [say(f"⚠️ {exc.message}")], "stay": True}
        name = Path(run_dir).name
        where = (f"from its checkpoint at step {checkpoint.name.rsplit('-', 1)[-1]}" if checkpoint else
                 "from step 0: no complete checkpoint had been saved, so training starts over")
        return {"messages": [say(f"Resumed `{name}` {where}.")], "run_phase": "training", "stay": True}

    def cancel_training(self, state: AgentState) -> dict:
        from tools.training.launch import cancel_run

        run_dir = state.get("run_dir")
        if not run_dir or state.get("run_phase") != "training":
            return {"messages": [say("Nothing is training right now.")], "stay": True}
        message = cancel_run(run_dir)
        phase = "stopped" if read_run(run_dir).stopped else state.get("run_phase")
        return {"messages": [say(message)], "run_phase": phase, "stay": True}


def route_after_preparation(state: AgentState) -> Literal["approve_training", "wait_for_user", "review_batch"]:
    """A GO plan waits for approval; a NO-GO plan leaves the approval; a refusal goes back where it came from."""
    if state.get("stay"):
        return route_back(state)
    return "approve_training" if state["training_plan"]["preflight"]["ok"] else "wait_for_user"
