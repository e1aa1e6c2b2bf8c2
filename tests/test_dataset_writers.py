"""Writers: read(write(x)) == x for every format; files that `datasets` and LLaMA-Factory read as is."""

from __future__ import annotations

import json

import pytest

from tools.dataset.readers import read_samples
from tools.dataset.schema import AlpacaSample
from tools.dataset.writers import dataset_info_entry, write_dataset_info, write_samples
from tools.errors import UserError

SAMPLES = [
    AlpacaSample(
        instruction="Translate to French.", input="Good night", output="Bonne nuit", system="Be brief."
    ),
    AlpacaSample(
        instruction="Et en espagnol ?",
        output="Buenas noches, ¿qué tal? ✓",
        system="Be brief.",
        history=[("Translate: Good night", "Bonne nuit"), ("Again?", "Bonne nuit !")],
    ),
    AlpacaSample(instruction="Return JSON.", output='{"ok": true}\n\nLine two'),
]


def folded(sample: AlpacaSample) -> AlpacaSample:
    """What chat formats hold: the input is part of the user turn."""
    return sample.model_copy(update={"instruction": sample.prompt_text(), "input": ""})


def test_alpaca_round_trip_is_exact(tmp_path):
    path = write_samples(SAMPLES, tmp_path / "train.json", "alpaca")
    records = json.loads(path.read_text(encoding="utf-8"))
    assert list(records[0]) == ["instruction", "input", "output", "system", "history"]
    assert records[1]["history"] == [["Translate: Good night", "Bonne nuit"], ["Again?", "Bonne nuit !"]]
    assert "¿qué tal? ✓" in path.read_text(encoding="utf-8")  # kept readable, not \u-escaped
    assert read_samples(path).samples == SAMPLES


@pytest.mark.parametrize(
    ("fmt", "name", "detected"),
    [("sharegpt", "t.json", "sharegpt-json"), ("openai", "t.jsonl", "openai-jsonl")],
)
def test_chat_formats_round_trip_with_the_input_in_the_user_turn(tmp_path, fmt, name, detected):
    path = write_samples(SAMPLES, tmp_path / name, fmt)
    result = read_samples(path)
    assert result.format == detected and result.problems == []
    assert result.samples == [folded(s) for s in SAMPLES]
    # a second round trip changes nothing
    again = read_samples(write_samples(result.samples, tmp_path / f"again-{name}", fmt)).samples
    assert again == result.samples


def test_sharegpt_and_openai_record_shapes(tmp_path):
    sharegpt = json.loads(write_samples(SAMPLES[:1], tmp_path / "s.json", "sharegpt").read_text())
    assert sharegpt == [
        {
            "conversations": [
                {"from": "human", "value": "Translate to French.\n\nGood night"},
                {"from": "gpt", "value": "Bonne nuit"},
            ],
            "system": "Be brief.",
        }
    ]
    lines = write_samples(SAMPLES[:1], tmp_path / "o.jsonl", "openai").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Translate to French.\n\nGood night"},
                {"role": "assistant", "content": "Bonne nuit"},
            ]
        }
    ]


def test_dataset_info_matches_llama_factory_columns(tmp_path):
    assert dataset_info_entry("train.json", "alpaca") == {
        "file_name": "train.json",
        "columns": {
            "prompt": "instruction",
            "query": "input",
            "response": "output",
            "system": "system",
            "history": "history",
        },
    }
    sharegpt = dataset_info_entry("train.json", "sharegpt")
    assert sharegpt["formatting"] == "sharegpt"
    assert sharegpt["columns"] == {"messages": "conversations", "system": "system"}
    assert sharegpt["tags"] == {
        "role_tag": "from",
        "content_tag": "value",
        "user_tag": "human",
        "assistant_tag": "gpt",
    }
    openai = dataset_info_entry("train.jsonl", "openai")
    assert openai["columns"] == {"messages": "messages"}
    assert openai["tags"]["role_tag"] == "role" and openai["tags"]["system_tag"] == "system"
    path = write_dataset_info(tmp_path, {"train": "train.json", "eval": "eval.json"}, "alpaca")
    assert sorted(json.loads(path.read_text())) == ["tunesmith_eval", "tunesmith_train"]


def test_unknown_format_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="choose one of alpaca, sharegpt, openai"):
        write_samples(SAMPLES, tmp_path / "x.json", "parquet")


@pytest.mark.parametrize(
    ("fmt", "name"), [("alpaca", "t.json"), ("sharegpt", "t.json"), ("openai", "t.jsonl")]
)
def test_written_files_load_with_datasets(tmp_path, fmt, name):
    from datasets import load_dataset

    path = write_samples(SAMPLES, tmp_path / name, fmt)
    loaded = load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.num_rows == len(SAMPLES)
    if fmt == "alpaca":
        assert loaded[1]["history"] == [["Translate: Good night", "Bonne nuit"], ["Again?", "Bonne nuit !"]]
        assert loaded[2]["output"] == SAMPLES[2].output
