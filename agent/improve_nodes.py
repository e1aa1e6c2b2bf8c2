"""Improve: the next round from the tuned model's own mistakes.

The last evaluation's failing rows become error notes (as reviewed errors do), the next batch is drafted with
them and reviewed as usual (finetune_nodes), its submission builds a new dataset version that leaves the scored
rows out, and the proposal continues the run (training_nodes.prepare_training sets parent_run). The round is then
scored on the same held-out rows, and `round_change` says which rows it fixed and which it broke.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agent.finetune_nodes import route_back
from agent.state import AgentState, say
from tools.llm import SETUP_HINT
from tools.training.run_folder import CONFIG_FILE, has_adapter, read_result

if TYPE_CHECKING:
    from tools.generation.store import ReviewStore

# what the person chose for the run an improvement continues, kept for the next round's proposal
CARRIED_CHOICES = ("base_model", "method")


def can_improve(state: AgentState) -> bool:
    """Improve is offered (button, quick reply) once an evaluation found held-out rows the model got wrong."""
    from tools.generation.notes import failing_cases

    return state.get("run_phase") == "finished" and bool(failing_cases(state.get("evaluation") or {}))


def why_not_improve(state: AgentState) -> str | None:
    """Why Improve cannot start a round now (None: it can)."""
    from tools.generation.notes import failing_cases

    run_dir, phase, result = state.get("run_dir"), state.get("run_phase"), state.get("evaluation")
    if run_dir and phase in ("training", "evaluating"):
        return (f"`{Path(run_dir).name}` is still {phase}: **Improve** works from its evaluation, which follows "
                "here when it ends. Nothing was changed.")
    if not run_dir or not result:
        return ("There is no evaluated model to improve yet: train one in the **Training** tab and wait for its "
                "evaluation; **Improve** then turns the held-out rows it got wrong into the next batch. Nothing "
                "was changed.")
    if "cases" not in result:
        return (f"The evaluation of `{Path(run_dir).name}` has no row-by-row results (it was made by an earlier "
                f"version): run `tunesmith evaluate --run {run_dir}` again, then **Improve**. Nothing was changed.")
    if not failing_cases(result):
        scored = [c for c in result["cases"] if "near_twin" not in (c.get("kinds") or [])]
        if not scored:
            return (f"Every held-out row of `{Path(run_dir).name}` has a near-twin in its training data, so none "
                    "was scored and there is no honest mistake to learn from. Build the dataset again (Data studio "
                    "→ Build keeps twins on one side of the split) and train on it first. Nothing was changed.")
        return (f"`{Path(run_dir).name}` got all {len(scored)} held-out row(s) it was scored on right, so there is "
                "no mistake to learn from (near-twins of training rows do not count). Nothing was changed; add "
                "harder samples in the **Data studio** if the task has cases the held-out rows do not cover.")
    return None


def round_choices(state: AgentState) -> dict:
    """The person's training choices for the run being improved: those of the plan that started it, else its
    base model and method (from the run's config)."""
    run_dir, plan = state["run_dir"], state.get("training_plan") or {}
    if plan.get("choices") is not None and plan["config"].get("out_dir") == run_dir:
        return dict(plan["choices"])
    config = json.loads((Path(run_dir) / CONFIG_FILE).read_text(encoding="utf-8"))
    return {name: config[name] for name in CARRIED_CHOICES if config.get(name)}


class ImproveNodes:
    def __init__(self, store: ReviewStore | None, generation_model: Any):
        self.store = store
        self.model = generation_model

    def start_improvement(self, state: AgentState, config) -> dict:
        """The last evaluation's failing rows become error notes (replacing an earlier evaluation's); the next
        batch is then drafted with them (generate_samples) and the round follows its review."""
        from tools.generation.notes import failing_cases, notes_from_evaluation, replace_evaluation_notes

        thread_id = config["configurable"]["thread_id"]
        if refusal := why_not_improve(state):
            return {"messages": [say(refusal)], "stay": True}
        project = self.store.get_project(thread_id) if self.store else None
        if project is None or not project.seeds:
            return {"messages": [say("**Improve** drafts samples for your project: describe the task and save seed "
                                      "examples in the **Data studio** first. Nothing was changed.")], "stay": True}
        if (open_batch := self.store.open_batch(thread_id)) is not None:
            return {"messages": [say(f"Batch {open_batch.number} is still open for review in the **Data studio**: "
                                      "submit it first, then press **Improve**. Nothing was changed.")], "stay": True}
        if self.model is None:
            return {"messages": [say("**Improve** drafts the next batch with an LLM, and none is configured. "
                                      + SETUP_HINT + " Nothing was changed.")], "stay": True}
        result, run_dir = state["evaluation"], state["run_dir"]
        failing = failing_cases(result)
        verdict = result.get("verdict") or {}
        labels = {c["kind"]: c["label"] for c in verdict.get("classes") or []}
        notes = notes_from_evaluation(failing, labels, verdict.get("shared") or [])
        self.store.set_notes(thread_id, replace_evaluation_notes(self.store.notes(thread_id), notes))
        name = Path(run_dir).name
        continues = (f"training then continues from `{name}`" if has_adapter(run_dir) else
                     f"training then starts from the base model (`{name}` left no LoRA adapter to continue)")
        text = (f"**Improve `{name}`**: it got {len(failing)} of {len(result['cases'])} held-out rows wrong. I turned "
                f"{len(notes)} of them into error notes for the next batch (each names the failure and the correct "
                "answer; see **Error notes** in the Data studio) and I'm drafting that batch now. Review it as "
                "usual; when you submit it I build a new dataset version (the held-out rows stay out of it), "
                f"{continues}, and the evaluation compares the two on the same held-out rows.")
        improvement = {"run_dir": run_dir, "eval_file": result.get("eval_file"), "failing": len(failing),
                       "choices": round_choices(state), "batch_id": None, "step": "drafting"}
        return {"messages": [say(text)], "improvement": improvement}


def round_change(result: dict, previous: dict | None) -> dict | None:
    """Row by row, what this round changed against the run it continued: rows fixed, rows broken, rows still
    wrong (indices into the eval rows). None when there is no earlier round or its rows were not the same."""
    if not previous or "cases" not in result or "cases" not in previous:
        return None
    before = {c["index"]: c for c in previous["cases"]}
    now = {c["index"]: c for c in result["cases"]}
    same_rows = (previous.get("eval_file") == result.get("eval_file") and before.keys() == now.keys()
                 and all(before[i]["prompt"] == now[i]["prompt"] for i in now))
    if not same_rows:
        return {"same_rows": False, "previous_eval_file": previous.get("eval_file")}
    scored = [i for i in sorted(now) if "near_twin" not in (now[i].get("kinds") or [])]
    return {"same_rows": True, "scored": len(scored),
            "fixed": [i for i in scored if now[i]["correct"] and not before[i]["correct"]],
            "broken": [i for i in scored if before[i]["correct"] and not now[i]["correct"]],
            "still_wrong": [i for i in scored if not now[i]["correct"] and not before[i]["correct"]],
            "right_before": sum(bool(before[i]["correct"]) for i in scored),
            "right_now": sum(bool(now[i]["correct"]) for i in scored)}


def previous_evaluation(result: dict) -> dict | None:
    """eval.json of the run this round continued from (result["previous_run"]), when it is there."""
    return read_result(result["previous_run"]) if result.get("previous_run") else None


def row_numbers(indices: list[int], shown: int = 12) -> str:
    """Eval rows as the tables number them (#1 is the first)."""
    return ", ".join(f"#{i + 1}" for i in indices[:shown]) + (" …" if len(indices) > shown else "")


def round_change_markdown(result: dict) -> str:
    """Previous vs now in sentences, from result["round_change"] (empty when this is no later round)."""
    change = result.get("round_change")
    if not change:
        return ""
    previous = Path(result.get("previous_run") or "previous run").name
    if not change["same_rows"]:
        return (f"**Previous vs now**: `{previous}` was scored on other rows (`{change['previous_eval_file']}`), so "
                "only the metrics below compare the two, on this round's rows.")
    lines = [f"**Previous vs now, on the same {change['scored']} held-out rows**: `{previous}` got "
             f"{change['right_before']} right, this round {change['right_now']}."]
    if change["fixed"]:
        lines.append(f"- Fixed: {len(change['fixed'])} row(s) it got wrong before ({row_numbers(change['fixed'])}).")
    if change["broken"]:
        lines.append(f"- Newly wrong: {len(change['broken'])} row(s) it got right before "
                     f"({row_numbers(change['broken'])}).")
    if change["still_wrong"]:
        lines.append(f"- Still wrong: {len(change['still_wrong'])} row(s) ({row_numbers(change['still_wrong'])}); "
                     "**Improve** again turns them into the next batch.")
    return "\n".join(lines)


def route_after_improvement(state: AgentState) -> Literal["generate_samples", "wait_for_user", "review_batch",
                                                           "approve_training"]:
    return route_back(state) if state.get("stay") else "generate_samples"
