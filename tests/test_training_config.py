"""TrainConfig: contract defaults, explanations, validation messages with fixes, YAML/JSON loading."""
from __future__ import annotations

import json

import pytest

from tools.errors import UserError
from tools.training.config import TrainConfig, explain_parameters, load_config, save_config


@pytest.fixture()
def data_dir(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "train.json").write_text(json.dumps([{"instruction": "q", "output": "a"}]))
    return folder


def make(data_dir, **fields) -> TrainConfig:
    return TrainConfig(base_model="some/model", data_dir=data_dir, out_dir=data_dir.parent / "run", **fields)


def test_defaults_follow_the_contract(data_dir, monkeypatch):
    from tools.training import config as config_module
    from tools.training.plan import PLANNED_FIELDS, plan_training, read_data_facts

    assert (make(data_dir).method, make(data_dir).gradient_checkpointing) == ("lora", False)  # no GPU here
    monkeypatch.setattr(config_module, "has_gpu", lambda: True)
    config = make(data_dir)
    expected = dict(method="qlora", lora_r=8, lora_alpha=16, lora_dropout=0.05, target_modules="all-linear",
                    lr_scheduler="cosine", max_steps=-1, max_seq_len=1024, packing=True, seed=42,
                    gradient_checkpointing=True, save_steps=50, logging_steps=1, double_quant=True,
                    compute_dtype="auto")
    assert {name: getattr(config, name) for name in expected} == expected
    # the settings left empty are the plan's, for this data and model (size unknown: "some/model")
    plan = plan_training("qlora", read_data_facts(data_dir / "train.json"), None, gpu=True)
    assert {name: getattr(config, name) for name in PLANNED_FIELDS} == plan.settings()
    assert config.plan_note == plan.why
    assert config.data_dir.is_absolute() and config.out_dir.is_absolute()
    assert config.train_file == data_dir / "train.json" and config.eval_file is None


def test_every_parameter_is_explained(data_dir):
    rows = explain_parameters(make(data_dir, lora_r=8))
    assert [name for name, _, _ in rows] == list(TrainConfig.model_fields)
    assert all(len(explanation) > 20 for _, _, explanation in rows)
    assert ("lora_r", 8) in [(name, value) for name, value, _ in rows]


@pytest.mark.parametrize("fields, expected", [
    ({"lora_alpha": 0}, "lora_alpha=0.0 must be above 0; use about twice lora_r"),
    ({"max_seq_len": 32}, "max_seq_len=32 is too short; use at least 64"),
    ({"lora_r": 0}, "lora_r=0 must be at least 1"),
    ({"lora_dropout": 1.5}, "lora_dropout=1.5 must be in [0, 1)"),
    ({"max_steps": 0}, "max_steps=0 must be -1 (use epochs) or above 0"),
    ({"epochs": 0}, "epochs=0.0 must be above 0 (or set max_steps)"),
    ({"learning_rate": -1}, "learning_rate=-1.0 must be above 0"),
    ({"lr_scheduler": "zigzag"}, "lr_scheduler='zigzag' is unknown; use one of linear, cosine"),
    ({"compute_dtype": "int3"}, "compute_dtype='int3' is unknown"),
    ({"method": "full", "lora_r": 8}, "method 'full' trains no adapters, so lora_r cannot be used"),
    ({"method": "full", "double_quant": False}, "so double_quant cannot be used; remove them or choose"),
    ({"method": "lora", "double_quant": False}, "method 'lora' loads no 4-bit base, so double_quant"),
    ({"method": "dpo"}, "method: Input should be 'auto', 'qlora', 'lora', 'full', 'freeze', 'prompt_tuning' or "),
    ({"lora_rank": 8}, "lora_rank: unknown setting; valid ones are base_model, data_dir"),
    ({"target_modules": []}, "target_modules: is empty; use 'all-linear'"),
])
def test_invalid_settings_name_the_field_and_the_fix(data_dir, fields, expected):
    with pytest.raises(UserError) as err:
        make(data_dir, **fields)
    assert expected in err.value.message
    assert err.value.message.startswith("invalid training config: ")


def test_several_problems_are_reported_together(data_dir):
    with pytest.raises(UserError) as err:
        make(data_dir, lora_alpha=-1, max_seq_len=10)
    assert "lora_alpha" in err.value.message and "max_seq_len" in err.value.message


def test_full_fine_tune_with_default_lora_values_is_accepted(data_dir):
    config = make(data_dir, method="full")
    assert not config.uses_adapters
    assert TrainConfig(**json.loads(config.model_dump_json())) == config  # a dumped config reloads


def test_missing_data_is_refused_with_the_fix(tmp_path, data_dir):
    with pytest.raises(UserError, match="does not exist; point it at the folder the dataset tool wrote"):
        make(tmp_path / "nowhere")
    (data_dir / "train.json").unlink()
    with pytest.raises(UserError, match="train.json is missing; export the dataset"):
        make(data_dir)


def test_missing_required_fields_name_the_cli_flags(data_dir):
    with pytest.raises(UserError, match="base_model: is required .*--base-model"):
        TrainConfig(data_dir=data_dir, out_dir=data_dir)


def test_load_yaml_then_json_round_trip_with_overrides(tmp_path, data_dir):
    yaml_file = tmp_path / "train.yaml"
    yaml_file.write_text(f"base_model: m\ndata_dir: {data_dir}\nout_dir: {tmp_path / 'run'}\nlora_r: 32\n"
                         "epochs: 1.5\n")
    config = load_config(yaml_file, lora_r=None, learning_rate=1e-4)
    assert (config.lora_r, config.epochs, config.learning_rate) == (32, 1.5, 1e-4)
    saved = save_config(config, tmp_path / "run" / "config.json")
    assert load_config(saved) == config
    assert config.updated(max_steps=7, lora_r=None).max_steps == 7


@pytest.mark.parametrize("name, text, expected", [
    ("bad.yaml", "lora_r: [1,\n", "is not valid YAML"),
    ("bad.json", "{lora_r: 1", "is not valid JSON"),
    ("list.yaml", "- lora_r\n", "must map setting names to values"),
])
def test_bad_config_files(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UserError, match=expected):
        load_config(path)
    with pytest.raises(UserError, match="not found; check the path"):
        load_config(tmp_path / "missing.yaml")


def test_auto_means_one_thing_for_the_cli_and_the_app(data_dir):
    from tools.training.methods import auto_method
    from tools.training.preflight import check_sample_count

    method, why = auto_method(gpu=False)
    assert method == "lora" and "no GPU" in why and auto_method(gpu=True)[0] == "qlora"
    assert make(data_dir).method == "lora", "one row: the data does not change what auto means"
    # what the app's proposal used to do on its own below 30 samples is now the preflight's advice
    assert "method prompt_tuning" in check_sample_count(12).fix and "prompt_tuning" not in check_sample_count(40).fix
