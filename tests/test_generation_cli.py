"""`tunesmith generate` end to end against the local stub: a file on success, a plain message on failure."""

from __future__ import annotations

import json

import pytest
from openai_stub import openai_stub_fixture  # noqa: F401  (the openai_stub fixture)

from tools.cli import main


@pytest.fixture
def seeds_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "TUNESMITH_GENERATION_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TUNESMITH_LLM_RETRIES", "0")
    path = tmp_path / "seeds.json"
    path.write_text(
        json.dumps(
            [
                {"instruction": "Classify: 'great bike'", "output": "positive"},
                {"instruction": "Classify: 'chain broke'", "output": "negative"},
            ]
        )
    )
    return path


def reviews(count: int) -> dict:
    return {
        "samples": [
            {"instruction": f"Classify: 'review number {i} of model {i * 31}'", "output": "positive"}
            for i in range(count)
        ]
    }


def test_generate_writes_a_complete_alpaca_batch(seeds_file, tmp_path, monkeypatch, openai_stub, capsys):
    monkeypatch.setenv("OPENAI_BASE_URL", openai_stub.base_url)
    notes = tmp_path / "notes.txt"
    notes.write_text("Avoid: sarcasm\n\nKeep labels lowercase\n")
    openai_stub.script(reviews(3))
    out = tmp_path / "batch.json"
    code = main(
        [
            "generate",
            "--task",
            "Label bike reviews",
            "--seeds",
            str(seeds_file),
            "--n",
            "3",
            "--out",
            str(out),
            "--notes",
            str(notes),
            "--system",
            "Answer with one label.",
        ]
    )
    assert code == 0, capsys.readouterr().err
    records = json.loads(out.read_text())
    assert len(records) == 3 and records[0]["system"] == "Answer with one label."
    prompt = openai_stub.user_prompts()[0]
    assert "- Avoid: sarcasm\n- Keep labels lowercase" in prompt and "great bike" in prompt
    assert openai_stub.requests[0]["model"] == "gpt-4o-mini"


def test_unconfigured_endpoint_exits_1_with_setup_hint(seeds_file, tmp_path, capsys):
    code = main(["generate", "--task", "t", "--seeds", str(seeds_file), "--out", str(tmp_path / "o.json")])
    err = capsys.readouterr().err
    assert code == 1 and "No LLM endpoint is configured" in err and "OPENAI_BASE_URL" in err
    assert "Traceback" not in err


def test_failing_endpoint_keeps_valid_samples_and_exits_1(
    seeds_file, tmp_path, monkeypatch, openai_stub, capsys
):
    monkeypatch.setenv("OPENAI_BASE_URL", openai_stub.base_url)
    openai_stub.script(reviews(2), 500)
    out = tmp_path / "o.json"
    code = main(
        [
            "generate",
            "--task",
            "t",
            "--seeds",
            str(seeds_file),
            "--n",
            "5",
            "--out",
            str(out),
            "--max-attempts",
            "2",
            "--model",
            "my-gen-model",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "2 of 5" in err and "server error (500)" in err and "Traceback" not in err
    assert len(json.loads(out.read_text())) == 2
    assert openai_stub.requests[0]["model"] == "my-gen-model"


def test_bad_seed_rows_stop_the_run_with_where_and_how(seeds_file, tmp_path, capsys):
    seeds_file.write_text(json.dumps([{"instruction": "ok", "output": "fine"}, {"instruction": "no answer"}]))
    code = main(["generate", "--task", "t", "--seeds", str(seeds_file), "--out", str(tmp_path / "o.json")])
    err = capsys.readouterr().err
    assert code == 1 and "row 2" in err and "tunesmith dataset check" in err  # the seeds' content


def test_bad_notes_file_is_a_user_error(seeds_file, tmp_path, capsys):
    notes = tmp_path / "notes.json"
    notes.write_text('{"not": "a list"}')
    code = main(
        [
            "generate",
            "--task",
            "t",
            "--seeds",
            str(seeds_file),
            "--out",
            str(tmp_path / "o.json"),
            "--notes",
            str(notes),
        ]
    )
    assert code == 1 and "JSON list of strings" in capsys.readouterr().err  # read, but not a list
