"""Every action at every pause: each is done, or refused with what to do first, and the journey keeps its place.

Positions are reached through the graph itself (no LLM: the guided mode), except a checked plan and a run in
flight, which are put in place with update_state as the node that makes them would leave them."""
import json

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agent.actions import APP_ACTIONS, Action, Reply
from agent.nodes import AgentDeps
from agent.routes import route_from_approval, route_from_review, route_from_wait
from agent.session import Session
from tools.dataset.schema import AlpacaSample
from tools.settings import Settings
from tools.training.config import TrainConfig

SEEDS = [AlpacaSample(instruction=f"Write a tagline for the {w} line", output=f"{w.title()}: built right.")
         for w in ("granite", "orchid", "falcon")]
BATCH = [AlpacaSample(instruction=f"Write a tagline for product {i}", output=f"Product {i}: made to last.")
         for i in range(4)]
TEXT_OF = {Action.TEXT: "What is LoRA?", Action.ANSWER: "Yes"}


def reply_for(action: Action) -> dict:
    reply = {"action": action.value, "text": TEXT_OF.get(action, action.value.replace("_", " ").title())}
    if action is Action.ANSWER:
        reply |= {"field": "custom_tone_behavior_style", "value": True}
    if action is Action.BASELINE:
        reply |= {"baseline": {"verdict": "good", "best": "few_shot", "scores": {"zero_shot": 0.2, "few_shot": 0.9}}}
    return reply


@pytest.fixture
def make(tmp_path, monkeypatch):
    """Builds a fresh conversation at a named position; returns (session, thread_id)."""
    import tools.training.launch as launch

    launched = []
    monkeypatch.setattr(launch, "start_training", lambda config, **kw: launched.append(config) or
                        type("P", (), {"pid": 4242})())
    settings = Settings(tunesmith_workspace=tmp_path / "ws", _env_file=None)
    session = Session(settings, deps=AgentDeps(answer_question=lambda q, p, m: f"Answer: {q}",
                                               workspace=settings.workspace), checkpointer=InMemorySaver())

    def at(position: str):
        tid = session.new_conversation().thread_id
        if position == "interview":
            return session, tid
        session.send(tid, {"text": "Yes", "field": "custom_tone_behavior_style", "value": True})
        session.send(tid, {"text": "Hundreds", "field": "labeled_data", "value": "hundreds"})  # style + data: fine-tune
        session.send(tid, {"text": "Recommend now", "action": "recommend"})
        if position == "recommended":
            return session, tid
        session.send(tid, {"text": "Start this path", "action": "start_path"})
        session.store.save_project(tid, "Write taglines.", SEEDS, target_count=4)
        if position == "seeds":
            return session, tid
        session.store.add_batch(tid, BATCH)  # drafted elsewhere (e.g. `tunesmith studio`): the graph adopts it
        session.send(tid, {"text": "Generate a batch", "action": "generate"})
        if position == "review":
            return session, tid
        batch = session.store.open_batch(tid)
        session.store.bulk([s.id for s in session.store.batch_samples(batch.id)], "approve")
        # submitted in the Data studio with its build settings: the target reached builds the dataset
        session.submit_batch(tid, {"fmt": "alpaca", "eval_fraction": 0.1, "system": "", "include_seeds": True})
        if position == "dataset":
            return session, tid
        view = session.view(tid)
        config = TrainConfig(base_model=str(tmp_path / "model"), data_dir=view.dataset_dir,
                             out_dir=session.workspace.next_run_dir(tid)).model_dump(mode="json")
        plan = {"config": config, "preflight": {"ok": True, "checks": []}, "markdown": "**Preflight** — GO"}
        session.graph.update_state(session._config(tid), {"training_plan": plan, "stage": "training", "stay": False},
                                   as_node="prepare_training")
        session.graph.invoke(None, session._config(tid))
        if position == "approval":
            return session, tid
        run = tmp_path / "ws" / "projects" / tid / "runs" / "run-1"
        run.mkdir(parents=True)
        (run / "progress.jsonl").write_text(json.dumps({"event": "log", "step": 3, "max_steps": 10}) + "\n")
        (run / "trainer.pid").write_text("999999999")  # no such process: the trainer died
        (run / "config.json").write_text(json.dumps({**config, "out_dir": str(run)}))
        session.graph.update_state(session._config(tid), {"run_dir": str(run), "run_phase": "training",
                                                          "stage": "training"}, as_node="start_training")
        session.graph.invoke(None, session._config(tid))
        if position == "training":
            return session, tid
        (run / "progress.jsonl").write_text(json.dumps({"event": "done", "step": 10, "max_steps": 10}) + "\n")
        session.graph.update_state(session._config(tid), {"run_phase": "finished", "stage": "done",
                                                          "evaluation": EVALUATION}, as_node="record_evaluation")
        session.graph.invoke(None, session._config(tid))
        return session, tid

    at.launched = launched
    return at


POSITIONS = {"interview": ("wait_for_user", "chat"), "recommended": ("wait_for_user", "chat"),
             "seeds": ("wait_for_user", "chat"), "review": ("review_batch", "review"),
             "dataset": ("wait_for_user", "chat"), "approval": ("approve_training", "approve_training"),
             "training": ("wait_for_user", "chat"), "evaluated": ("wait_for_user", "chat")}
# a finished run's evaluation with one held-out row wrong (the rest of eval.json does not matter here)
EVALUATION = {"eval_file": "eval.json", "samples": 2, "cases": [
    {"index": 0, "instruction": "Tagline for the cedar line", "input": "", "prompt": "Tagline for the cedar line",
     "reference": "Cedar: built right.", "answer": "Cedar: built right.", "correct": True, "kinds": []},
    {"index": 1, "instruction": "Tagline for the maple line", "input": "", "prompt": "Tagline for the maple line",
     "reference": "Maple: built right.", "answer": "Cedar: built right.", "correct": False,
     "kinds": ["wrong_content"]}]}

# What each action must lead to, where it is not "done as asked": (pause kind after, words in the last message).
REFUSED = {
    ("review", Action.GENERATE): ("review", "Batch 1 is still open for review"),
    ("review", Action.BUILD_DATASET): ("review", "then build the dataset"),
    ("review", Action.PREPARE_TRAINING): ("review", "Submit batch"),
    ("review", Action.APPROVE): ("review", "Submit batch"),
    ("review", Action.RECOMMEND): ("review", "Submit batch"),
    ("seeds", Action.APPROVE): ("chat", "build the dataset in the **Data studio** first"),
    ("dataset", Action.APPROVE): ("chat", "press **Check and propose** first"),
    ("recommended", Action.APPROVE): ("chat", "build the dataset"),
    ("training", Action.APPROVE): ("chat", "run-1"),
    ("seeds", Action.SUBMIT): ("chat", "No batch is waiting for review"),
    ("approval", Action.REVISE): ("approve_training", "Until then, **Start training** uses the plan above"),
    ("training", Action.PREPARE_TRAINING): ("chat", "wait for its report"),
    # Improve needs an evaluation with failing rows: before one, it changes nothing and says so
    **{(position, Action.IMPROVE): (pause, "There is no evaluated model to improve yet")
       for position, pause in (("interview", "chat"), ("recommended", "chat"), ("seeds", "chat"),
                               ("dataset", "chat"), ("approval", "approve_training"))},
    ("review", Action.IMPROVE): ("review", "then **Improve** drafts the next batch"),
    ("training", Action.IMPROVE): ("chat", "`run-1` is still training"),
    ("evaluated", Action.IMPROVE): ("chat", "none is configured"),  # no LLM here to draft the batch
    ("evaluated", Action.RESUME_RUN): ("chat", "`run-1` has finished: there is nothing to resume"),
    ("evaluated", Action.APPROVE): ("chat", "press **Check and propose** first"),
}


@pytest.mark.parametrize("position", list(POSITIONS))
def test_every_action_at_every_pause(make, position):
    for action in Action:
        session, tid = make(position)
        before = session.view(tid)
        assert before.pause == POSITIONS[position][1] and before.waiting
        if action in APP_ACTIONS:
            assert session._deliver(tid, Reply(action=action))
        else:
            session.send(tid, reply_for(action))
        after = session.view(tid)
        assert after.waiting, f"{action} at {position} left the conversation not paused"
        said = after.messages[-1]["content"]
        if (position, action) in REFUSED:
            pause, words = REFUSED[(position, action)]
            assert after.pause == pause and words in said, (position, action, after.pause, said)
            assert after.stage == before.stage, f"{action} at {position} moved the journey"
        if action is Action.TEXT:
            assert said == "Answer: What is LoRA?" and after.pause == before.pause and after.stage == before.stage
        if action is Action.BASELINE and position not in ("interview", "recommended"):
            assert after.stage == before.stage and after.pause == before.pause and "You stay at this step" in said


def test_check_and_propose_again_at_the_approval_pause_re_proposes(make):
    session, tid = make("approval")
    view = session.send(tid, {"action": "prepare_training", "text": "Check and propose", "tab": "Training",
                              "config": {"base_model": "/nowhere/model", "lora_r": 8}})
    # the new settings were checked (and refused for the missing model), not answered as a question
    assert view.messages[-2] == {"role": "system", "content": "You pressed **Check and propose** in the Training tab."}
    assert "Answer:" not in view.messages[-1]["content"]
    assert view.messages[-1]["content"].startswith(("**Preflight**", "⚠️"))


def test_start_training_at_approval_starts_the_checked_plan(make):
    session, tid = make("approval")
    view = session.send(tid, {"action": "approve", "text": "Start training"})
    assert "Training started (process 4242)" in view.messages[-1]["content"] and view.run_phase == "training"
    assert len(make.launched) == 1


def test_a_dead_trainer_is_recorded_once_as_a_system_event(make):
    session, tid = make("training")
    assert session.watch_runs_once() == [tid]
    view = session.view(tid)
    assert view.messages[-1]["role"] == "system" and "stopped without a final report at step 3/10" in \
        view.messages[-1]["content"]
    assert view.run_phase == "stopped" and view.stage == "training"
    assert session.watch_runs_once() == []  # recorded once


def test_resume_says_it_restarts_from_step_zero_without_a_checkpoint(make):
    session, tid = make("training")
    session.watch_runs_once()
    view = session.send(tid, {"action": "resume_run", "text": "Resume", "tab": "Training"})
    assert "from step 0: no complete checkpoint had been saved" in view.messages[-1]["content"]
    assert view.run_phase == "training" and len(make.launched) == 1 and make.launched[0].out_dir.name == "run-1"


def test_each_pause_routes_every_action_and_refuses_unknown_ones():
    for route in (route_from_wait, route_from_review, route_from_approval):
        for action in Action:
            state = {"last_reply": {"action": action.value, "text": "x", "field": "f", "value": 1},
                     "stage": "interview", "recommendation": {"approach": "icl"}}
            assert isinstance(route(state), str)
    with pytest.raises(ValueError, match="not a known reply"):
        route_from_wait({"last_reply": {"action": "training_finished", "text": "Training finished"}})
    session_free = Reply(action=Action.RUN_ENDED)
    assert session_free.by_app
