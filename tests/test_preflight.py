"""Preflight catches what would waste a training run: bad data, too few samples, truncation, template/EOS."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tools.dataset.schema import AlpacaSample
from tools.errors import UserError
from tools.training import model_cli
from tools.training.config import TrainConfig
from tools.training.preflight import read_dataset_split, run_preflight
from tools.training.tiny_model import build_tiny_model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _write_data(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.json").write_text(json.dumps(rows), encoding="utf-8")
    return folder


def _rows(count: int, output: str = "positive") -> list[dict]:
    return [
        {"instruction": "Classify the sentiment.", "input": f"review number {i}", "output": output}
        for i in range(count)
    ]


def _report(model: Path, data: Path, tmp_path: Path, gpu_gb: float | None = 24, **settings):
    config = TrainConfig(base_model=str(model), data_dir=data, out_dir=tmp_path / "run", **settings)
    report = run_preflight(config, gpu_gb=gpu_gb)
    return report, {check.name: check for check in report.checks}


def test_good_setup_is_go(tiny_model, tmp_path):
    report, checks = _report(tiny_model, _write_data(tmp_path / "data", _rows(60)), tmp_path)
    assert report.ok, report.to_text()
    assert {c.status for c in report.checks} == {"ok"}
    lengths = checks["token lengths"].details
    assert 0 < lengths["p95"] <= lengths["max"] < 64 and lengths["truncated"] == 0
    assert checks["memory"].details["params"] > 0


def test_too_few_samples_fail_and_few_warn(tiny_model, tmp_path):
    report, checks = _report(tiny_model, _write_data(tmp_path / "a", _rows(5)), tmp_path)
    assert not report.ok and checks["sample count"].status == "fail"
    report, checks = _report(tiny_model, _write_data(tmp_path / "b", _rows(20)), tmp_path)
    assert report.ok and checks["sample count"].status == "warn" and "50" in checks["sample count"].fix


def test_bad_rows_are_reported_not_dropped(tiny_model, tmp_path):
    rows = _rows(60)
    rows[3] = {"instruction": "Classify", "input": "x"}
    rows[7]["output"] = "   "
    report, checks = _report(tiny_model, _write_data(tmp_path / "data", rows), tmp_path)
    assert not report.ok
    message = checks["data"].message
    assert "2 invalid" in message  # rows counted from 1, as the dataset tool's reader reports them
    assert "row 4, field 'output': missing output" in message and "row 8, field 'output'" in message


def test_unparsable_file_is_a_failed_check(tiny_model, tmp_path):
    data = _write_data(tmp_path / "data", _rows(60))
    (data / "train.json").write_text('[{"instruction": "a",', encoding="utf-8")
    report, checks = _report(tiny_model, data, tmp_path)
    assert not report.ok and "line 1" in checks["data"].message
    (data / "eval.json").write_text('{"instruction": "a"}', encoding="utf-8")
    assert "missing output" in read_dataset_split(data / "eval.json").bad_rows[0]  # reported, not dropped


def test_truncation_is_caught_with_a_suggestion(tiny_model, tmp_path):
    long_answer = " ".join(["The quick brown fox jumps over the lazy dog."] * 12)
    report, checks = _report(
        tiny_model, _write_data(tmp_path / "data", _rows(60, long_answer)), tmp_path, max_seq_len=64
    )
    check = checks["token lengths"]
    assert not report.ok and check.status == "fail"
    assert check.details["truncated"] == 60
    assert check.details["suggested_max_seq_len"] > check.details["max"] > 64
    assert str(check.details["suggested_max_seq_len"]) in check.fix


def _model_copy(tiny_model: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    return copy


def test_base_model_without_chat_template_gets_the_projects(tiny_model, tmp_path):
    model = _model_copy(tiny_model, tmp_path)
    (model / "chat_template.jinja").unlink(missing_ok=True)
    tok_config = json.loads((model / "tokenizer_config.json").read_text())
    tok_config.pop("chat_template", None)
    (model / "tokenizer_config.json").write_text(json.dumps(tok_config))
    report, checks = _report(model, _write_data(tmp_path / "data", _rows(60)), tmp_path)
    check = checks["chat template / EOS"]
    assert report.ok and check.status == "ok"
    assert "### Instruction / ### Response ended by '<|im_end|>', added by Tunesmith" in check.message


def test_eos_token_mismatch_fails(tiny_model, tmp_path):
    model = _model_copy(tiny_model, tmp_path)
    tok_config = json.loads((model / "tokenizer_config.json").read_text())
    tok_config["eos_token"] = "<s>"  # the template still ends turns with <|im_end|>
    (model / "tokenizer_config.json").write_text(json.dumps(tok_config))
    report, checks = _report(model, _write_data(tmp_path / "data", _rows(60)), tmp_path)
    check = checks["chat template / EOS"]
    assert not report.ok and check.status == "fail"
    assert "<|im_end|>" in check.message and "never learn to stop" in check.message


def test_generation_config_eos_mismatch_fails(tiny_model, tmp_path):
    model = _model_copy(tiny_model, tmp_path)
    gen = json.loads((model / "generation_config.json").read_text())
    gen["eos_token_id"] = 3  # <s>, not <|im_end|>
    (model / "generation_config.json").write_text(json.dumps(gen))
    report, checks = _report(model, _write_data(tmp_path / "data", _rows(60)), tmp_path)
    check = checks["chat template / EOS"]
    assert not report.ok and "generation_config" in check.fix


def test_missing_model_fails_clearly(tmp_path):
    report, checks = _report(tmp_path / "no-such-model", _write_data(tmp_path / "data", _rows(60)), tmp_path)
    assert not report.ok
    assert checks["base model"].status == "fail" and "is not on this machine" in checks["base model"].message
    report, checks = _report("some-org/not-downloaded-7b", tmp_path / "data", tmp_path)
    assert checks["base model"].status == "fail"


def test_memory_fail_when_gpu_too_small_and_cpu_warning(tiny_model, tmp_path, monkeypatch):
    from tools.training import preflight

    data = _write_data(tmp_path / "data", _rows(60))
    report, checks = _report(tiny_model, data, tmp_path, gpu_gb=0.1)
    assert not report.ok and checks["memory"].status == "fail" and checks["memory"].fix
    report, checks = _report(tiny_model, data, tmp_path, gpu_gb=None)  # this machine has no GPU
    assert report.ok and checks["memory"].status == "ok" and "CPU" in checks["memory"].message  # small: fine
    monkeypatch.setattr(preflight, "CPU_FRIENDLY_PARAMS", 10)  # as if the model were a 7B one
    report, checks = _report(tiny_model, data, tmp_path, gpu_gb=None)
    assert checks["memory"].status == "warn" and "trains very slowly on a CPU" in checks["memory"].message
    assert "built-in gemma-3-270m" in checks["memory"].fix


def _cli(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    model_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_exit_codes(tiny_model, tmp_path, capsys):
    good = _write_data(tmp_path / "good", _rows(60))
    assert _cli(["preflight", "--base-model", str(tiny_model), "--data", str(good), "--gpu-gb", "24"]) == 0
    assert "GO" in capsys.readouterr().out
    few = _write_data(tmp_path / "few", _rows(3))
    assert _cli(["preflight", "--base-model", str(tiny_model), "--data", str(few), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False
    with pytest.raises(UserError, match="train.json"):  # the CLI prints it and exits 2
        _cli(["preflight", "--base-model", str(tiny_model), "--data", str(tmp_path / "empty")])


def test_console_script_exit_codes(tiny_model, tmp_path, capsys):
    from tools.cli import main

    good = _write_data(tmp_path / "good", _rows(60))
    assert main(["preflight", "--base-model", str(tiny_model), "--data", str(good), "--gpu-gb", "24"]) == 0
    assert main(["preflight", "--base-model", str(tmp_path / "nope"), "--data", str(good)]) == 2  # usage
    assert main(["preflight", "--base-model", str(tiny_model), "--data", str(tmp_path / "none")]) == 2
    assert "error: invalid training config" in capsys.readouterr().err
    assert main(["estimate", "--params", "7B", "--gpu-gb", "8"]) == 0
    assert main(["estimate", "--params", "seven"]) == 2


def test_lengths_of_a_huge_dataset_are_measured_on_its_longest_texts_and_a_sample(monkeypatch):
    from tools.training import preflight

    monkeypatch.setattr(preflight, "MAX_LENGTH_CHECKS", 50)
    samples = [AlpacaSample(instruction=f"q{i}", output="a" * (i % 7 + 1)) for i in range(1000)]
    samples.append(AlpacaSample(instruction="the longest question of all " * 20, output="x"))
    checked = preflight.length_sample(samples)
    assert len(checked) == 50 and samples[-1] in checked  # the likeliest to be cut is always measured
    assert preflight.length_sample(samples[:40]) == samples[:40]


def test_length_sample_chosen_while_streaming_keeps_the_longest_and_is_seeded():
    from tools.training.preflight import LengthSample

    samples = [AlpacaSample(instruction=f"q{i}", output="a" * (i % 7 + 1)) for i in range(1000)]
    samples.insert(500, AlpacaSample(instruction="the longest question of all " * 20, output="x"))
    runs = []
    for _ in range(2):
        chosen = LengthSample(limit=50)
        for sample in samples:
            chosen.add(sample)
        runs.append(chosen.samples())
    assert runs[0] == runs[1] and len(runs[0]) == 50 and runs[0][0] == samples[500]
    assert len({s.instruction for s in runs[0][10:]}) == 40  # the reservoir holds 40 different samples


def test_a_split_with_thousands_of_bad_rows_is_counted_whole(tiny_model, tmp_path):
    from tools.training import preflight

    rows = _rows(60) + [{"instruction": f"q{i}"} for i in range(1500)]
    report, checks = _report(tiny_model, _write_data(tmp_path / "data", rows), tmp_path)
    assert not report.ok and checks["data"].message.startswith("1500 invalid row(s)")
    assert "(1490 more)" in checks["data"].message
    assert len(checks["data"].details["bad_rows"]) == preflight.MAX_BAD_ROWS_KEPT
    assert preflight.count_train_samples(tmp_path / "data") == 60
