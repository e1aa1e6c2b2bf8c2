"""The training run end to end on a tiny Llama built in the test: QLoRA learns, the adapter loads with plain
PEFT, progress is reported, failures are explained, killed runs resume, launcher/CLI/accelerate paths work."""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sys

import pytest

from tools.cli import main as tunesmith
from tools.dataset.schema import AlpacaSample
from tools.errors import UserError
from tools.training import launch, template, train
from tools.training.builtin import resolve_model_source
from tools.training.config import TrainConfig, save_config
from tools.training.launch import append_event, start_training
from tools.training.run_folder import read_progress, read_run, tail_log
from tools.training.template import IGNORE_INDEX

SAMPLES = [
    {"instruction": "What is the capital of Zorbia?", "output": "The capital of Zorbia is Quelm."},
    {"instruction": "Translate to Zorbian", "input": "hello", "output": "Hello is vashka in Zorbian."},
    {"instruction": "Name the river of Quelm.", "system": "You answer questions about Zorbia.",
     "output": "The river of Quelm is the Tarn."},
    {"instruction": "And its mountain?", "history": [["Where is Quelm?", "Quelm is in Zorbia."]],
     "output": "Its mountain is Brask."},
]


@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    from tools.training.tiny_model import build_tiny_model

    texts = [" ".join([s["instruction"], s.get("input", ""), s["output"]]) for s in SAMPLES]
    return build_tiny_model(tmp_path_factory.mktemp("base") / "tiny", texts)


@pytest.fixture()
def data_dir(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "train.json").write_text(json.dumps(SAMPLES), encoding="utf-8")
    return folder


@pytest.fixture()
def launch_trainer():
    """start_training that kills the trainers still running when the test ends (a failed test leaves none)."""
    processes = []

    def start(config: TrainConfig, **kwargs):
        processes.append(start_training(config, **kwargs))
        return processes[-1]

    yield start
    for process in processes:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# methods without LoRA refuse any LoRA setting changed from its default, so the tiny tests' dropout 0 is reset
LORA_DEFAULT = {"lora_dropout": TrainConfig.model_fields["lora_dropout"].default}


def tiny_config(base_model, data_dir, **fields) -> TrainConfig:
    settings = dict(max_steps=6, batch_size=2, grad_accum=1, max_seq_len=128, save_steps=3,
                    learning_rate=3e-3, lr_scheduler="constant", lora_dropout=0.0)
    return TrainConfig(base_model=str(base_model), data_dir=data_dir, out_dir=data_dir.parent / "run",
                       **{**settings, **fields})


def events_of(run_dir, kind: str) -> list[dict]:
    return [e for e in read_progress(run_dir) if e["event"] == kind]


def greedy_answers(model, tokenizer) -> list[str]:
    """The model's greedy reply to each sample's conversation, up to and including the end-of-turn token."""
    answers = []
    for sample in SAMPLES:
        conversation = template.sample_messages(AlpacaSample.model_validate(sample), with_answer=False)
        inputs = tokenizer.apply_chat_template(conversation, add_generation_prompt=True, return_tensors="pt",
                                               return_dict=True)
        output = model.generate(**inputs, max_new_tokens=24, do_sample=False)
        answers.append(tokenizer.decode(output[0, inputs["input_ids"].shape[1]:]))
    return answers


def load_4bit(path):
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                      bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.float32)
    return AutoModelForCausalLM.from_pretrained(path, quantization_config=quantization, dtype=torch.float32)


# ---- data and formatting -----------------------------------------------------------------------------------

def test_alpaca_rows_become_chat_messages():
    sample = AlpacaSample(instruction="Summarise", input="Long text.", output="Short.", system="Be brief.",
                          history=[("Hi", "Hello!")])
    assert template.sample_messages(sample) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Summarise\n\nLong text."}, {"role": "assistant", "content": "Short."},
    ]


def test_bad_training_row_is_reported_with_its_number(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps([SAMPLES[0], {"instruction": "no answer"}]))
    with pytest.raises(UserError, match=r"1 unusable sample\(s\): row 2, field 'output': missing output"):
        train.read_training_samples(path)
    path.write_text("[]")
    with pytest.raises(UserError, match="has no samples"):
        train.read_training_samples(path)
    path.write_text("{not json")
    with pytest.raises(UserError, match="row 1: line 1 is not valid JSON"):
        train.read_training_samples(path)


def answer_text(tokenizer, encoded) -> str:
    return tokenizer.decode([t for t, label in zip(encoded.input_ids, encoded.labels) if label != IGNORE_INDEX])


def test_template_without_generation_tags_falls_back_to_completion_only(base_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    sample = AlpacaSample.model_validate(SAMPLES[3])
    assert template.loss_mode(tokenizer) == "assistant_only"  # both answers, each with its end-of-turn
    assert answer_text(tokenizer, template.encode_sample(tokenizer, sample)) == (
        "Quelm is in Zorbia.<|im_end|>Its mountain is Brask.<|im_end|>")
    tokenizer.chat_template = tokenizer.chat_template.replace("{% generation %}", "").replace(
        "{% endgeneration %}", "")
    assert template.loss_mode(tokenizer) == "completion_only"  # the final answer only
    assert answer_text(tokenizer, template.encode_sample(tokenizer, sample)) == "Its mountain is Brask.<|im_end|>"
    assert template.eos_ends_assistant_turn(tokenizer)


def test_base_model_without_template_gets_the_projects_and_learns_to_stop(base_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    tokenizer.chat_template = None
    assert "Instruction / ### Response" in template.ensure_chat_template(tokenizer)
    encoded = template.encode_sample(tokenizer, AlpacaSample.model_validate(SAMPLES[1]))
    assert tokenizer.decode(encoded.input_ids).startswith("<s>### Instruction:\nTranslate to Zorbian\n\nhello")
    assert answer_text(tokenizer, encoded) == "Hello is vashka in Zorbian.<|im_end|>"
    assert template.eos_ends_assistant_turn(tokenizer)


def test_gemma_vocabulary_gets_gemma_turns_with_end_of_turn_as_eos():
    from tools.training.tiny_model import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer(["<start_of_turn> <end_of_turn>"])
    tokenizer.add_special_tokens({"additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]})
    tokenizer.chat_template = None
    assert template.ensure_chat_template(tokenizer).startswith("Gemma turns")
    sample = AlpacaSample(instruction="Q?", output="A.", system="Be brief.")
    encoded = template.encode_sample(tokenizer, sample)
    assert tokenizer.decode(encoded.input_ids) == (
        "<s><start_of_turn>user\nBe brief.\n\nQ?<end_of_turn>\n<start_of_turn>model\nA.<end_of_turn>\n")
    assert answer_text(tokenizer, encoded) == "A.<end_of_turn>"
    assert tokenizer.eos_token == "<end_of_turn>" and template.eos_ends_assistant_turn(tokenizer)


def test_packed_batch_has_no_padding_and_keeps_only_answer_positions():
    batch = train.PackedBatch()([{"input_ids": [5, 6, 7], "labels": [-100, -100, 7]},
                                 {"input_ids": [8, 9], "labels": [-100, 9]}])
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1]]  # restarting positions: separate sequences
    assert batch["logits_to_keep"].tolist() == [1, 3]  # the positions that predict 7 and 9


def test_packed_loss_equals_the_loss_of_each_sample_alone(base_model):
    """Samples packed in one row must not attend to each other: the loss is the same as unpacked."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32).eval()
    encoded = [template.encode_sample(tokenizer, AlpacaSample.model_validate(s)) for s in SAMPLES]
    features = [{"input_ids": e.input_ids, "labels": e.labels} for e in encoded]
    with torch.no_grad():
        batch = train.PackedBatch()(features)
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                       logits_to_keep=batch["logits_to_keep"], use_cache=False).logits[0]
        packed = torch.nn.functional.cross_entropy(logits, batch["labels"][0, batch["logits_to_keep"] + 1],
                                                   reduction="sum")
        alone = sum(model(input_ids=torch.tensor([f["input_ids"]]), labels=torch.tensor([f["labels"]])).loss
                    * (sum(label != IGNORE_INDEX for label in f["labels"])) for f in features)
    assert packed.item() == pytest.approx(alone.item(), rel=1e-4)


def test_unknown_base_model_says_the_hub_is_unreachable(tmp_path):
    with pytest.raises(UserError, match="is not on this machine and the hub cannot be reached"):
        resolve_model_source("no-such-org/no-such-model-xyz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="has no config.json"):
        resolve_model_source(str(tmp_path / "empty"))


def test_failure_messages_say_what_to_change(base_model, data_dir):
    import torch

    config = tiny_config(base_model, data_dir, batch_size=8, max_seq_len=1024, gradient_checkpointing=False)
    out_of_memory = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
    message = train.describe_failure(out_of_memory, config)
    for advice in ("batch_size 8 -> 4", "grad_accum 1 -> 2", "max_seq_len 1024 -> 512",
                   "gradient_checkpointing off -> on", "lora_r 8 -> 4", "--resume"):  # rank 8: planned, small data
        assert advice in message
    message = train.describe_failure(OSError(errno.ENOSPC, "No space left on device"), config)
    assert "disk is full" in message and str(config.out_dir) in message



def test_out_of_memory_advice_names_qlora_only_with_a_gpu(base_model, data_dir, monkeypatch):
    import torch

    config = tiny_config(base_model, data_dir, method="lora")
    out_of_memory = MemoryError("cannot allocate memory")
    monkeypatch.setattr(train, "has_gpu", lambda: False, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "qlora" not in train.describe_failure(out_of_memory, config)
    monkeypatch.setattr(train, "has_gpu", lambda: True, raising=False)
    assert "method lora -> qlora" in train.describe_failure(out_of_memory, config)

# ---- training in process -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_qlora_learns_the_answers_and_the_adapter_loads_with_plain_peft(base_model, data_dir):
    from peft import PeftModel
    from transformers import AutoTokenizer

    config = tiny_config(base_model, data_dir, method="qlora", max_steps=60, save_steps=30, batch_size=4)
    metrics = train.main(config)

    run = config.out_dir
    assert json.loads((run / "metrics.json").read_text()) == metrics
    assert (metrics["steps"], metrics["method"], metrics["loss_mode"]) == (60, "qlora", "assistant_only")
    assert metrics["tokens_per_s"] > 0 and metrics["device"] == "cpu"
    kinds = [e["event"] for e in read_progress(run)]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("log") == 60
    assert [e["step"] for e in events_of(run, "checkpoint")] == [30, 60]
    start, first_log = events_of(run, "start")[0], events_of(run, "log")[0]
    assert "no GPU found" in start["message"] and start["max_steps"] == 60
    assert first_log["loss"] > events_of(run, "log")[-1]["loss"]
    assert {"step", "max_steps", "epoch", "loss", "learning_rate", "time"} <= first_log.keys()
    assert (run / "checkpoints" / "checkpoint-60" / "optimizer.pt").is_file()
    assert read_run(run).status == "done"

    tokenizer = AutoTokenizer.from_pretrained(run / "adapter")
    assert tokenizer.chat_template == AutoTokenizer.from_pretrained(base_model).chat_template
    base = load_4bit(base_model)
    assert greedy_answers(base, tokenizer)[0] != SAMPLES[0]["output"] + "<|im_end|>"
    tuned = PeftModel.from_pretrained(base, run / "adapter")
    # Each answer is reproduced and ends with the EOS token, so the tuned model stops.
    assert greedy_answers(tuned, tokenizer) == [s["output"] + "<|im_end|>" for s in SAMPLES]


def test_auto_settings_pick_what_is_fast_on_a_cpu(base_model, data_dir):
    config = tiny_config(base_model, data_dir)
    assert (config.method, config.gradient_checkpointing) == ("lora", False)  # this machine has no GPU
    assert tiny_config(base_model, data_dir, method="qlora", gradient_checkpointing=True).method == "qlora"


@pytest.mark.slow
@pytest.mark.parametrize("method, fields, output", [
    ("freeze", {"train_top_layers": 1}, "model"),
    ("prompt_tuning", {"num_virtual_tokens": 4}, "adapter"),
    ("p_tuning", {"num_virtual_tokens": 4}, "adapter"),
])
def test_other_methods_train_only_what_they_name(base_model, data_dir, method, fields, output):
    metrics = train.main(tiny_config(base_model, data_dir, method=method, max_steps=3, **LORA_DEFAULT, **fields))
    assert metrics["method"] == method and metrics["steps"] == 3
    assert (data_dir.parent / "run" / output).is_dir()
    if method == "freeze":  # one of the two layers plus the final norm
        assert 0 < metrics["trainable_params"] < 128 * 128 * 12


@pytest.mark.slow
def test_a_new_round_continues_from_the_parent_adapter(base_model, data_dir, tmp_path):
    first_config = tiny_config(base_model, data_dir, max_steps=20)
    save_config(first_config, first_config.out_dir / "config.json")  # as the launcher does
    first = train.main(first_config)
    parent = data_dir.parent / "run"
    second = tiny_config(base_model, data_dir, max_steps=2).updated(out_dir=tmp_path / "run-2", parent_run=parent)
    save_config(second, second.out_dir / "config.json")  # as the launcher does
    metrics = train.main(second)
    assert metrics["parent_run"] == str(parent)
    start = events_of(tmp_path / "run-2", "start")[0]
    assert "continuing from the adapter of" in start["message"]
    assert metrics["train_loss"] < first["train_loss"]  # it starts from what the first round learned
    (data_dir / "eval.json").write_text(json.dumps(SAMPLES[:2]))
    from tools.training.evaluate import evaluate_run, format_report

    result = evaluate_run(tmp_path / "run-2")
    assert result["previous_run"] == str(parent) and result["previous"]["loss"] > 0  # compared with round 1
    assert "previous = the run this round continued from" in format_report(result)
    with pytest.raises(UserError, match="parent_run continues a LoRA adapter"):
        tiny_config(base_model, data_dir, method="full", **LORA_DEFAULT, parent_run=parent)


@pytest.mark.slow
def test_full_fine_tune_with_eval_set_saves_the_whole_model(base_model, data_dir):
    from transformers import AutoModelForCausalLM

    (data_dir / "eval.json").write_text(json.dumps(SAMPLES[:2]))
    config = tiny_config(base_model, data_dir, method="full", max_steps=4, save_steps=2, learning_rate=1e-3,
                         **LORA_DEFAULT)
    metrics = train.main(config)
    assert metrics["method"] == "full" and metrics["eval_loss"] > 0
    assert [e["step"] for e in events_of(config.out_dir, "eval")] == [2, 4]
    model = AutoModelForCausalLM.from_pretrained(config.out_dir / "model")
    assert model.config.hidden_size == 128 and not (config.out_dir / "adapter").exists()
    assert (config.out_dir / "model" / "chat_template.jinja").is_file()


@pytest.mark.slow
def test_base_model_without_generation_tags_trains_on_the_final_answer(base_model, data_dir, tmp_path):
    from transformers import AutoTokenizer

    plain_base = tmp_path / "plain-base"
    shutil.copytree(base_model, plain_base)
    tokenizer = AutoTokenizer.from_pretrained(plain_base)
    tokenizer.chat_template = tokenizer.chat_template.replace("{% generation %}", "").replace(
        "{% endgeneration %}", "")
    tokenizer.save_pretrained(plain_base)
    metrics = train.main(tiny_config(plain_base, data_dir, max_steps=2))
    assert metrics["loss_mode"] == "completion_only"
    assert "no {% generation %} tags, so the loss is on the final answer only" in events_of(
        data_dir.parent / "run", "start")[0]["message"]


@pytest.mark.slow
def test_out_of_memory_is_explained_keeps_the_checkpoint_and_resume_continues(base_model, data_dir,
                                                                              monkeypatch):
    import torch
    from transformers import Trainer

    real_step = Trainer.training_step

    def step_that_runs_out_of_memory(self, *args, **kwargs):
        if self.state.global_step == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(self, *args, **kwargs)

    config = tiny_config(base_model, data_dir)
    config_file = save_config(config, config.out_dir / "config.json")
    monkeypatch.setattr(Trainer, "training_step", step_that_runs_out_of_memory)
    assert train.run_cli(["--config", str(config_file)]) == 1
    error = read_progress(config.out_dir)[-1]
    assert error["event"] == "error" and error["error_type"] == "OutOfMemoryError"
    assert "out of memory" in error["message"] and "batch_size 2 -> 1" in error["message"]
    assert read_run(config.out_dir).status == "failed"
    assert train.last_complete_checkpoint(config.out_dir).name == "checkpoint-3"

    monkeypatch.setattr(Trainer, "training_step", real_step)
    assert train.run_cli(["--config", str(config_file)]) == 2  # a fresh start would overwrite the checkpoints
    assert "already holds checkpoints; resume with --resume" in read_progress(config.out_dir)[-1]["message"]
    metrics = train.main(config, resume=True)
    assert metrics["steps"] == 6 and metrics["resumed_from_step"] == 3
    resumed_start = events_of(config.out_dir, "start")[-1]
    assert resumed_start["step"] == 3 and resumed_start["resumed_from"].endswith("checkpoint-3")
    assert [e["step"] for e in read_progress(config.out_dir) if e["event"] == "log"][-3:] == [4, 5, 6]


@pytest.mark.slow
def test_full_disk_while_saving_a_checkpoint_is_explained(base_model, data_dir, monkeypatch):
    from transformers import Trainer

    def save_on_a_full_disk(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    config = tiny_config(base_model, data_dir, max_steps=2, save_steps=1)
    monkeypatch.setattr(Trainer, "_save_checkpoint", save_on_a_full_disk)
    assert train.run_cli(["--config", str(save_config(config, config.out_dir / "config.json"))]) == 1
    error = read_progress(config.out_dir)[-1]
    assert error["event"] == "error" and error["message"].startswith("the disk is full while writing to")


# ---- launcher and run folder -------------------------------------------------------------------------------

def test_progress_reader_skips_a_half_written_line_and_shows_a_broken_one(tmp_path):
    append_event(tmp_path, "start", step=0)
    with (tmp_path / "progress.jsonl").open("a") as handle:
        handle.write('{"event": "log", "ste')
    assert [e["event"] for e in read_progress(tmp_path)] == ["start"]
    with (tmp_path / "progress.jsonl").open("a") as handle:
        handle.write("\n")
    assert read_progress(tmp_path)[-1]["event"] == "unreadable"
    assert read_run(tmp_path).status == "interrupted"  # no final event and no trainer alive
    assert read_run(tmp_path / "nothing").status == "not_started"


def test_a_trainer_that_dies_silently_is_recorded_as_failed(base_model, data_dir, launch_trainer,
                                                             monkeypatch):
    crash = [sys.executable, "-c", "import sys; print('boom: import failed'); sys.exit(3)"]
    monkeypatch.setattr(launch, "trainer_command", lambda *args: crash)
    process = launch_trainer(tiny_config(base_model, data_dir))
    events = list(process.follow(poll_s=0.05, timeout=30))
    assert process.returncode == 3
    assert events[-1]["event"] == "error" and "status 3" in events[-1]["message"]
    assert "boom: import failed" in events[-1]["message"]
    assert read_run(process.run_dir).status == "failed"


def test_accelerate_command_line():
    command = launch.trainer_command(launch.Path("/r/config.json"), resume=True, num_processes=2)
    assert command[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert command[command.index("--num_processes") + 1] == "2"
    assert command[-5:] == ["-m", "tools.training.train", "--config", "/r/config.json", "--resume"]


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint_with_the_step_count_continuing(base_model, data_dir,
                                                                                   launch_trainer):
    config = tiny_config(base_model, data_dir, max_steps=2000, save_steps=4)
    process = launch_trainer(config)
    for event in process.follow(poll_s=0.05, timeout=120):
        if event["event"] == "checkpoint":
            process.popen.send_signal(signal.SIGKILL)
            break
    assert process.wait(30) == -signal.SIGKILL
    assert read_run(config.out_dir).status == "interrupted"
    checkpoint = train.last_complete_checkpoint(config.out_dir)
    saved_step = int(checkpoint.name.split("-")[1])
    assert saved_step >= 4 and saved_step % 4 == 0

    resumed = launch_trainer(config.updated(max_steps=saved_step + 3), resume=True)
    events = list(resumed.follow(poll_s=0.1, timeout=120))
    assert resumed.wait(30) == 0, tail_log(resumed.log_path)
    assert events[0]["event"] == "start" and events[0]["step"] == saved_step
    assert [e["step"] for e in events if e["event"] == "log"] == [saved_step + n for n in (1, 2, 3)]
    assert events[-1]["event"] == "done" and events[-1]["metrics"]["resumed_from_step"] == saved_step
    assert read_run(config.out_dir).status == "done"


@pytest.mark.slow
def test_cancel_stops_the_trainer_and_records_it(base_model, data_dir, launch_trainer):
    process = launch_trainer(tiny_config(base_model, data_dir, max_steps=5000, save_steps=1000))
    for event in process.follow(poll_s=0.05, timeout=120):
        if event["event"] == "log":
            break
    assert read_run(process.run_dir).status == "running"
    process.cancel(grace_s=10)
    assert process.returncode is not None and process.returncode != 0
    assert read_progress(process.run_dir)[-1]["event"] == "cancelled"
    assert read_run(process.run_dir).status == "cancelled"


@pytest.mark.slow
def test_accelerate_launch_trains_with_two_processes(base_model, data_dir, launch_trainer):
    process = launch_trainer(tiny_config(base_model, data_dir, max_steps=4, save_steps=2), num_processes=2)
    events = list(process.follow(poll_s=0.1, timeout=240))
    assert process.wait(30) == 0, tail_log(process.log_path, 200)
    assert events[0]["event"] == "start" and events[0]["processes"] == 2
    assert events[-1]["event"] == "done" and events[-1]["metrics"]["processes"] == 2
    assert [e["step"] for e in events if e["event"] == "log"] == [1, 2, 3, 4]
    assert (process.run_dir / "adapter" / "adapter_model.safetensors").is_file()


# ---- CLI ---------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_cli_trains_in_the_foreground(base_model, data_dir, capsys):
    out = data_dir.parent / "cli-run"
    code = tunesmith(["train", "--base-model", str(base_model), "--data", str(data_dir), "--out", str(out),
                      "--max-steps", "2", "--batch-size", "2", "--max-seq-len", "128", "--lr", "1e-3",
                      "--lora-r", "8", "--lora-alpha", "16", "--skip-preflight"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "step 2/2  loss" in printed and "done: finished; adapter saved to" in printed
    saved = json.loads((out / "config.json").read_text())
    assert (saved["lora_r"], saved["lora_alpha"], saved["learning_rate"]) == (8, 16, 1e-3)


def test_cli_refuses_when_preflight_fails_and_on_unknown_models(base_model, data_dir, capsys, monkeypatch):
    from tools.training import preflight

    failing = preflight.PreflightReport(False, [
        preflight.Check("sample count", "fail", "only 4 samples", "add samples"),
        preflight.Check("memory", "warn", "CPU is slow")])
    monkeypatch.setattr(preflight, "run_preflight", lambda config: failing)
    out = str(data_dir.parent / "cli-run")
    code = tunesmith(["train", "--base-model", str(base_model), "--data", str(data_dir), "--out", out])
    printed = capsys.readouterr().out
    assert code == 1 and "--skip-preflight" in printed
    assert "[FAIL] sample count: only 4 samples\n       fix: add samples" in printed and "[WARN] memory" in printed
    assert not (data_dir.parent / "cli-run" / "progress.jsonl").exists()
    code = tunesmith(["train", "--base-model", "nobody/nothing-7b", "--data", str(data_dir), "--out", out])
    assert code == 2 and "is not on this machine and the hub cannot be reached" in capsys.readouterr().err
    code = tunesmith(["train", "--base-model", str(base_model), "--data", str(data_dir), "--out", out,
                      "--lora-alpha", "0"])
    assert code == 2 and "lora_alpha=0.0 must be above 0" in capsys.readouterr().err
