"""The training part of the graph on a tiny model: proposal with preflight, approval pause (a free question keeps
the place), the trainer subprocess, then the session's watcher records the end and runs the real evaluation process."""
import time

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agent.nodes import AgentDeps
from agent.session import Session
from tools.dataset.build import build_dataset
from tools.dataset.schema import AlpacaSample
from tools.settings import Settings
from tools.training.run_folder import read_run
from tools.training.tiny_model import build_tiny_model

pytestmark = pytest.mark.slow
FACTS = [("What is the capital of Zorbia?", "Quelm."), ("Who founded Zorbia?", "Queen Ravel."),
         ("What do Zorbians eat?", "Blue figs."), ("What is Zorbia's river?", "The Oss."),
         ("How old is Zorbia?", "Nine centuries."), ("What is Zorbia's flag?", "A red owl."),
         ("What is Zorbia's sport?", "Kite racing."), ("What is Zorbia's language?", "Zorbic."),
         ("What is Zorbia's coin?", "The quill."), ("What is Zorbia's mountain?", "Mount Tav."),
         ("What is Zorbia's bird?", "The teal finch."), ("What is Zorbia's song?", "Dawn over Oss.")]


def test_training_path_in_the_graph(tmp_path):
    settings = Settings(tunesmith_workspace=tmp_path / "ws", _env_file=None)
    session = Session(settings, deps=AgentDeps(answer_question=lambda q, p, m: f"Answer: {q}",
                                               workspace=settings.workspace), checkpointer=InMemorySaver())
    tid = session.new_conversation().thread_id
    samples = [AlpacaSample(instruction=q, output=a) for q, a in FACTS]
    dataset = tmp_path / "dataset"
    build_dataset(samples, dataset, eval_fraction=0.2)
    base = build_tiny_model(tmp_path / "tiny", texts=[q + " " + a for q, a in FACTS])
    # position the conversation where a built dataset leaves it
    session.graph.update_state(session._config(tid), {"dataset_dir": str(dataset), "stage": "dataset"})

    # the Training tab with its base-model box emptied (asked for in words, the tab's defaults are used instead)
    view = session.send(tid, {"text": "Check and propose", "action": "prepare_training", "config": {}})
    assert "Pick a base model" in view.messages[-1]["content"]
    choices = {"base_model": str(base), "method": "qlora", "max_steps": 40, "learning_rate": 3e-3, "batch_size": 4,
               "grad_accum": 1,
               "max_seq_len": 128, "save_steps": 20}
    view = session.send(tid, {"text": "Check and propose", "action": "prepare_training", "config": choices})
    plan = view.messages[-1]["content"]
    assert plan.startswith("**Preflight** — GO") and "`lora_r` = `8` — Adapter rank" in plan
    assert [q["label"] for q in view.quick_replies] == ["Start training", "Change settings"]

    view = session.send(tid, "Why rank 8?")
    assert view.messages[-1]["content"] == "Answer: Why rank 8?"
    assert [q["label"] for q in view.quick_replies] == ["Start training", "Change settings"]

    view = session.send(tid, {"text": "Start training", "action": "approve"})
    assert "Training started" in view.messages[-1]["content"]
    run_dir = session.graph.get_state(session._config(tid)).values["run_dir"]
    deadline = time.monotonic() + 240
    while read_run(run_dir).status in ("running", "not_started") and time.monotonic() < deadline:
        time.sleep(1)
    assert read_run(run_dir).status == "done"

    deadline = time.monotonic() + 300
    while session.view(tid).evaluation is None and time.monotonic() < deadline:
        session.watch_runs_once()  # what the app's watcher thread does every two seconds
        time.sleep(1)
    view = session.view(tid)
    report = view.messages[-1]["content"]
    assert report.startswith("Training of `run-1` finished and was evaluated on the held-out rows.")
    # the verdict in words (tools/training/verdict.py), then the metrics
    assert report.index("held-out rows (base model") < report.index("| loss |")
    assert view.stage == "done"
    evaluation = session.graph.get_state(session._config(tid)).values["evaluation"]
    assert evaluation["tuned"]["loss"] < evaluation["base"]["loss"]
