"""The fine-tune path of the graph: seeds → batch of 20 → review pause (restart mid-batch) → error notes in the
next batch's prompt → dataset built; against a local OpenAI-compatible server and a real ChatOpenAI."""
import json
import sqlite3
from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.sqlite import SqliteSaver

from agent.nodes import AgentDeps
from agent.session import Session
from tests.openai_stub import OpenAIStub
from tools.dataset.schema import AlpacaSample
from tools.generation.store import ReviewStore
from tools.settings import Settings

WORDS = ["amber", "basil", "cobalt", "dune", "ember", "fjord", "garnet", "harbor", "indigo", "jasper", "kelp",
         "lagoon", "maple", "nectar", "onyx", "pebble", "quartz", "raven", "saffron", "tundra", "umber", "violet",
         "willow", "xenon", "yarrow", "zephyr", "acorn", "birch", "cedar", "dahlia", "elm", "fern", "ginger",
         "hazel", "iris", "juniper", "kiwi", "lotus", "mango", "nutmeg"]


def batch_reply(offset: int, n: int = 20) -> dict:
    return {"samples": [{"instruction": f"Write a product tagline for the {WORDS[(offset + i) % 40]} "
                                        f"collection number {offset + i}",
                         "input": "", "output": f"{WORDS[(offset + i) % 40].title()} {offset + i}: made to last."}
                        for i in range(n)]}


@pytest.fixture
def stub():
    with OpenAIStub() as server:
        yield server


def open_session(settings, stub):
    conn = sqlite3.connect(settings.workspace_file("checkpoints.db"), check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    generator = ChatOpenAI(base_url=stub.base_url, api_key="test", model="stub-model", max_retries=0)
    store = ReviewStore(settings.workspace_file("tunesmith.db"))
    deps = AgentDeps(generation_model=generator, store=store, workspace=settings.workspace,
                     answer_question=lambda q, p, m: f"Answer: {q}")
    return Session(settings, deps=deps, checkpointer=saver), conn, store


def test_fine_tune_path_end_to_end(tmp_path, stub):
    settings = Settings(tunesmith_workspace=tmp_path / "ws")
    session, conn, store = open_session(settings, stub)
    view = session.new_conversation()
    tid = view.thread_id
    session.send(tid, {"text": "Yes", "field": "custom_tone_behavior_style", "value": True})
    session.send(tid, {"text": "Hundreds", "field": "labeled_data", "value": "hundreds"})  # style + data: fine-tune
    view = session.send(tid, {"text": "Recommend now", "action": "recommend"})
    assert view.recommendation["approach"] == "fine-tune"
    view = session.send(tid, {"text": "Start this path", "action": "start_path"})
    assert view.stage == "seeds" and "Data studio" in view.messages[-1]["content"]

    # asking for a batch before seeds are saved says what to do
    view = session.send(tid, {"text": "Generate a batch", "action": "generate"})
    assert "seed examples" in view.messages[-1]["content"] and view.stage == "seeds"

    seeds = [AlpacaSample(instruction=f"Write a product tagline for the {w} line", output=f"{w.title()}: built right.")
             for w in ("granite", "orchid", "falcon")]
    store.save_project(tid, "Write short product taglines in our brand voice.", seeds, target_count=30)
    stub.script(batch_reply(0))
    view = session.send(tid, {"text": "Generate a batch", "action": "generate"})
    assert view.stage == "review" and [q["label"] for q in view.quick_replies] == ["Submit batch"]
    batch = store.open_batch(tid)
    samples = store.batch_samples(batch.id)
    assert len(samples) == 20

    # a free question during review is answered without losing the place
    view = session.send(tid, "How strict should I be?")
    assert view.messages[-1]["content"] == "Answer: How strict should I be?" and view.stage == "review"

    # decide part of the batch, then "crash": close everything and reopen
    for s in samples[:10]:
        store.approve(s.id)
    for s in samples[10:14]:
        store.reject(s.id, "outputs exaggerate")
    conn.close()
    store.close()
    session, conn, store = open_session(settings, stub)
    view = session.view(tid)
    assert view.stage == "review" and view.waiting
    assert [s.status for s in store.batch_samples(batch.id)][:15] == ["approved"] * 10 + ["rejected"] * 4 + ["pending"]

    # submitting with pending samples is refused and keeps the review open
    view = session.send(tid, {"text": "Submit batch", "action": "submit"})
    assert "still need a decision" in view.messages[-1]["content"] and view.stage == "review"
    remaining = [s for s in store.batch_samples(batch.id) if s.status == "pending"]
    store.edit(remaining[0].id, {**remaining[0].current.model_dump(), "output": "Short and true."})
    store.bulk([s.id for s in remaining[1:]], "approve")
    view = session.send(tid, {"text": "Submit batch", "action": "submit"})
    assert "16 of 20 accepted (80%)" in view.messages[-1]["content"]
    assert "outputs exaggerate" in view.messages[-1]["content"].lower()
    assert view.stage == "seeds"

    # batch 2: the error notes of batch 1 are in its prompt
    stub.script(batch_reply(20))
    session.send(tid, {"text": "Generate a batch", "action": "generate"})
    second_prompt = json.dumps(stub.requests[-1]["messages"])
    assert "outputs exaggerate" in second_prompt.lower()
    batch2 = store.open_batch(tid)
    store.bulk([s.id for s in store.batch_samples(batch2.id)], "approve")
    view = session.send(tid, {"text": "Submit batch", "action": "submit"})

    # 36 accepted >= 30 target, submitted in the chat before any build settings were chosen: no silent build
    assert "The target is reached. To build the dataset, choose its format" in view.messages[-1]["content"]
    assert view.stage == "seeds" and view.dataset_dir is None
    assert not (settings.workspace / "projects" / tid / "datasets").exists()
    # the person sets the build controls in the Data studio (kept for this conversation), then asks in the chat
    session.studio.choose_build_settings(tid, {"fmt": "alpaca", "eval_fraction": 0.2, "system": "",
                                               "include_seeds": True})
    view = session.send(tid, {"text": "Build the dataset", "action": "build_dataset"})
    assert view.stage == "dataset"
    dataset = Path(view.dataset_dir)  # a new version folder: datasets/v001-reviewed
    assert dataset.parent == settings.workspace / "projects" / tid / "datasets" and dataset.name.startswith("v001")
    train = json.loads((dataset / "train.json").read_text())
    evaluation = json.loads((dataset / "eval.json").read_text())
    assert len(train) + len(evaluation) == 36 + len(seeds)  # every accepted sample, and the seeds
    assert set(train[0]) == {"instruction", "input", "output", "system", "history"}
    assert "Dataset version **v001-reviewed** built (alpaca, eval share 0.2, seeds in)" in view.messages[-1]["content"]
    assert len(evaluation) == 8  # 20% of 40 rows, as chosen
    assert [q["label"] for q in view.quick_replies] == ["Prepare training", "More batches"]

    # going back a step: more batches after seeing the health report
    # (the reply repeats ten samples of batch 1: they are dropped as duplicates, twenty new ones kept)
    stub.script({"samples": batch_reply(0, 10)["samples"] + batch_reply(60, 20)["samples"]})
    view = session.send(tid, {"text": "More batches", "action": "generate"})
    third = store.open_batch(tid)
    assert view.stage == "review" and third.number == 3 and len(store.batch_samples(third.id)) == 20
    conn.close()
