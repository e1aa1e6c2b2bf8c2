"""The training plan a person gets without knobs: derived from model size, method and data, said in one sentence;
the person's own settings kept; what the data shows that no plan fixes is said before training."""
from __future__ import annotations

import json

import pytest

from tools.training.config import TrainConfig, load_config, save_config
from tools.training.plan import (
    MIN_UPDATES,
    DataFacts,
    answer_shape,
    data_warnings,
    model_parameters,
    plan_training,
)


def rows_file(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.json").write_text(json.dumps(rows))
    return folder


def distance_rows(n):
    return [{"instruction": "Convert miles to km.", "input": f"{i + 0.3:.1f} miles",
             "output": f"{(i + 0.3) * 1.609:.1f} km"} for i in range(1, n + 1)]


def label_rows(n):
    return [{"instruction": "Route this message.", "input": f"message number {i} about billing", "output": "billing"}
            for i in range(n)]


def test_a_small_dataset_on_the_builtin_model_gets_enough_updates_at_a_small_model_rate():
    plan = plan_training("lora", DataFacts(100, 3, 0.0), model_parameters("gemma-3-270m"), gpu=False)
    assert plan.learning_rate == 5e-4 and plan.batch_size * plan.grad_accum == 8
    assert plan.updates >= MIN_UPDATES and plan.epochs == 5
    assert "100 rows" in plan.why and "learning rate 0.0005 for a 268M model with lora" in plan.why


def test_big_data_on_a_7b_model_on_a_gpu_takes_a_smaller_rate_bigger_batches_fewer_passes():
    plan = plan_training("qlora", DataFacts(5000, 40, 0.0), model_parameters("Qwen2.5-7B-Instruct"), gpu=True)
    assert (plan.learning_rate, plan.batch_size, plan.batch_size * plan.grad_accum, plan.epochs) == (2e-4, 4, 32, 2)
    full = plan_training("full", DataFacts(5000, 40, 0.0), 7_000_000_000, gpu=True)
    prompt = plan_training("prompt_tuning", DataFacts(20, 3, 0.0), 268_000_000, gpu=False)
    assert full.learning_rate < plan.learning_rate < prompt.learning_rate


def test_the_rank_grows_with_the_data_and_only_methods_with_lora_get_one(tmp_path):
    ranks = [plan_training("lora", DataFacts(rows, 5, 0.0), 268_000_000, gpu=False)
             for rows in (100, 500, 5000, 50000)]
    assert [(p.lora_r, p.lora_alpha) for p in ranks] == [(8, 16.0), (16, 32.0), (32, 64.0), (64, 128.0)]
    assert "rank 32" in ranks[2].why
    assert plan_training("full", DataFacts(100, 5, 0.0), 268_000_000, gpu=False).lora_r is None
    data = rows_file(tmp_path / "data", label_rows(100))
    own = TrainConfig(base_model="gemma-3-270m", data_dir=data, out_dir=tmp_path / "run", method="lora", lora_r=8)
    assert (own.lora_r, own.lora_alpha) == (8, 16.0)  # alpha follows the person's own rank
    full = TrainConfig(base_model="gemma-3-270m", data_dir=data, out_dir=tmp_path / "run", method="full")
    assert (full.lora_r, full.lora_alpha) == (None, None)  # and full training is not refused for a planned rank


def test_model_size_is_read_without_loading_the_model(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"hidden_size": 64, "num_hidden_layers": 2,
                                                    "intermediate_size": 128, "vocab_size": 1000}))
    assert model_parameters(str(folder)) == 2 * (4 * 64 * 64 + 3 * 64 * 128) + 1000 * 64
    assert model_parameters("gemma-3-270m") == 268_000_000
    assert model_parameters("meta-llama/Llama-3.2-1B") == 1_000_000_000
    assert model_parameters("some/model") is None


def test_the_config_plans_what_the_person_left_empty_and_keeps_what_they_set(tmp_path):
    data = rows_file(tmp_path / "data", label_rows(100))
    planned = TrainConfig(base_model="gemma-3-270m", data_dir=data, out_dir=tmp_path / "run")
    assert (planned.learning_rate, planned.epochs, planned.batch_size) == (5e-4, 5.0, 8)
    assert planned.plan_note.startswith("100 rows in batches of 8")
    own = TrainConfig(base_model="gemma-3-270m", data_dir=data, out_dir=tmp_path / "run", learning_rate=3e-4,
                      batch_size=2)
    assert (own.learning_rate, own.batch_size, own.grad_accum, own.epochs) == (3e-4, 2, 4, 5.0)
    assert "Your own learning_rate, batch_size kept." in own.plan_note


def test_a_saved_plan_reloads_as_it_ran(tmp_path):
    data = rows_file(tmp_path / "data", label_rows(100))
    config = TrainConfig(base_model="gemma-3-270m", data_dir=data, out_dir=tmp_path / "run")
    path = tmp_path / "config.json"
    save_config(config, path)
    rows_file(data, label_rows(3000))  # the data grew since: the saved run's settings stay what ran
    assert load_config(path) == config


def test_computed_numbers_are_told_apart_from_copied_ones_and_format_constants():
    from tools.training.example import example_dataset

    assert answer_shape([(r["input"], r["output"]) for r in distance_rows(50)])[1] == 1.0
    phones = [(f"({200 + i}) 555-01{i:02d}", f"+1-{200 + i}-555-01{i:02d}") for i in range(40)]
    assert answer_shape(phones)[1] == 0.0  # "+1" is in every answer: a format constant, not arithmetic
    train, _ = example_dataset()  # month names become numbers: a lookup, mostly not flagged
    assert answer_shape([(r["input"], r["output"]) for r in train])[1] < 0.5


@pytest.mark.parametrize("parameters, says", [(268_000_000, "beyond a 268M model"), (None, "beyond a small model"),
                                              (70_000_000_000, "check the numbers")])
def test_arithmetic_in_the_data_is_said_before_training(parameters, says):
    words, share, example = answer_shape([(r["input"], r["output"]) for r in distance_rows(30)])
    warnings = data_warnings(DataFacts(30, words, share, example), parameters)
    assert len(warnings) == 1 and says in warnings[0]
    assert not data_warnings(DataFacts(30, 1, 0.0), parameters)


def test_preflight_says_the_task_is_beyond_the_model(tmp_path):
    from tools.training.preflight import check_task_fit

    data = rows_file(tmp_path / "data", distance_rows(40))
    check = check_task_fit(TrainConfig(base_model="gemma-3-270m", data_dir=data, out_dir=tmp_path / "run"))
    assert check.status == "warn" and "arithmetic is beyond a 268M model" in check.message
    data = rows_file(tmp_path / "labels", label_rows(40))
    assert check_task_fit(TrainConfig(base_model="gemma-3-270m", data_dir=data, out_dir=tmp_path / "r")).status == "ok"


def test_a_proposal_reads_the_training_split_once_and_again_when_it_changes(tmp_path, monkeypatch):
    import tools.dataset.readers as readers
    from tools.training.preflight import check_task_fit, survey_split

    opened = []
    real = readers.SampleStream

    class CountingStream(real):
        def __init__(self, path, *args, **kwargs):
            opened.append(path)
            super().__init__(path, *args, **kwargs)

    monkeypatch.setattr(readers, "SampleStream", CountingStream)
    data = rows_file(tmp_path / "data", label_rows(40))
    survey_split(data / "train.json")  # preflight's own pass
    config = TrainConfig(base_model="gemma-3-270m", data_dir=data, out_dir=tmp_path / "run")
    assert check_task_fit(config).status == "ok" and config.epochs is not None
    assert len(opened) == 1  # the plan and the task-fit check used the survey's pass
    rows_file(data, distance_rows(41))  # the person rebuilt the version: read afresh
    assert check_task_fit(config).status == "warn" and len(opened) == 2


def test_the_training_tab_reads_a_typed_setting_or_says_what_is_wrong():
    from ui.training_tab import _number

    assert _number("learning_rate", " 2e-4 ", False) == 2e-4 and _number("batch_size", "8", True) == 8
    with pytest.raises(ValueError, match="learning_rate: 'fast' is not a number; type one .* or leave the box empty"):
        _number("learning_rate", "fast", False)
    with pytest.raises(ValueError, match="batch_size: 2.5 must be a whole number"):
        _number("batch_size", "2.5", True)


def test_the_proposal_shows_template_tokens_and_the_datas_text_as_text():
    from agent.training_nodes import render_plan_markdown
    from tools.training.preflight import PreflightReport

    preflight = {"ok": True, "checks": [
        {"name": "chat template / EOS", "status": "ok", "message": "Gemma turns (<start_of_turn>user / model)"},
        {"name": "task fit", "status": "warn", "message": "e.g. '<img src=x onerror=alert(1)>'", "fix": "<b>x</b>"}]}
    text = render_plan_markdown({"plan_note": "80 rows <in batches>"}, PreflightReport.from_dict(preflight), [])
    assert "Gemma turns (&lt;start_of_turn&gt;user / model)" in text and "<img" not in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "80 rows &lt;in batches&gt;" in text
    # badges in words, readable without an emoji font
    assert "- `OK` **chat template / EOS**" in text and "- `WARN` **task fit**" in text and "✅" not in text
