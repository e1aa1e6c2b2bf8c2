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
        session.send(tid, {"text": "Submit batch", "action": "submit"})
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
    ('interview', Action.SKIP): ({}, 'How often does that knowledge change?'),
    ('interview', Action.RECOMMEND): ({'stage': 'recommended', 'approach': 'icl'}, '**My recommendation: In-context learning (promptin'),
    ('interview', Action.START_PATH): ({'stage': 'recommended', 'approach': 'icl'}, '**My recommendation: In-context learning (promptin'),
    ('interview', Action.START_FINETUNE): ({'stage': 'seeds'}, "**Parameter-efficient fine-tuning (QLoRA)**: let's"),
    ('interview', Action.GENERATE): ({}, 'Add your task and a few seed examples in the **Dat'),
    ('interview', Action.SUBMIT): ({}, 'No batch is waiting for review: press **Generate a'),
    ('interview', Action.BUILD_DATASET): ({}, 'There are no accepted samples yet: review a batch '),
    ('interview', Action.IMPROVE): ({}, 'There is no evaluated model to improve yet: train '),
    ('interview', Action.PREPARE_TRAINING): ({}, 'Build the dataset first (Data studio → Build), the'),
    ('interview', Action.APPROVE): ({}, 'There is nothing to train on yet: build the datase'),
    ('interview', Action.REVISE): ({}, 'Change the settings in the **Training** tab and pr'),
    ('interview', Action.BASELINE): ({'stage': 'recommended', 'approach': 'icl', 'baseline': True}, '**My recommendation: In-context learning (promptin'),
    ('interview', Action.RESUME_RUN): ({}, 'There is no run yet: there is nothing to resume.'),
    ('interview', Action.CANCEL_RUN): ({}, 'Nothing is training right now.'),
    ('interview', Action.RUN_ENDED): ({}, None),
    ('interview', Action.EVALUATED): ({}, None),
    ('interview', Action.EVALUATE): ({}, 'There is no trained model yet: build the dataset, '),
    ('interview', Action.TRY): ({}, 'There is no trained model yet: build the dataset, '),
    ('interview', Action.EXPORT): ({}, 'There is no trained model yet: build the dataset, '),
    ('recommended', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('recommended', Action.ANSWER): ({}, 'That is what I already had, so the advice stands. '),
    ('recommended', Action.SKIP): ({}, 'There is no question waiting for an answer right n'),
    ('recommended', Action.RECOMMEND): ({}, '**My recommendation: Parameter-efficient fine-tuni'),
    ('recommended', Action.START_PATH): ({'stage': 'seeds'}, "**Parameter-efficient fine-tuning (QLoRA)**: let's"),
    ('recommended', Action.START_FINETUNE): ({'stage': 'seeds'}, "**Parameter-efficient fine-tuning (QLoRA)**: let's"),
    ('recommended', Action.GENERATE): ({}, 'Add your task and a few seed examples in the **Dat'),
    ('recommended', Action.SUBMIT): ({}, 'No batch is waiting for review: press **Generate a'),
    ('recommended', Action.BUILD_DATASET): ({}, 'There are no accepted samples yet: review a batch '),
    ('recommended', Action.IMPROVE): ({}, 'There is no evaluated model to improve yet: train '),
    ('recommended', Action.PREPARE_TRAINING): ({}, 'Build the dataset first (Data studio → Build), the'),
    ('recommended', Action.APPROVE): ({}, 'There is nothing to train on yet: build the datase'),
    ('recommended', Action.REVISE): ({}, 'Change the settings in the **Training** tab and pr'),
    ('recommended', Action.BASELINE): ({'approach': 'icl', 'baseline': True}, '**My recommendation: In-context learning (promptin'),
    ('recommended', Action.RESUME_RUN): ({}, 'There is no run yet: there is nothing to resume.'),
    ('recommended', Action.CANCEL_RUN): ({}, 'Nothing is training right now.'),
    ('recommended', Action.RUN_ENDED): ({}, None),
    ('recommended', Action.EVALUATED): ({}, None),
    ('recommended', Action.EVALUATE): ({}, 'There is no trained model yet: build the dataset, '),
    ('recommended', Action.TRY): ({}, 'There is no trained model yet: build the dataset, '),
    ('recommended', Action.EXPORT): ({}, 'There is no trained model yet: build the dataset, '),
    ('seeds', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('seeds', Action.ANSWER): ({}, 'There is no question waiting for an answer right n'),
    ('seeds', Action.SKIP): ({}, 'There is no question waiting for an answer right n'),
    ('seeds', Action.RECOMMEND): ({'stage': 'recommended'}, '**My recommendation: Parameter-efficient fine-tuni'),
    ('seeds', Action.START_PATH): ({}, "**Parameter-efficient fine-tuning (QLoRA)**: let's"),
    ('seeds', Action.START_FINETUNE): ({}, "**Parameter-efficient fine-tuning (QLoRA)**: let's"),
    ('seeds', Action.GENERATE): ({}, 'Drafting samples needs an LLM endpoint. Set OPENAI'),
    ('seeds', Action.SUBMIT): ({}, 'No batch is waiting for review: press **Generate a'),
    ('seeds', Action.BUILD_DATASET): ({'stage': 'dataset', 'versions': 1}, 'Dataset version **v001-reviewed** built (alpaca): '),
    ('seeds', Action.IMPROVE): ({}, 'There is no evaluated model to improve yet: train '),
    ('seeds', Action.PREPARE_TRAINING): ({}, 'Build the dataset first (Data studio → Build), the'),
    ('seeds', Action.APPROVE): ({}, 'There is nothing to train on yet: build the datase'),
    ('seeds', Action.REVISE): ({}, 'Change the settings in the **Training** tab and pr'),
    ('seeds', Action.BASELINE): ({'approach': 'icl', 'baseline': True}, 'Measured zero-shot vs few-shot: prompting is **goo'),
    ('seeds', Action.RESUME_RUN): ({}, 'There is no run yet: there is nothing to resume.'),
    ('seeds', Action.CANCEL_RUN): ({}, 'Nothing is training right now.'),
    ('seeds', Action.RUN_ENDED): ({}, None),
    ('seeds', Action.EVALUATED): ({}, None),
    ('seeds', Action.EVALUATE): ({}, 'There is no trained model yet: build the dataset, '),
    ('seeds', Action.TRY): ({}, 'There is no trained model yet: build the dataset, '),
    ('seeds', Action.EXPORT): ({}, 'There is no trained model yet: build the dataset, '),
    ('review', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('review', Action.ANSWER): ({}, 'Batch 1 is still open for review: decide each samp'),
    ('review', Action.SKIP): ({}, 'Batch 1 is still open for review: decide each samp'),
    ('review', Action.RECOMMEND): ({}, 'Batch 1 is still open for review: decide each samp'),
    ('review', Action.START_PATH): ({}, 'Batch 1 is still open for review: decide each samp'),
    ('review', Action.START_FINETUNE): ({}, 'Batch 1 is still open for review: decide each samp'),
    ('review', Action.GENERATE): ({}, 'Batch 1 is still open for review: decide each samp'),
    ('review', Action.SUBMIT): ({}, '4 sample(s) still need a decision; review them, th'),
    ('review', Action.BUILD_DATASET): ({}, 'Batch 1 is still open for review: decide each samp'),
    ('review', Action.IMPROVE): ({}, 'Batch 1 is still open for review: decide each samp'),
    ('review', Action.PREPARE_TRAINING): ({}, 'Batch 1 is still open for review: decide each samp'),
    ('review', Action.APPROVE): ({}, 'Batch 1 is still open for review: decide each samp'),
    ('review', Action.REVISE): ({}, 'Batch 1 is still open for review: decide each samp'),
    ('review', Action.BASELINE): ({'approach': 'icl', 'baseline': True}, 'Measured zero-shot vs few-shot: prompting is **goo'),
    ('review', Action.RESUME_RUN): ({}, 'There is no run yet: there is nothing to resume.'),
    ('review', Action.CANCEL_RUN): ({}, 'Nothing is training right now.'),
    ('review', Action.RUN_ENDED): ({}, None),
    ('review', Action.EVALUATED): ({}, None),
    ('review', Action.EVALUATE): ({}, 'There is no trained model yet: build the dataset, '),
    ('review', Action.TRY): ({}, 'There is no trained model yet: build the dataset, '),
    ('review', Action.EXPORT): ({}, 'There is no trained model yet: build the dataset, '),
    ('dataset', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('dataset', Action.ANSWER): ({}, 'There is no question waiting for an answer right n'),
    ('dataset', Action.SKIP): ({}, 'There is no question waiting for an answer right n'),
    ('dataset', Action.RECOMMEND): ({'stage': 'recommended'}, '**My recommendation: Parameter-efficient fine-tuni'),
    ('dataset', Action.START_PATH): ({'stage': 'seeds'}, "**Parameter-efficient fine-tuning (QLoRA)**: let's"),
    ('dataset', Action.START_FINETUNE): ({'stage': 'seeds'}, "**Parameter-efficient fine-tuning (QLoRA)**: let's"),
    ('dataset', Action.GENERATE): ({}, 'Drafting samples needs an LLM endpoint. Set OPENAI'),
    ('dataset', Action.SUBMIT): ({}, 'No batch is waiting for review: press **Generate a'),
    ('dataset', Action.BUILD_DATASET): ({'versions': 2}, 'Dataset version **v002-reviewed** built (alpaca): '),
    ('dataset', Action.IMPROVE): ({}, 'There is no evaluated model to improve yet: train '),
    ('dataset', Action.PREPARE_TRAINING): ({'pause': 'approve_training', 'stage': 'training', 'plan': 'gemma-3-270m'}, '**Method: prompt_tuning** (only 6 samples: prompt '),
    ('dataset', Action.APPROVE): ({}, 'There is no checked plan to start yet: choose a ba'),
    ('dataset', Action.REVISE): ({}, 'Change the settings in the **Training** tab and pr'),
    ('dataset', Action.BASELINE): ({'approach': 'icl', 'baseline': True}, 'Measured zero-shot vs few-shot: prompting is **goo'),
    ('dataset', Action.RESUME_RUN): ({}, 'There is no run yet: there is nothing to resume.'),
    ('dataset', Action.CANCEL_RUN): ({}, 'Nothing is training right now.'),
    ('dataset', Action.RUN_ENDED): ({}, None),
    ('dataset', Action.EVALUATED): ({}, None),
    ('dataset', Action.EVALUATE): ({}, 'There is no trained model yet: build the dataset, '),
    ('dataset', Action.TRY): ({}, 'There is no trained model yet: build the dataset, '),
    ('dataset', Action.EXPORT): ({}, 'There is no trained model yet: build the dataset, '),
    ('approval', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('approval', Action.ANSWER): ({}, 'There is no question waiting for an answer right n'),
    ('approval', Action.SKIP): ({}, 'There is no question waiting for an answer right n'),
    ('approval', Action.RECOMMEND): ({'pause': 'chat', 'stage': 'recommended'}, '**My recommendation: Parameter-efficient fine-tuni'),
    ('approval', Action.START_PATH): ({'pause': 'chat', 'stage': 'seeds'}, "**Parameter-efficient fine-tuning (QLoRA)**: let's"),
    ('approval', Action.START_FINETUNE): ({'pause': 'chat', 'stage': 'seeds'}, "**Parameter-efficient fine-tuning (QLoRA)**: let's"),
    ('approval', Action.GENERATE): ({}, 'Drafting samples needs an LLM endpoint. Set OPENAI'),
    ('approval', Action.SUBMIT): ({}, 'No batch is waiting for review: press **Generate a'),
    ('approval', Action.BUILD_DATASET): ({'pause': 'chat', 'stage': 'dataset', 'versions': 2, 'plan': None}, 'Dataset version **v002-reviewed** built (alpaca): '),
    ('approval', Action.IMPROVE): ({}, 'There is no evaluated model to improve yet: train '),
    ('approval', Action.PREPARE_TRAINING): ({'plan': 'gemma-3-270m'}, '**Method: prompt_tuning** (only 6 samples: prompt '),
    ('approval', Action.APPROVE): ({'pause': 'chat', 'run_phase': 'training', 'launched': 1}, 'Training started (process 4242)'),
    ('approval', Action.REVISE): ({}, 'Change the settings in the **Training** tab and pr'),
    ('approval', Action.BASELINE): ({'approach': 'icl', 'baseline': True}, 'Measured zero-shot vs few-shot: prompting is **goo'),
    ('approval', Action.RESUME_RUN): ({}, 'There is no run yet: there is nothing to resume.'),
    ('approval', Action.CANCEL_RUN): ({}, 'Nothing is training right now.'),
    ('approval', Action.RUN_ENDED): ({}, None),
    ('approval', Action.EVALUATED): ({}, None),
    ('approval', Action.EVALUATE): ({}, 'There is no trained model yet: build the dataset, '),
    ('approval', Action.TRY): ({}, 'There is no trained model yet: build the dataset, '),
    ('approval', Action.EXPORT): ({}, 'There is no trained model yet: build the dataset, '),
    ('training', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('training', Action.ANSWER): ({}, 'There is no question waiting for an answer right n'),
    ('training', Action.SKIP): ({}, 'There is no question waiting for an answer right n'),
    ('training', Action.RECOMMEND): ({'stage': 'recommended'}, '**My recommendation: Parameter-efficient fine-tuni'),
    ('training', Action.START_PATH): ({'stage': 'seeds'}, "**Parameter-efficient fine-tuning (QLoRA)**: let's"),
    ('training', Action.START_FINETUNE): ({'stage': 'seeds'}, "**Parameter-efficient fine-tuning (QLoRA)**: let's"),
    ('training', Action.GENERATE): ({}, 'Drafting samples needs an LLM endpoint. Set OPENAI'),
    ('training', Action.SUBMIT): ({}, 'No batch is waiting for review: press **Generate a'),
    ('training', Action.BUILD_DATASET): ({'stage': 'dataset', 'versions': 2, 'plan': None}, 'Dataset version **v002-reviewed** built (alpaca): '),
    ('training', Action.IMPROVE): ({}, '`run-1` is still training: **Improve** works from '),
    ('training', Action.PREPARE_TRAINING): ({}, '`run-1` is still training: wait for its report, or'),
    ('training', Action.APPROVE): ({}, '`run-1` is already training: follow it in the **Tr'),
    ('training', Action.REVISE): ({}, 'Change the settings in the **Training** tab and pr'),
    ('training', Action.BASELINE): ({'approach': 'icl', 'baseline': True}, 'Measured zero-shot vs few-shot: prompting is **goo'),
    ('training', Action.RESUME_RUN): ({'launched': 1}, 'Resumed `run-1` from step 0: no complete checkpoin'),
    ('training', Action.CANCEL_RUN): ({'run_phase': 'stopped'}, 'No trainer is running in'),
    ('training', Action.RUN_ENDED): ({'run_phase': 'stopped'}, 'The trainer of `run-1` stopped without a final rep'),
    ('training', Action.EVALUATED): ({}, None),
    ('training', Action.EVALUATE): ({}, '`run-1` is still training: its evaluation starts b'),
    ('training', Action.TRY): ({}, '`run-1` is still training: its evaluation starts b'),
    ('training', Action.EXPORT): ({}, '`run-1` is still training: its evaluation starts b'),
    ('evaluated', Action.TEXT): ({}, 'Answer: What is LoRA?'),
    ('evaluated', Action.ANSWER): ({}, 'There is no question waiting for an answer right n'),
    ('evaluated', Action.SKIP): ({}, 'There is no question waiting for an answer right n'),
    ('evaluated', Action.RECOMMEND): ({'stage': 'recommended'}, '**My recommendation: Parameter-efficient fine-tuni'),
    ('evaluated', Action.START_PATH): ({'stage': 'seeds'}, "**Parameter-efficient fine-tuning (QLoRA)**: let's"),
    ('evaluated', Action.START_FINETUNE): ({'stage': 'seeds'}, "**Parameter-efficient fine-tuning (QLoRA)**: let's"),
    ('evaluated', Action.GENERATE): ({}, 'Drafting samples needs an LLM endpoint. Set OPENAI'),
    ('evaluated', Action.SUBMIT): ({}, 'No batch is waiting for review: press **Generate a'),
    ('evaluated', Action.BUILD_DATASET): ({'stage': 'dataset', 'versions': 2, 'plan': None}, 'Dataset version **v002-reviewed** built (alpaca): '),
    ('evaluated', Action.IMPROVE): ({}, '**Improve** drafts the next batch with an LLM, and'),
    ('evaluated', Action.PREPARE_TRAINING): ({'pause': 'approve_training', 'stage': 'training', 'plan': 'gemma-3-270m', 'run_phase': None, 'evaluation': False}, '**Method: prompt_tuning** (only 6 samples: prompt '),
    ('evaluated', Action.APPROVE): ({}, 'There is no checked plan to start yet: choose a ba'),
    ('evaluated', Action.REVISE): ({}, 'Change the settings in the **Training** tab and pr'),
    ('evaluated', Action.BASELINE): ({'approach': 'icl', 'baseline': True}, 'Measured zero-shot vs few-shot: prompting is **goo'),
    ('evaluated', Action.RESUME_RUN): ({}, '`run-1` has finished: there is nothing to resume.'),
    ('evaluated', Action.CANCEL_RUN): ({}, 'Nothing is training right now.'),
    ('evaluated', Action.RUN_ENDED): ({}, None),
    ('evaluated', Action.EVALUATED): ({}, None),
    ('evaluated', Action.EVALUATE): ({}, 'Training of `run-1` finished and was evaluated on '),
    ('evaluated', Action.TRY): ({}, 'Type the input after **try:** (for example `try: {'),
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

    monkeypatch.setattr(preflight, "run_preflight", lambda config, **kw: type(
        "Report", (), {"to_dict": lambda self: {"ok": True, "checks": []}})())


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
