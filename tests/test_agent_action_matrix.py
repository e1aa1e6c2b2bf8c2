"""Every action at every pause: each is done, or refused with what to do first, and the journey keeps its place.

Positions are reached through the graph itself (no LLM: the guided mode), except a checked plan and a run in
flight, which are put in place with update_state as the node that makes them would leave them."""
import json

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agent.actions import APP_ACTIONS, Action, Reply, parse_reply
from agent.nodes import AgentDeps
from agent.routes import route_from_approval, route_from_review, route_from_wait
from agent.session import Session
from tests.fakes import ScriptedChatModel
from tools.dataset.schema import AlpacaSample
from tools.dataset.versions import list_versions, versions_root
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
EVALUATION = {"eval_file": "eval.json", "samples": 2, "base": {"exact_match": 0.0}, "tuned": {"exact_match": 0.5},
              "cases": [
    {"index": 0, "instruction": "Tagline for the cedar line", "input": "", "prompt": "Tagline for the cedar line",
     "reference": "Cedar: built right.", "answer": "Cedar: built right.", "correct": True, "kinds": []},
    {"index": 1, "instruction": "Tagline for the maple line", "input": "", "prompt": "Tagline for the maple line",
     "reference": "Maple: built right.", "answer": "Cedar: built right.", "correct": False,
     "kinds": ["wrong_content"]}]}

# What each action leads to at each position: what changed (facts() before vs after; nothing else may change) and
# words of the last message (None: no message, as when the app's own news finds nothing to record).
# Without an LLM here: drafting a batch and Improve say that they need one.
OUTCOMES = {
    ('interview', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('interview', Action.ANSWER): ({'profile': 1}, 'Yes'),
    ('interview', Action.SKIP): ({}, 'How often does that knowledge'),
    ('interview', Action.RECOMMEND): ({'stage': 'recommended', 'approach': 'icl'}, '**My recommendation: In-context'),
    ('interview', Action.START_PATH): ({'stage': 'recommended', 'approach': 'icl'}, '**My recommendation: In-context'),
    ('interview', Action.START_FINETUNE): ({'stage': 'seeds'}, '**Parameter-efficient fine-tuning'),
    ('interview', Action.GENERATE): ({}, 'Add your task and a few seed'),
    ('interview', Action.SUBMIT): ({}, 'No batch is waiting for review:'),
    ('interview', Action.BUILD_DATASET): ({}, 'There are no accepted samples yet:'),
    ('interview', Action.IMPROVE): ({}, 'There is no evaluated model to'),
    ('interview', Action.PREPARE_TRAINING): ({}, 'Build the dataset first (Data'),
    ('interview', Action.APPROVE): ({}, 'There is nothing to train on yet:'),
    ('interview', Action.REVISE): ({}, 'Change the settings in the'),
    ('interview', Action.BASELINE): (
        {'stage': 'recommended', 'approach': 'icl', 'baseline': True}, '**My recommendation: In-context'),
    ('interview', Action.RESUME_RUN): ({}, 'There is no run yet: there is'),
    ('interview', Action.CANCEL_RUN): ({}, 'Nothing is training right now.'),
    ('interview', Action.RUN_ENDED): ({}, None),
    ('interview', Action.EVALUATED): ({}, None),
    ('interview', Action.EVALUATE): ({}, 'There is no trained model yet:'),
    ('interview', Action.TRY): ({}, 'There is no trained model yet:'),
    ('interview', Action.EXPORT): ({}, 'There is no trained model yet:'),
    ('recommended', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('recommended', Action.ANSWER): ({}, 'That is what I already had, so the'),
    ('recommended', Action.SKIP): ({}, 'There is no question waiting for an'),
    ('recommended', Action.RECOMMEND): ({}, '**My recommendation:'),
    ('recommended', Action.START_PATH): ({'stage': 'seeds'}, '**Parameter-efficient fine-tuning'),
    ('recommended', Action.START_FINETUNE): ({'stage': 'seeds'}, '**Parameter-efficient fine-tuning'),
    ('recommended', Action.GENERATE): ({}, 'Add your task and a few seed'),
    ('recommended', Action.SUBMIT): ({}, 'No batch is waiting for review:'),
    ('recommended', Action.BUILD_DATASET): ({}, 'There are no accepted samples yet:'),
    ('recommended', Action.IMPROVE): ({}, 'There is no evaluated model to'),
    ('recommended', Action.PREPARE_TRAINING): ({}, 'Build the dataset first (Data'),
    ('recommended', Action.APPROVE): ({}, 'There is nothing to train on yet:'),
    ('recommended', Action.REVISE): ({}, 'Change the settings in the'),
    ('recommended', Action.BASELINE): ({'approach': 'icl', 'baseline': True}, '**My recommendation: In-context'),
    ('recommended', Action.RESUME_RUN): ({}, 'There is no run yet: there is'),
    ('recommended', Action.CANCEL_RUN): ({}, 'Nothing is training right now.'),
    ('recommended', Action.RUN_ENDED): ({}, None),
    ('recommended', Action.EVALUATED): ({}, None),
    ('recommended', Action.EVALUATE): ({}, 'There is no trained model yet:'),
    ('recommended', Action.TRY): ({}, 'There is no trained model yet:'),
    ('recommended', Action.EXPORT): ({}, 'There is no trained model yet:'),
    ('seeds', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('seeds', Action.ANSWER): ({}, 'There is no question waiting for an'),
    ('seeds', Action.SKIP): ({}, 'There is no question waiting for an'),
    ('seeds', Action.RECOMMEND): ({'stage': 'recommended'}, '**My recommendation:'),
    ('seeds', Action.START_PATH): ({}, '**Parameter-efficient fine-tuning'),
    ('seeds', Action.START_FINETUNE): ({}, '**Parameter-efficient fine-tuning'),
    ('seeds', Action.GENERATE): ({}, 'Drafting samples needs an LLM'),
    ('seeds', Action.SUBMIT): ({}, 'No batch is waiting for review:'),
    ('seeds', Action.BUILD_DATASET): ({'stage': 'dataset', 'versions': 1}, 'Dataset version **v001-reviewed**'),
    ('seeds', Action.IMPROVE): ({}, 'There is no evaluated model to'),
    ('seeds', Action.PREPARE_TRAINING): ({}, 'Build the dataset first (Data'),
    ('seeds', Action.APPROVE): ({}, 'There is nothing to train on yet:'),
    ('seeds', Action.REVISE): ({}, 'Change the settings in the'),
    ('seeds', Action.BASELINE): ({'approach': 'icl', 'baseline': True}, 'Measured zero-shot vs few-shot:'),
    ('seeds', Action.RESUME_RUN): ({}, 'There is no run yet: there is'),
    ('seeds', Action.CANCEL_RUN): ({}, 'Nothing is training right now.'),
    ('seeds', Action.RUN_ENDED): ({}, None),
    ('seeds', Action.EVALUATED): ({}, None),
    ('seeds', Action.EVALUATE): ({}, 'There is no trained model yet:'),
    ('seeds', Action.TRY): ({}, 'There is no trained model yet:'),
    ('seeds', Action.EXPORT): ({}, 'There is no trained model yet:'),
    ('review', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('review', Action.ANSWER): ({}, 'Batch 1 is still open for review:'),
    ('review', Action.SKIP): ({}, 'Batch 1 is still open for review:'),
    ('review', Action.RECOMMEND): ({}, 'Batch 1 is still open for review:'),
    ('review', Action.START_PATH): ({}, 'Batch 1 is still open for review:'),
    ('review', Action.START_FINETUNE): ({}, 'Batch 1 is still open for review:'),
    ('review', Action.GENERATE): ({}, 'Batch 1 is still open for review:'),
    ('review', Action.SUBMIT): ({}, '4 sample(s) still need a decision;'),
    ('review', Action.BUILD_DATASET): ({}, 'Batch 1 is still open for review:'),
    ('review', Action.IMPROVE): ({}, 'Batch 1 is still open for review:'),
    ('review', Action.PREPARE_TRAINING): ({}, 'Batch 1 is still open for review:'),
    ('review', Action.APPROVE): ({}, 'Batch 1 is still open for review:'),
    ('review', Action.REVISE): ({}, 'Batch 1 is still open for review:'),
    ('review', Action.BASELINE): ({'approach': 'icl', 'baseline': True}, 'Measured zero-shot vs few-shot:'),
    ('review', Action.RESUME_RUN): ({}, 'There is no run yet: there is'),
    ('review', Action.CANCEL_RUN): ({}, 'Nothing is training right now.'),
    ('review', Action.RUN_ENDED): ({}, None),
    ('review', Action.EVALUATED): ({}, None),
    ('review', Action.EVALUATE): ({}, 'There is no trained model yet:'),
    ('review', Action.TRY): ({}, 'There is no trained model yet:'),
    ('review', Action.EXPORT): ({}, 'There is no trained model yet:'),
    ('dataset', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('dataset', Action.ANSWER): ({}, 'There is no question waiting for an'),
    ('dataset', Action.SKIP): ({}, 'There is no question waiting for an'),
    ('dataset', Action.RECOMMEND): ({'stage': 'recommended'}, '**My recommendation:'),
    ('dataset', Action.START_PATH): ({'stage': 'seeds'}, '**Parameter-efficient fine-tuning'),
    ('dataset', Action.START_FINETUNE): ({'stage': 'seeds'}, '**Parameter-efficient fine-tuning'),
    ('dataset', Action.GENERATE): ({}, 'Drafting samples needs an LLM'),
    ('dataset', Action.SUBMIT): ({}, 'No batch is waiting for review:'),
    ('dataset', Action.BUILD_DATASET): ({'versions': 2}, 'Dataset version **v002-reviewed**'),
    ('dataset', Action.IMPROVE): ({}, 'There is no evaluated model to'),
    ('dataset', Action.PREPARE_TRAINING): (
        {'pause': 'approve_training', 'stage': 'training', 'plan': 'gemma-3-270m'}, '**Method: lora**'),
    ('dataset', Action.APPROVE): ({}, 'There is no checked plan to start'),
    ('dataset', Action.REVISE): ({}, 'Change the settings in the'),
    ('dataset', Action.BASELINE): ({'approach': 'icl', 'baseline': True}, 'Measured zero-shot vs few-shot:'),
    ('dataset', Action.RESUME_RUN): ({}, 'There is no run yet: there is'),
    ('dataset', Action.CANCEL_RUN): ({}, 'Nothing is training right now.'),
    ('dataset', Action.RUN_ENDED): ({}, None),
    ('dataset', Action.EVALUATED): ({}, None),
    ('dataset', Action.EVALUATE): ({}, 'There is no trained model yet:'),
    ('dataset', Action.TRY): ({}, 'There is no trained model yet:'),
    ('dataset', Action.EXPORT): ({}, 'There is no trained model yet:'),
    ('approval', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('approval', Action.ANSWER): ({}, 'There is no question waiting for an'),
    ('approval', Action.SKIP): ({}, 'There is no question waiting for an'),
    ('approval', Action.RECOMMEND): ({'pause': 'chat', 'stage': 'recommended'}, '**My recommendation:'),
    ('approval', Action.START_PATH): ({'pause': 'chat', 'stage': 'seeds'}, '**Parameter-efficient fine-tuning'),
    ('approval', Action.START_FINETUNE): ({'pause': 'chat', 'stage': 'seeds'}, '**Parameter-efficient fine-tuning'),
    ('approval', Action.GENERATE): ({}, 'Drafting samples needs an LLM'),
    ('approval', Action.SUBMIT): ({}, 'No batch is waiting for review:'),
    ('approval', Action.BUILD_DATASET): (
        {'pause': 'chat', 'stage': 'dataset', 'versions': 2, 'plan': None}, 'Dataset version **v002-reviewed**'),
    ('approval', Action.IMPROVE): ({}, 'There is no evaluated model to'),
    ('approval', Action.PREPARE_TRAINING): ({'plan': 'gemma-3-270m'}, '**Method: lora** (no GPU'),
    ('approval', Action.APPROVE): (
        {'pause': 'chat', 'run_phase': 'training', 'launched': 1}, 'Training started (process 4242)'),
    ('approval', Action.REVISE): ({}, 'Change the settings in the'),
    ('approval', Action.BASELINE): ({'approach': 'icl', 'baseline': True}, 'Measured zero-shot vs few-shot:'),
    ('approval', Action.RESUME_RUN): ({}, 'There is no run yet: there is'),
    ('approval', Action.CANCEL_RUN): ({}, 'Nothing is training right now.'),
    ('approval', Action.RUN_ENDED): ({}, None),
    ('approval', Action.EVALUATED): ({}, None),
    ('approval', Action.EVALUATE): ({}, 'There is no trained model yet:'),
    ('approval', Action.TRY): ({}, 'There is no trained model yet:'),
    ('approval', Action.EXPORT): ({}, 'There is no trained model yet:'),
    ('training', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('training', Action.ANSWER): ({}, 'There is no question waiting for an'),
    ('training', Action.SKIP): ({}, 'There is no question waiting for an'),
    ('training', Action.RECOMMEND): ({'stage': 'recommended'}, '**My recommendation:'),
    ('training', Action.START_PATH): ({'stage': 'seeds'}, '**Parameter-efficient fine-tuning'),
    ('training', Action.START_FINETUNE): ({'stage': 'seeds'}, '**Parameter-efficient fine-tuning'),
    ('training', Action.GENERATE): ({}, 'Drafting samples needs an LLM'),
    ('training', Action.SUBMIT): ({}, 'No batch is waiting for review:'),
    ('training', Action.BUILD_DATASET): (
        {'stage': 'dataset', 'versions': 2, 'plan': None}, 'Dataset version **v002-reviewed**'),
    ('training', Action.IMPROVE): ({}, '`run-1` is still training:'),
    ('training', Action.PREPARE_TRAINING): ({}, '`run-1` is still training: wait for'),
    ('training', Action.APPROVE): ({}, '`run-1` is already training: follow'),
    ('training', Action.REVISE): ({}, 'Change the settings in the'),
    ('training', Action.BASELINE): ({'approach': 'icl', 'baseline': True}, 'Measured zero-shot vs few-shot:'),
    ('training', Action.RESUME_RUN): ({'launched': 1}, 'Resumed `run-1` from step 0: no'),
    ('training', Action.CANCEL_RUN): ({'run_phase': 'stopped'}, 'No trainer is running in'),
    ('training', Action.RUN_ENDED): ({'run_phase': 'stopped'}, 'The trainer of `run-1` stopped'),
    ('training', Action.EVALUATED): ({}, None),
    ('training', Action.EVALUATE): ({}, '`run-1` is still training: its'),
    ('training', Action.TRY): ({}, '`run-1` is still training: its'),
    ('training', Action.EXPORT): ({}, '`run-1` is still training: its'),
    ('evaluated', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('evaluated', Action.ANSWER): ({}, 'There is no question waiting for an'),
    ('evaluated', Action.SKIP): ({}, 'There is no question waiting for an'),
    ('evaluated', Action.RECOMMEND): ({'stage': 'recommended'}, '**My recommendation:'),
    ('evaluated', Action.START_PATH): ({'stage': 'seeds'}, '**Parameter-efficient fine-tuning'),
    ('evaluated', Action.START_FINETUNE): ({'stage': 'seeds'}, '**Parameter-efficient fine-tuning'),
    ('evaluated', Action.GENERATE): ({}, 'Drafting samples needs an LLM'),
    ('evaluated', Action.SUBMIT): ({}, 'No batch is waiting for review:'),
    ('evaluated', Action.BUILD_DATASET): (
        {'stage': 'dataset', 'versions': 2, 'plan': None}, 'Dataset version **v002-reviewed**'),
    ('evaluated', Action.IMPROVE): ({}, '**Improve** drafts the next batch'),
    ('evaluated', Action.PREPARE_TRAINING): (
        {'pause': 'approve_training', 'stage': 'training', 'plan': 'gemma-3-270m', 'run_phase': None,
         'evaluation': False}, '**Method: lora**'),
    ('evaluated', Action.APPROVE): ({}, 'There is no checked plan to start'),
    ('evaluated', Action.REVISE): ({}, 'Change the settings in the'),
    ('evaluated', Action.BASELINE): ({'approach': 'icl', 'baseline': True}, 'Measured zero-shot vs few-shot:'),
    ('evaluated', Action.RESUME_RUN): ({}, '`run-1` has finished: there is'),
    ('evaluated', Action.CANCEL_RUN): ({}, 'Nothing is training right now.'),
    ('evaluated', Action.RUN_ENDED): ({}, None),
    ('evaluated', Action.EVALUATED): ({}, None),
    ('evaluated', Action.EVALUATE): ({}, 'Training of `run-1` finished and'),
    ('evaluated', Action.TRY): ({}, 'Type the input after **try:** (for'),
    ('evaluated', Action.EXPORT): ({}, 'has no trained output yet'),
}


def facts(session, tid, launched: list) -> dict:
    """What an action can change: where the conversation waits, the journey's stage, batches, dataset versions,
    the plan, the run, the advice and what it rests on."""
    view = session.view(tid)
    project = session.store.get_project(tid)
    return {"pause": view.pause, "stage": view.stage, "batches": len(session.store.batches(tid)) if project else 0,
            "open": bool(project and session.store.open_batch(tid)),
            "versions": len(list_versions(versions_root(session.workspace.project_dir(tid)))),
            "plan": (view.training_plan or {}).get("config", {}).get("base_model"), "run_phase": view.run_phase,
            "launched": len(launched), "approach": (view.recommendation or {}).get("approach"),
            "profile": len(view.profile), "baseline": bool(view.baseline), "evaluation": bool(view.evaluation)}


@pytest.fixture
def checked_plans(monkeypatch):
    """Check and propose without loading a model: every preflight passes (its checks are tested on their own)."""
    import tools.training.preflight as preflight

    monkeypatch.setattr(preflight, "run_preflight", lambda config, **kw: preflight.PreflightReport(ok=True, checks=[]))


def test_the_outcome_table_covers_every_action_at_every_position():
    assert set(OUTCOMES) == {(position, action) for position in POSITIONS for action in Action}


@pytest.mark.parametrize("position", list(POSITIONS))
def test_every_action_at_every_pause(make, checked_plans, position):
    for action in Action:
        session, tid = make(position)
        before, shown = facts(session, tid, make.launched), len(session.view(tid).messages)
        assert before["pause"] == POSITIONS[position][1] and session.view(tid).waiting
        if action in APP_ACTIONS:
            assert session._deliver(tid, Reply(action=action))
        else:
            session.send(tid, reply_for(action))
        after, view = facts(session, tid, make.launched), session.view(tid)
        assert view.waiting, f"{action} at {position} left the conversation not paused"
        changed, words = OUTCOMES[(position, action)]
        assert {k: v for k, v in after.items() if before[k] != v} == changed, (position, action)
        if words is None:
            assert len(view.messages) == shown, (position, action, view.messages[-1])
        else:
            assert words in view.messages[-1]["content"], (position, action, view.messages[-1]["content"])


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


# --- typed words: the same steps, at every pause ------------------------------------------------------------
# Words a person types, each asking for one step: the phrase table maps them without an LLM.
TYPED = {"please generate the next batch": Action.GENERATE, "Draft another batch.": Action.GENERATE,
         "Can you submit the batch?": Action.SUBMIT, "build the dataset now": Action.BUILD_DATASET,
         "check and propose training": Action.PREPARE_TRAINING, "start training": Action.APPROVE,
         "change settings": Action.REVISE, "stop the run": Action.CANCEL_RUN, "resume the run": Action.RESUME_RUN,
         "evaluate it": Action.EVALUATE, "improve the model": Action.IMPROVE, "let me try it": Action.TRY,
         "export the model": Action.EXPORT, "ok, start this path": Action.START_PATH,
         "recommend now": Action.RECOMMEND}
# Wordings no phrase matches: only an LLM's reading (the extraction schema's requested_step, scripted here) maps them.
LLM_WORDED = {"could you whip up twenty fresh examples for me to look at": Action.GENERATE,
              "I've finished going through these, send them in": Action.SUBMIT,
              "turn what we have into training data": Action.BUILD_DATASET,
              "see whether the settings would work and suggest a run": Action.PREPARE_TRAINING,
              "kick it off, go train": Action.APPROVE, "halt whatever is running": Action.CANCEL_RUN,
              "how well does the tuned one do, show me": Action.EVALUATE,
              "learn from the mistakes it made": Action.IMPROVE, "I'd like to play with the tuned one": Action.TRY,
              "package it up so I can serve it": Action.EXPORT}


def send_typed(session, tid, words: str, reading: dict | None = None):
    """Types words into the chat; with `reading`, an LLM reads them (scripted: what the extraction returns)."""
    model = ScriptedChatModel(script=[reading]) if reading is not None else None
    session.deps.chat_model = model
    try:
        session.send(tid, {"text": words})
    finally:
        session.deps.chat_model = None  # the next position is built in the guided mode
    assert model is None or not model.script, "the LLM was not asked to read the words"


def assert_outcome(session, tid, before, shown, launched, position, action, words):
    after, view = facts(session, tid, launched), session.view(tid)
    changed, said = OUTCOMES[(position, action)]
    assert view.waiting and view.messages[shown] == {"role": "user", "content": words}, (position, words)
    assert {k: v for k, v in after.items() if before[k] != v} == changed, (position, words)
    assert said is not None and said in view.messages[-1]["content"], (position, words, view.messages[-1])


@pytest.mark.parametrize("position", list(POSITIONS))
@pytest.mark.parametrize("with_llm", [False, True], ids=["phrase table", "LLM"])
def test_typed_steps_do_what_their_buttons_do_at_every_pause(make, checked_plans, position, with_llm):
    """Each step asked for in words ends as its button's action does there: the same change, the same reply."""
    wordings = LLM_WORDED if with_llm else TYPED
    for words, action in wordings.items():
        session, tid = make(position)
        before, shown = facts(session, tid, make.launched), len(session.view(tid).messages)
        send_typed(session, tid, words, {"requested_step": action.value} if with_llm else None)
        assert_outcome(session, tid, before, shown, make.launched, position, action, words)


SWITCHED = {"interview": ("chat", "rag"), "recommended": ("chat", "rag"), "seeds": ("chat", "rag"),
            "review": ("review", "review"), "dataset": ("chat", "rag"), "approval": ("chat", "rag"),
            "training": ("chat", "rag"), "evaluated": ("chat", "rag")}


@pytest.mark.parametrize("with_llm", [False, True], ids=["phrase table", "LLM"])
def test_switch_to_rag_in_words_starts_that_path_wherever_the_person_is(make, with_llm):
    for position, (pause, stage) in SWITCHED.items():
        session, tid = make(position)
        words = "switch to RAG" if not with_llm else "actually let's go the retrieval way"
        send_typed(session, tid, words, {"requested_step": "start_path", "requested_path": "rag"} if with_llm
                   else None)
        view = session.view(tid)
        assert (view.pause, view.stage) == (pause, stage), position
        said = view.messages[-1]["content"]
        if position == "review":
            assert "Batch 1 is still open for review" in said
        else:
            assert said.startswith("**Retrieval-augmented generation (RAG)**") and "Retrieval** tab" in said
        if position not in ("interview", "review"):  # the advice was fine-tuning: the person's choice is said
            assert "(your choice; I recommended Parameter-efficient fine-tuning (QLoRA))" in said


QUESTION, UNMAPPED = "how do I build a dataset?", "the weather is lovely today"
OFFERED = {"recommended": "**start this path**", "seeds": "**generate a batch**, **build the dataset**",
           "review": "**submit the batch**", "dataset": "**check and propose training**",
           "approval": "**start training**", "training": "**stop the run**",
           "evaluated": "**improve the model**, **evaluate it**, **try: <your input>**, **export the model**"}


@pytest.mark.parametrize("with_llm", [False, True], ids=["phrase table", "LLM"])
def test_questions_are_answered_and_unmapped_words_get_what_can_be_done_from_here(make, with_llm):
    for position in POSITIONS:
        for words, reading in ((QUESTION, {"user_question": QUESTION}), (UNMAPPED, {})):
            session, tid = make(position)
            before, shown = facts(session, tid, make.launched), len(session.view(tid).messages)
            send_typed(session, tid, words, reading if with_llm else None)
            view = session.view(tid)
            assert facts(session, tid, make.launched) == before, (position, words)
            assert view.messages[shown]["content"] == words and len(view.messages) == shown + 2, (position, words)
            said = view.messages[-1]["content"]
            if words == QUESTION:
                assert said == f"Answer: {QUESTION}", position
            elif position == "interview":  # the interview goes on: how to answer (guided), or the next question
                assert view.messages[-1]["role"] == "assistant" and said != view.messages[shown - 1]["content"]
            else:
                assert said.startswith("I couldn't map that to a step. From here you can type"), (position, said)
                assert OFFERED[position] in said, (position, said)


def test_try_and_export_in_words_use_the_finished_run(make, monkeypatch):
    import tools.training.inference as inference
    from agent.run_desk import RunDesk

    asked = []
    monkeypatch.setattr(inference, "try_run", lambda run, prompt, **kw: (asked.append(prompt) or
                                                                         "<b>Cedar</b>: built right.", ""))
    monkeypatch.setattr(RunDesk, "export", staticmethod(lambda run, merge: asked.append(merge) or
                                                        (f"Exported to `{run}/export-merged`.", [])))
    session, tid = make("evaluated")
    view = session.send(tid, {"text": "try: Write a tagline for the Cedar line"})
    assert asked == ["Write a tagline for the Cedar line"]  # the person's input as typed, case kept
    assert view.messages[-1]["content"] == "`run-1` answered:\n\n&lt;b&gt;Cedar&lt;/b&gt;: built right."
    view = session.send(tid, {"text": "Please export the merged model."})
    assert asked[-1] is True and "export-merged" in view.messages[-1]["content"]


@pytest.mark.parametrize("words", ["please generate the next batch", "draft another batch", "Generate a batch!",
                                   "can you make a new batch?", "build the dataset now", "Let's build the dataset",
                                   "start training", "stop the run", "evaluate it", "let me try it",
                                   "export the model", "switch to RAG", "use prompting instead", "next round",
                                   "check and propose training", "OK, start this path"])
def test_phrasings_of_a_step_are_commands(words):
    assert parse_reply({"text": words}).action not in (Action.TEXT, Action.ANSWER)


@pytest.mark.parametrize("words", ["how do I build a dataset?", "What does evaluate mean?", "Should I start training?",
                                   "why did you stop the run", "is it time to export the model?", "Yes",
                                   "hundreds", "our docs change weekly", "the batch looks great",
                                   "can it generate a batch?", "I want to understand training"])
def test_questions_and_statements_are_not_commands(words):
    assert parse_reply({"text": words}).action is Action.TEXT


def test_the_llm_schema_names_exactly_the_steps_the_phrase_table_knows():
    from typing import get_args

    from agent.actions import TYPED_COMMANDS
    from agent.schemas import RequestedStep

    assert set(get_args(RequestedStep)) == {command.action.value for command in TYPED_COMMANDS}


def test_a_question_the_llm_reads_as_nothing_is_still_answered(make):
    session, tid = make("review")
    send_typed(session, tid, QUESTION, {})  # the extraction found no question and no step: it ends with '?'
    assert session.view(tid).messages[-1]["content"] == f"Answer: {QUESTION}"
