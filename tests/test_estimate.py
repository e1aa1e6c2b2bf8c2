"""The memory estimator against published figures, and its CLI."""

from __future__ import annotations

import json

import pytest

from tools.errors import UserError
from tools.training import model_cli
from tools.training.estimate import estimate_training_memory, llama_like_arch, parse_params

# LLaMA-Factory README, "Hardware Requirement" (GPU memory each setting needs, GB; seq/batch unstated, so
# we use 1024 tokens, batch 1, gradient checkpointing on - LLaMA-Factory's defaults).
# Those figures are GPU classes (6/12/24/48 GB cards), so an estimate must not exceed them by more than 10 %
# and must not be so low (< 75 %) that it would promise a smaller card than people actually need.
LLAMA_FACTORY_TABLE = [
    ("qlora", 7, 6),
    ("qlora", 13, 12),
    ("qlora", 14, 12),
    ("qlora", 30, 24),
    ("qlora", 70, 48),
    ("lora", 7, 16),
    ("lora", 14, 32),
    ("lora", 30, 64),
    ("lora", 70, 160),
    ("full", 7, 120),
    ("full", 14, 240),
    ("full", 30, 600),
    ("full", 70, 1200),  # bf16/fp16 mixed, AdamW
]


@pytest.mark.parametrize(("method", "params_b", "published_gb"), LLAMA_FACTORY_TABLE)
def test_matches_llama_factory_hardware_table(method, params_b, published_gb):
    estimate = estimate_training_memory(params_b, method)
    assert 0.75 * published_gb <= estimate.total_gb <= 1.10 * published_gb, estimate.breakdown


def test_full_7b_lies_between_pure_bf16_and_mixed_precision_figures():
    # LLaMA-Factory: full pure_bf16 7B = 60 GB, full mixed (fp32 master) 7B = 120 GB.
    assert 60 <= estimate_training_memory(7, "full").total_gb <= 120


def test_qlora_paper_claims():
    # QLoRA (Dettmers et al. 2023): a 65B model fine-tunes on one 48 GB GPU, 33B on a 24 GB consumer GPU,
    # while 16-bit full fine-tuning of 65B needs more than 780 GB.
    assert estimate_training_memory(65, "qlora", gpu_gb=48).fits is True
    assert estimate_training_memory(33, "qlora", gpu_gb=24).fits is True
    assert estimate_training_memory(7, "qlora", gpu_gb=12).fits is True
    assert estimate_training_memory(65, "full").total_gb > 780


def test_llama_like_arch_reproduces_llama2_shapes():
    arch7, arch13 = llama_like_arch(7), llama_like_arch(13)
    assert (arch7.hidden_size, arch7.intermediate_size) == (4096, 11008)
    assert (arch13.hidden_size, arch13.num_layers, arch13.intermediate_size) == (5120, 40, 13824)
    assert abs(arch7.total_params() / 7e9 - 1) < 0.02


def test_lora_adapter_count_matches_known_value():
    # Llama-2-7B, r=16 on all 7 linears: peft reports 39,976,960 trainable parameters.
    arch = {"hidden_size": 4096, "num_layers": 32, "intermediate_size": 11008, "vocab_size": 32000}
    estimate = estimate_training_memory(6.74, "qlora", **arch)
    assert estimate.trainable_params_m == pytest.approx(39.98, abs=0.01)


def test_breakdown_responds_to_settings():
    base = estimate_training_memory(7, "qlora")
    assert sum(base.breakdown.values()) == pytest.approx(base.total_gb, abs=0.02)
    no_ckpt = estimate_training_memory(7, "qlora", gradient_checkpointing=False)
    assert no_ckpt.breakdown["activations"] > 3 * base.breakdown["activations"]
    assert estimate_training_memory(7, "qlora", batch_size=4).total_gb > base.total_gb
    assert estimate_training_memory(7, "qlora", lora_r=64).breakdown["adapters"] == pytest.approx(
        4 * base.breakdown["adapters"], rel=0.01
    )
    assert estimate_training_memory(7, "lora").breakdown["weights"] > 3 * base.breakdown["weights"]
    single = estimate_training_memory(7, "qlora", double_quant=False)
    assert single.breakdown["weights"] > base.breakdown["weights"]


def test_fits_and_advice():
    tight = estimate_training_memory(7, "lora", batch_size=4, gpu_gb=12)
    assert tight.fits is False
    assert any("QLoRA" in tip for tip in tight.advice)
    assert any("batch_size" in tip for tip in tight.advice)
    roomy = estimate_training_memory(1.5, "qlora", gpu_gb=80)
    assert roomy.fits is True and "to spare" in roomy.advice[0]
    assert estimate_training_memory(7, "qlora").fits is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7B", 7.0), ("0.5B", 0.5), ("1.5b", 1.5), ("350M", 0.35), ("13", 13.0), (" 70 B ", 70.0)],
)
def test_parse_params(text, expected):
    assert parse_params(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["seven", "7X", "", "-1B", "0B"])
def test_parse_params_rejects_bad_sizes(text):
    with pytest.raises(UserError, match="7B"):
        parse_params(text)


def test_bad_method_and_arch_rejected():
    with pytest.raises(UserError, match="qlora"):
        estimate_training_memory(7, "ptuning")
    with pytest.raises(UserError, match="unknown architecture"):
        estimate_training_memory(7, "qlora", hidden=4096)


def _parse(argv: list[str]):
    import argparse

    parser = argparse.ArgumentParser()
    model_cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_estimate_json(capsys):
    args = _parse(["estimate", "--params", "7B", "--method", "qlora", "--gpu-gb", "24", "--json"])
    assert args.func(args) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["fits"] is True and set(payload["breakdown"]) >= {"weights", "activations", "overhead"}


def test_cli_estimate_text_and_bad_size(capsys):
    args = _parse(
        ["estimate", "--params", "70B", "--method", "lora", "--gpu-gb", "24", "--no-gradient-checkpointing"]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "does NOT fit" in out and "QLoRA" in out
    args = _parse(["estimate", "--params", "huge"])
    with pytest.raises(UserError):
        args.func(args)


def test_model_table_shapes_match_stated_sizes():
    from tools.training.estimate import ModelArch
    from tools.training.models import BASE_MODELS

    for model in BASE_MODELS:
        counted = ModelArch(**model.arch).total_params() / 1e9
        assert abs(counted / model.params_b - 1) < 0.05, model.name


def test_suggest_base_models_ranks_for_task_gpu_and_language():
    from tools.training.models import suggest_base_models, task_kind

    assert task_kind("sentiment classification of reviews") == "classification"
    assert task_kind("information retrieval") == "general"  # 'format' inside 'information' does not count
    small_gpu = suggest_base_models("classification", gpu_gb=4, need_fast_inference=True)
    assert small_gpu and all(item["fits"] and item["memory_gb"] <= 4 for item in small_gpu)
    assert small_gpu[0]["params_b"] <= 3.5 and "classification" in small_gpu[0]["reason"]
    generation = suggest_base_models("long-form generation", gpu_gb=24)
    assert generation[0]["params_b"] >= 7
    french = suggest_base_models("chat", gpu_gb=24, languages=["French"])
    gemma = next(item for item in french if item["name"].startswith("Gemma"))
    assert "not trained for fr" in gemma["reason"] and french[0]["score"] > gemma["score"]
    nothing = suggest_base_models("chat", gpu_gb=1)
    assert len(nothing) == 1 and "nothing in the table fits" in nothing[0]["reason"]
    with pytest.raises(UserError):
        suggest_base_models("chat", gpu_gb=0)


def test_cli_models(capsys):
    args = _parse(["models", "--gpu-gb", "8", "--task", "classification", "--json"])
    assert args.func(args) == 0
    choices = json.loads(capsys.readouterr().out)
    assert choices[0]["use"] == "gemma-3-270m" and choices[0]["available"] and "Gemma" in choices[0]["licence"]
    assert all(item["fits"] for item in choices[1:])
    assert all(item["use"] == item["hub_id"] and not item["available"] for item in choices[1:])  # no hub here
    args = _parse(["models", "--task", "summarisation"])
    out = capsys.readouterr().out if args.func(args) == 0 else ""
    assert out.startswith("1. gemma-3-270m (built-in)") and "--base-model gemma-3-270m" in out


# ---- one estimator for preflight and `tunesmith estimate`; the CPU figure; no QLoRA advice without a GPU -----

@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from tools.training.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _tiny_data(folder):
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"instruction": "Classify the sentiment.", "input": f"review number {i} " + "word " * (i % 7),
             "output": "positive" if i % 2 else "negative, with a longer answer"} for i in range(40)]
    (folder / "train.json").write_text(json.dumps(rows), encoding="utf-8")
    return folder


def test_preflight_and_estimate_give_the_same_figure(tiny_model, tmp_path, capsys):
    from tools.training.config import TrainConfig
    from tools.training.preflight import run_preflight

    data = _tiny_data(tmp_path / "data")
    for batch in (1, 4, 8):
        config = TrainConfig(base_model=str(tiny_model), data_dir=data, out_dir=tmp_path / "run", batch_size=batch)
        memory = next(c for c in run_preflight(config).checks if c.name == "memory")
        args = _parse(["estimate", "--base-model", str(tiny_model), "--data", str(data), "--batch-size", str(batch),
                       "--json"])
        assert args.func(args) == 0
        cli = json.loads(capsys.readouterr().out)
        preflight = memory.details["estimate"]
        assert (cli["total_gb"], cli["breakdown"], cli["method"], cli["device"]) == (
            preflight["total_gb"], preflight["breakdown"], preflight["method"], preflight["device"])
        # the heaviest packed batch of this data: the batch longest rows, logits at their answer positions only
        assert 0 < cli["logit_tokens"] < cli["tokens"] <= batch * 128
        assert cli["workload"] == memory.details["workload"] and cli["workload"] in memory.message


def test_cpu_estimate_of_the_builtin_model_is_its_rss_not_a_gpu_figure():
    # gemma-3-270m's shapes (no weights needed); the heaviest batch of 4 rows of bench/tasks/route-ticket:
    # 170 packed tokens, 8 answer tokens. Measured peak RSS of such runs: ~2 GB (bench/bench_memory.py);
    # the old estimate said 11.9 GB (logits of batch x 1024 positions x 262k words).
    from transformers import Gemma3TextConfig

    from tools.training.estimate import Workload, estimate_for_model

    config = Gemma3TextConfig(vocab_size=262144, hidden_size=640, intermediate_size=2048, num_hidden_layers=18,
                              num_attention_heads=4, num_key_value_heads=1, head_dim=256, tie_word_embeddings=True)
    estimate, params = estimate_for_model(config, "lora", Workload(170, 8, "test"), batch_size=4, seq_len=1024,
                                          device="cpu", device_gb=16)
    assert params == pytest.approx(268e6, rel=0.01)  # tied embeddings counted once
    assert 1.5 <= estimate.total_gb <= 3.0, estimate.breakdown
    assert estimate.breakdown["weights"] == pytest.approx(1.0, abs=0.05)  # float32 on a CPU
    assert estimate.fits and "to spare" in estimate.advice[0]


def test_no_qlora_advice_without_a_gpu():
    cpu = estimate_training_memory(1.5, "lora", batch_size=8, seq_len=1024, device="cpu", gpu_gb=8)
    assert cpu.fits is False and cpu.advice
    assert not any("qlora" in tip.lower() or "4-bit" in tip for tip in cpu.advice), cpu.advice
    full = estimate_training_memory(1.5, "full", device="cpu", gpu_gb=8)
    assert any("LoRA instead of full" in tip for tip in full.advice)
    assert not any("qlora" in tip.lower() for tip in full.advice)
    gpu = estimate_training_memory(1.5, "lora", batch_size=8, seq_len=1024, device="gpu", gpu_gb=8)
    assert any("QLoRA" in tip for tip in gpu.advice)  # on a GPU it is the right advice


def test_preflight_on_a_cpu_with_little_ram_advises_no_qlora(tiny_model, tmp_path, monkeypatch):
    import os

    from tools.training.config import TrainConfig
    from tools.training.preflight import run_preflight

    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    real_sysconf = os.sysconf
    page = real_sysconf("SC_PAGE_SIZE")
    ram_gb = 0.5  # below what any training process needs
    monkeypatch.setattr(os, "sysconf", lambda name: int(ram_gb * 1024**3 / page) if name == "SC_PHYS_PAGES"
                        else real_sysconf(name))
    config = TrainConfig(base_model=str(tiny_model), data_dir=_tiny_data(tmp_path / "data"), out_dir=tmp_path / "r",
                         method="lora", batch_size=8)
    memory = next(c for c in run_preflight(config).checks if c.name == "memory")
    assert memory.status == "fail" and "CPU RAM" in memory.message and memory.fix
    assert "qlora" not in memory.fix.lower() and "4-bit" not in memory.fix, memory.fix


def test_cli_estimate_on_a_cpu_says_so_and_padded_batches_compute_every_logit(capsys):
    args = _parse(["estimate", "--params", "270M", "--device", "cpu", "--batch-size", "4", "--seq-len", "128"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "lora on this CPU" in out and "QLoRA" not in out  # auto is LoRA on a CPU, as training does
    answers = _parse(["estimate", "--params", "270M", "--device", "cpu", "--batch-size", "4", "--seq-len", "128",
                      "--answer-len", "8", "--json"])
    answers.func(answers)
    every = _parse(["estimate", "--params", "270M", "--device", "cpu", "--batch-size", "4", "--seq-len", "128",
                    "--json"])
    every.func(every)
    fewer, more = (json.loads(chunk) for chunk in capsys.readouterr().out.replace("}\n{", "}\n\n{").split("\n\n"))
    assert (fewer["tokens"], fewer["logit_tokens"], more["logit_tokens"]) == (512, 32, 512)
    assert fewer["total_gb"] < more["total_gb"]
