"""Public data first: search the Hub, preview rows, import a file with a column mapping, through the real
huggingface_hub client against a local stand-in (HF_ENDPOINT), and a plain message without a connection."""
from __future__ import annotations

import json

import pytest
from hub_stub import hub_stub

from tools.dataset import hub
from tools.errors import UserError

ROWS = [{"question": f"Is order {i} late?", "context": f"Order {i} shipped on day {i}.",
         "answer": "yes" if i % 2 else "no"} for i in range(6)] + [{"question": "Blank answer?", "answer": ""}]


@pytest.fixture
def online(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the suite runs with HF_HUB_OFFLINE=1
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    files = {"data/train.jsonl": "\n".join(json.dumps(r) for r in ROWS).encode(), "README.md": b"# orders"}
    with hub_stub({"acme/late-orders": files, "acme/recipes": {"r.csv": b"title,steps\nA,B\n"}}) as (url, seen):
        monkeypatch.setenv("HF_ENDPOINT", url)
        yield seen


def test_search_preview_and_import_with_a_column_mapping(online):
    found = hub.search_hub_datasets("late orders")
    assert [d["id"] for d in found] == ["acme/late-orders"]
    preview = hub.preview_hub_dataset("acme/late-orders")
    assert preview.files == ["data/train.jsonl"] and preview.columns == ["answer", "context", "question"]
    assert preview.suggested_mapping == {"instruction": "question", "input": "context", "output": "answer"}
    assert len(preview.rows) == 5
    samples, problems = hub.map_rows(hub.read_hub_rows("acme/late-orders", preview.file), preview.suggested_mapping)
    assert [s.output for s in samples] == ["no", "yes", "no", "yes", "no", "yes"]
    assert samples[1].input == "Order 1 shipped on day 1."
    assert [(p.row, p.field) for p in problems] == [(7, "output")]  # shown, not silently dropped
    assert any(r.startswith("GET /api/datasets") for r in online)  # it really went through the client


def test_no_connection_is_said_plainly(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(UserError, match="no connection to the Hugging Face Hub at http://127.0.0.1:9"):
        hub.search_hub_datasets("late orders")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserError, match="switched off here \\(HF_HUB_OFFLINE=1\\)"):
        hub.search_hub_datasets("late orders")


def test_a_mapping_needs_instruction_and_output():
    with pytest.raises(UserError, match="which column is the instruction and which is the output"):
        hub.map_rows([{"a": "b"}], {"instruction": "a", "input": "", "output": ""})


def test_imported_rows_join_the_project_as_a_batch_to_review(online, tmp_path):
    from browser_support import workspace_session

    from tools.dataset.schema import AlpacaSample

    settings, store, session = workspace_session(tmp_path)
    with pytest.raises(UserError, match="save the task and seeds first"):
        session.studio.import_hub("t1", "acme/late-orders", "data/train.jsonl", {"instruction": "question",
                                                                                "output": "answer"})
    store.save_project("t1", "Say whether an order is late", [AlpacaSample(instruction="Late?", output="no")])
    number, rows, twins, problems = session.studio.import_hub(
        "t1", "acme/late-orders", "data/train.jsonl", {"instruction": "question", "input": "context",
                                                       "output": "answer"})
    batch = store.open_batch("t1")
    assert (number, rows, len(problems)) == (batch.number, 6, 1)
    assert {s.status for s in store.batch_samples(batch.id)} == {"pending"}  # reviewed like generated samples
