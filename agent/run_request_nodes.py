"""What a person can ask of the last run in words, from any pause: its evaluation again (or where it stands),
trying the tuned model on an input, and exporting it. The Training tab does the same with its buttons."""
from __future__ import annotations

from pathlib import Path

from agent.actions import last_reply
from agent.state import AgentState, say


def unfinished_run(state: AgentState) -> str | None:
    """Why there is no finished run to use yet (None: there is one)."""
    run_dir, phase = state.get("run_dir"), state.get("run_phase")
    if not run_dir:
        return ("There is no trained model yet: build the dataset, then type **check and propose training** and "
                "**start training**; its evaluation follows here when the run ends.")
    name = Path(run_dir).name
    if phase in ("training", "evaluating"):
        return (f"`{name}` is still {phase}: its evaluation starts by itself when training ends, and the report "
                "follows here (follow it in the **Training** tab).")
    if phase == "stopped":
        return f"`{name}` stopped before the end: type **resume the run** to continue it, or propose a new one."
    return None


class RunRequestNodes:
    def report_evaluation(self, state: AgentState) -> dict:
        """The last evaluation's report again, or why there is none."""
        from agent.training_nodes import evaluation_report
        from tools.training.run_folder import read_evaluation

        if why := unfinished_run(state):
            return {"messages": [say(why)], "stay": True}
        run_dir = state["run_dir"]
        if not state.get("evaluation"):
            why = read_evaluation(Path(run_dir)).failure or "no report was written"
            return {"messages": [say(f"The evaluation of `{Path(run_dir).name}` failed: {why}")], "stay": True}
        return {"messages": [say(evaluation_report(state["evaluation"], Path(run_dir).name))], "stay": True}

    def try_model(self, state: AgentState) -> dict:
        """The tuned model's answer to the typed input (`try: ...`), or where to type one."""
        from agent.run_desk import RunDesk

        if why := unfinished_run(state):
            return {"messages": [say(why)], "stay": True}
        prompt = (last_reply(state).value or "").strip()
        name = Path(state["run_dir"]).name
        if not prompt:
            return {"messages": [say(f"Type the input after **try:** (for example `try: {{your input}}`) and I'll "
                                      f"answer it with `{name}`; the **Training** tab's Try it does the same.")],
                    "stay": True}
        answer = RunDesk.try_tuned(state["run_dir"], prompt)  # escaped there: model output shows as text
        return {"messages": [say(f"`{name}` answered:\n\n{answer}")], "stay": True}

    def export_model(self, state: AgentState) -> dict:
        """The last run's adapter (with merged weights when asked) and its serving files."""
        from agent.run_desk import RunDesk

        if why := unfinished_run(state):
            return {"messages": [say(why)], "stay": True}
        note, _ = RunDesk.export(state["run_dir"], merge=last_reply(state).value == "merged")
        return {"messages": [say(note)], "stay": True}
