"""build_dataset on the messy fixture (exact counts), the exported folder, check_file, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.cli import main
from tools.dataset.build import build_dataset, check_file
from tools.dataset.normalize import CleanConfig
from tools.dataset.readers import read_samples
from tools.dataset.schema import AlpacaSample
from tools.errors import UserError

MESSY = Path(__file__).parent / "fixtures" / "dataset" / "messy.jsonl"

# messy.jsonl: 40 rows on 41 lines (line 21 is blank). Lines 1-20 and 22-25: 24 distinct valid samples
# (some with whitespace noise, a code fence, an "Output:" prefix, a zero-width space, one multi-turn);
# 26-29 exact duplicates; 30-32 near duplicates; 33-34 blank outputs; 35 object output; 36-37 bad history;
# 38 broken JSON; 39 no output; 40 "Output:" and nothing else; 41 an output over 8000 characters.
MESSY_DROPS = {
    "bad_history": 2,
    "broken_json": 1,
    "empty_after_cleaning": 1,
    "empty_output": 2,
    "exact_duplicate": 4,
    "missing_field": 1,
    "near_duplicate": 3,
    "output_too_long": 1,
    "wrong_type": 1,
}


@pytest.fixture(scope="module")
def messy_build(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("messy")
    return build_dataset([MESSY], out), out


def test_messy_fixture_exact_counts(messy_build):
    report, _ = messy_build
    assert report["rows_read"] == 40
    assert report["kept"] == 24 and report["train"] == 22 and report["eval"] == 2
    assert report["drops"] == MESSY_DROPS and report["dropped"] == 16
    assert report["rows_read"] == report["kept"] + report["dropped"]
    ids = report["dropped_ids"]
    assert ids["exact_duplicate"] == ["messy.jsonl:26", "messy.jsonl:27", "messy.jsonl:28", "messy.jsonl:29"]
    assert ids["near_duplicate"] == ["messy.jsonl:30", "messy.jsonl:31", "messy.jsonl:32"]
    assert ids["broken_json"] == ["messy.jsonl:38"] and ids["wrong_type"] == ["messy.jsonl:35"]
    assert report["fixes"] == {"text_normalized": 6, "code_fence_stripped": 1, "answer_prefix_stripped": 2}
    assert report["health"]["multi_turn"]["count"] == 1


def test_messy_fixture_folder_contents(messy_build):
    report, out = messy_build
    assert sorted(p.name for p in out.iterdir()) == [
        "dataset_info.json",
        "eval.json",
        "report.json",
        "report.md",
        "train.json",
    ]
    train, held = read_samples(out / "train.json").samples, read_samples(out / "eval.json").samples
    assert len(train) == 22 and len(held) == 2
    kept = {s.instruction: s for s in train + held}
    assert kept["Name the largest planet in the solar system."].output == "Jupiter"
    assert kept["Write a Python function that adds two numbers."].output.startswith("def add(a, b):")
    assert kept["What is the opposite of hot?"].output == "cold"
    assert kept["Spell the word receive."].output == "r-e-c-e-i-v-e"
    assert (
        kept["Give two tips for better sleep."].output
        == "Keep a fixed bedtime.\n\nAvoid screens for an hour before bed."
    )
    assert json.loads((out / "report.json").read_text()) == report
    assert "- Rows read: 40; kept: 24 (train 22, eval 2)" in (out / "report.md").read_text()


def test_exported_folder_loads_with_datasets_as_llama_factory_would(messy_build, tmp_path):
    from datasets import load_dataset

    _, out = messy_build
    info = json.loads((out / "dataset_info.json").read_text())
    assert info == {
        split: {
            "file_name": f"{split.split('_')[1]}.json",
            "columns": {
                "prompt": "instruction",
                "query": "input",
                "response": "output",
                "system": "system",
                "history": "history",
            },
        }
        for split in ("tunesmith_train", "tunesmith_eval")
    }
    for entry, rows in zip(info.values(), (22, 2), strict=True):
        loaded = load_dataset(
            "json", data_files=str(out / entry["file_name"]), split="train", cache_dir=str(tmp_path / "cache")
        )
        assert loaded.num_rows == rows
        assert set(entry["columns"].values()) <= set(loaded.column_names)


@pytest.mark.parametrize(
    ("fmt", "files"), [("sharegpt", ["eval.json", "train.json"]), ("openai", ["eval.jsonl", "train.jsonl"])]
)
def test_chat_formats_and_system_fill(tmp_path, fmt, files):
    samples = [
        AlpacaSample(instruction=f"Question {i} about item {i * 11}", output=f"Answer {i}") for i in range(9)
    ]
    samples.append(AlpacaSample(instruction="Keep mine", output="ok", system="Own system."))
    report = build_dataset(samples, tmp_path, eval_fraction=0.2, system="Be helpful.", fmt=fmt, seed=3)
    assert (report["kept"], report["train"], report["eval"]) == (10, 8, 2)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("train", "eval"))) == files
    back = read_samples(tmp_path / files[1]).samples + read_samples(tmp_path / files[0]).samples
    assert sorted(s.system for s in back) == ["Be helpful."] * 9 + ["Own system."]
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["tunesmith_train"]["formatting"] == "sharegpt"


def test_build_refuses_inputs_without_any_valid_sample(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "Q", "output": ""}\n')
    with pytest.raises(UserError, match=r"no valid samples in the input \(bad.jsonl:1: 'output' is blank"):
        build_dataset([bad], tmp_path / "out")
    with pytest.raises(UserError, match="choose one of"):
        build_dataset([bad], tmp_path / "out", fmt="xml")


def test_check_file_lists_problems():
    problems = check_file(MESSY)
    assert [p.row for p in problems] == [33, 34, 35, 36, 37, 38, 39]


# ---------------------------------------------------------------- CLI


def test_cli_build_prints_a_summary(tmp_path, capsys):
    code = main(["dataset", "build", str(MESSY), "--out", str(tmp_path / "ds"), "--system", "Be brief."])
    out = capsys.readouterr().out
    assert code == 0
    assert "read 40 rows; kept 24 (train 22, eval 2); dropped 16: bad_history 2" in out
    assert "exact_duplicate 4" in out and "near_duplicate 3" in out
    assert "warning: Only 24 samples" in out
    systems = {s.system for s in read_samples(tmp_path / "ds" / "train.json").samples}
    assert systems == {"Be brief.", "You are a concise support assistant for Acme Cloud."}  # own system kept


def test_cli_build_bad_input_exits_without_traceback(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text('[{"instruction": "Q", "output": "A"},]')
    assert main(["dataset", "build", str(broken), "--out", str(tmp_path / "ds")]) == 1  # content: 1, usage: 2
    err = capsys.readouterr().err
    assert err.startswith("error: broken.json: broken JSON at line 1") and "Traceback" not in err
    assert main(["dataset", "build", str(tmp_path / "missing.json"), "--out", str(tmp_path / "ds")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_check_exit_codes(tmp_path, capsys):
    assert main(["dataset", "check", str(MESSY)]) == 1
    out = capsys.readouterr().out
    assert "messy.jsonl: row 35, field 'output': 'output' must be text, got an object" in out
    assert "messy.jsonl: row 38: line 38 is not valid JSON" in out
    assert out.strip().endswith("messy.jsonl: 40 rows (alpaca-jsonl), 33 valid, 7 invalid")
    clean = tmp_path / "clean.csv"
    clean.write_text("instruction,input,output\nSay hi,,Hi\n")
    assert main(["dataset", "check", str(clean)]) == 0
    assert "clean.csv: 1 rows (csv), 1 valid, 0 invalid" in capsys.readouterr().out
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"instruction,input,output\nCaf\xe9,,ok\n")
    assert main(["dataset", "check", str(latin)]) == 1
    assert "re-save the file as UTF-8" in capsys.readouterr().err


def test_rebuild_without_eval_removes_the_stale_eval_split(tmp_path):
    samples = [AlpacaSample(instruction=f"Question {i} on {i * 13}", output=f"Answer {i}") for i in range(10)]
    build_dataset(samples, tmp_path, eval_fraction=0.2)
    assert (tmp_path / "eval.json").exists()
    report = build_dataset(samples, tmp_path, eval_fraction=0.0, force=True)  # without force: refused
    assert report["eval"] == 0 and not (tmp_path / "eval.json").exists()
    assert list(json.loads((tmp_path / "dataset_info.json").read_text())) == ["tunesmith_train"]


def test_cli_build_options_and_bad_values(tmp_path, capsys):
    args = ["dataset", "build", str(MESSY), "--out", str(tmp_path / "ds"), "--max-output-chars", "30"]
    assert main(args) == 0
    out = capsys.readouterr().out  # 8 distinct outputs, 1 exact and 3 near duplicates and row 41 are too long
    assert "kept 16 (train 14, eval 2)" in out and "output_too_long 13" in out and "near_duplicate" not in out
    assert main([*args, "--eval-fraction", "1.5"]) == 2
    assert "error: eval fraction 1.5 must be in [0, 1)" in capsys.readouterr().err
    assert main(["dataset", "build", str(tmp_path), "--out", str(tmp_path / "ds2")]) == 2
    assert "is a folder; pass a dataset file" in capsys.readouterr().err
    with pytest.raises(UserError, match="near-duplicate threshold 0 must be in"):
        CleanConfig(near_duplicate_threshold=0)


def test_near_twins_are_decided_on_their_exact_similarity_not_the_estimate(tmp_path):
    # each pair below shares 7 of 9 question 3-grams and 5 of 7 answer 3-grams: Jaccard 12/16 = 0.75 < 0.8,
    # close enough that the 64-value estimate alone would call about one pair in six a twin
    rows = [{"instruction": f"Write a product tagline for the item{i} collection number {n}",
             "output": f"Made to last for many years, number {n}."} for i in range(60) for n in (i * 10, i * 10 + 1)]
    rows.append({**rows[0], "output": rows[0]["output"] + " Really."})  # a true near twin of row 1 (14/15)
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    report = build_dataset([data], tmp_path / "ds", eval_fraction=0)
    assert report["drops"] == {"near_duplicate": 1} and report["kept"] == 120
    assert report["dropped_rows"][0]["id"] == "pairs.jsonl:121" and report["dropped_rows"][0]["kept"] == "pairs.jsonl:1"
