"""Export/merge, inference and evaluation on a tiny model with a hand-made (non-zero) adapter."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
import torch

from tools.errors import UserError
from tools.training import model_cli
from tools.training.config import TrainConfig, save_config
from tools.training.evaluate import evaluate_run, exact_match, rouge_l_f1
from tools.training.export import export_run, go_template
from tools.training.inference import chat, clear_cache, load_tuned
from tools.training.tiny_model import build_tiny_model

SAMPLES = [
    {"instruction": "Classify the sentiment.", "input": f"review {i}: great product", "output": "positive"}
    for i in range(12)
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A RUN folder as the trainer leaves it: config.json, adapter/ (PEFT adapter + tokenizer), data."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path_factory.mktemp("export")
    base = build_tiny_model(root / "base")
    data = root / "data"
    data.mkdir()
    (data / "train.json").write_text(json.dumps(SAMPLES), encoding="utf-8")
    (data / "eval.json").write_text(json.dumps(SAMPLES[:4]), encoding="utf-8")
    run = root / "run"
    save_config(TrainConfig(base_model=str(base), data_dir=data, out_dir=run), run / "config.json")
    model = AutoModelForCausalLM.from_pretrained(base)
    peft_model = get_peft_model(
        model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM")
    )
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.2)  # lora_B starts at zero: perturb it so the adapter changes the model
    peft_model.save_pretrained(run / "adapter")
    AutoTokenizer.from_pretrained(base).save_pretrained(run / "adapter")
    return run


def _peft_logits(run: Path, input_ids: torch.Tensor) -> torch.Tensor:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    config = json.loads((run / "config.json").read_text())
    model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(config["base_model"]), run / "adapter"
    )
    with torch.no_grad():
        return model.eval()(input_ids=input_ids).logits


def test_merge_reproduces_the_adapter_model(run_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    written = export_run(run_dir, tmp_path / "out", merge=True)
    merged_dir = Path(written["merged"])
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    assert not any("lora" in name for name, _ in merged.named_parameters())
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    assert tokenizer.chat_template and tokenizer.eos_token == "<|im_end|>"
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Classify the sentiment."}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )["input_ids"]
    with torch.no_grad():
        merged_logits = merged(input_ids=ids).logits
    peft_logits = _peft_logits(run_dir, ids)
    config = json.loads((run_dir / "config.json").read_text())
    base = AutoModelForCausalLM.from_pretrained(config["base_model"]).eval()
    with torch.no_grad():
        base_logits = base(input_ids=ids).logits
    assert torch.allclose(merged_logits, peft_logits, atol=1e-4)
    assert not torch.allclose(merged_logits, base_logits, atol=1e-2)  # the adapter really changed the model
    assert GenerationConfig.from_pretrained(merged_dir).eos_token_id == tokenizer.convert_tokens_to_ids(
        "<|im_end|>"
    )


def test_export_writes_serving_files(run_dir, tmp_path):
    out = tmp_path / "out"
    written = export_run(run_dir, out, merge=True)
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert f"vllm serve {out / 'merged'}" in (out / "vllm_serve.sh").read_text()
    modelfile = (out / "Modelfile").read_text()
    assert f"FROM {out / 'merged'}" in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile
    assert "{{ .Prompt }}<|im_end|>\n<|im_start|>assistant\n{{ .Response }}<|im_end|>" in modelfile
    assert "vllm serve" in (out / "README.txt").read_text() and set(written) >= {"Modelfile", "README.txt"}


def test_adapter_only_export_uses_enable_lora(run_dir, tmp_path):
    out = tmp_path / "adapter-only"
    written = export_run(run_dir, out, merge=False)
    assert "merged" not in written
    command = (out / "vllm_serve.sh").read_text()
    assert "--enable-lora" in command and f"adapter-only={out / 'adapter'}" in command
    assert f"ADAPTER {out / 'adapter'}" in (out / "Modelfile").read_text()
    with pytest.raises(UserError, match="not empty"):
        export_run(run_dir, out, merge=False)


def test_an_export_that_fails_half_way_leaves_nothing(run_dir, tmp_path, monkeypatch):
    from tools.training import export

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")  # the disk fills after the adapter was copied

    monkeypatch.setattr(export, "ollama_modelfile", fail)
    with pytest.raises(OSError):
        export_run(run_dir, tmp_path / "exp", merge=False)
    assert list(tmp_path.iterdir()) == []  # neither a half export nor its temporary folder


def test_go_template_reproduces_chatml(run_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(run_dir / "adapter")
    template = go_template(tokenizer)
    with_system = (
        template.split("{{ else }}")[0].removeprefix("{{ if .System }}") + template.split("{{ end }}", 1)[1]
    )
    rendered = (
        with_system.replace("{{ .System }}", "S")
        .replace("{{ .Prompt }}", "Q")
        .replace("{{ .Response }}", "A")
    )
    expected = tokenizer.apply_chat_template(
        [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "Q"},
            {"role": "assistant", "content": "A"},
        ],
        tokenize=False,
    )
    assert rendered == expected
    tokenizer.chat_template = (  # a Gemma-like template that refuses system turns
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system') }}{% endif %}"
        "<turn>{{ m['content'] }}<|im_end|>{% endfor %}{% if add_generation_prompt %}<turn>{% endif %}"
    )
    assert go_template(tokenizer) == "<turn>{{ .Prompt }}<|im_end|><turn>{{ .Response }}<|im_end|>"


def test_chat_answers_and_caches(run_dir):
    clear_cache()
    tuned = load_tuned(run_dir)
    assert tuned.is_adapter and load_tuned(run_dir) is tuned
    answer = chat(tuned, "Classify the sentiment.", max_new_tokens=5)
    assert isinstance(answer.text, str) and isinstance(answer.stopped, bool)
    base = load_tuned(run_dir, base_only=True)
    assert not base.is_adapter
    with pytest.raises(UserError, match="role"):
        chat(tuned, [{"role": "robot", "content": "hi"}])
    with pytest.raises(UserError, match="neither"):
        load_tuned(run_dir.parent)


def test_evaluate_run_scores_base_and_tuned(run_dir):
    result = evaluate_run(run_dir, max_samples=3)
    assert result["samples"] == 3 and result["short_answers"] is True
    for name in ("base", "tuned"):
        assert math.isfinite(result[name]["loss"]) and result[name]["perplexity"] >= 1
        assert 0 <= result[name]["rouge_l"] <= 1 and result[name]["exact_match"] is not None
    assert result["base"]["loss"] != result["tuned"]["loss"]
    assert result["side_by_side"][0]["reference"] == "positive"
    assert json.loads((run_dir / "eval.json").read_text())["tuned"] == result["tuned"]
    cases = result["cases"]
    assert len(cases) == 3 and result["tuned"]["stop_rate"] == round(sum(c["stopped"] for c in cases) / 3, 4)
    # the eval rows are copies of training rows: listed as leaks, left out of the score, said in words
    assert [leak["eval_index"] for leak in result["leaks"]] == [0, 1, 2]
    assert all(c["kinds"][0] == "near_twin" for c in cases)
    assert result["verdict"]["level"] == "not_yet" and "No honest score" in result["verdict"]["headline"]


def test_try_it_caps_answers_at_the_runs_longest_answer_and_says_when_cut(run_dir):
    from tools.training.inference import answer_cap, try_run

    cap = answer_cap(run_dir, load_tuned(run_dir).tokenizer)
    assert cap == 32  # "positive" is a couple of tokens: the floor
    answer, note = try_run(run_dir, "Classify the sentiment.")
    stopped = chat(load_tuned(run_dir), "Classify the sentiment.", max_new_tokens=cap).stopped
    assert (note == "") == stopped and (stopped or f"cut at {cap} tokens" in note)
    with pytest.raises(UserError, match="max_new_tokens=0 must be between 1 and 8192"):
        try_run(run_dir, "hi", max_new_tokens=0)


def test_metrics_on_hand_made_strings():
    assert exact_match("Positive.", "  positive") and not exact_match("positive", "negative")
    assert rouge_l_f1("the cat sat on the mat", "the cat is on the mat") == pytest.approx(5 / 6)
    assert rouge_l_f1("a b c d", "a b c d") == 1.0
    assert rouge_l_f1("x y", "a b") == 0.0
    # LCS is "the gunman": precision = recall = 2/4
    assert rouge_l_f1("police killed the gunman", "the gunman kill police") == pytest.approx(0.5)
    assert rouge_l_f1("", "") == 1.0 and rouge_l_f1("a", "") == 0.0


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    model_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_commands(run_dir, tmp_path, capsys):
    assert _cli(["chat", "--run", str(run_dir), "Classify the sentiment.", "--max-new-tokens", "3"]) == 0
    assert _cli(["chat", "--run", str(run_dir), "--base-only", "hello", "--max-new-tokens", "3"]) == 0
    assert _cli(["export", "--run", str(run_dir), "--out", str(tmp_path / "cli-out")]) == 0
    assert "Modelfile" in capsys.readouterr().out
    assert _cli(["evaluate", "--run", str(run_dir), "--max-samples", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 2
    with pytest.raises(UserError, match="not a folder"):
        _cli(["chat", "--run", str(tmp_path / "missing"), "hi"])


def test_compare_candidates_ranks_local_models(run_dir, tmp_path):
    from tools.training.models import compare_candidates

    config = json.loads((run_dir / "config.json").read_text())
    merged = export_run(run_dir, tmp_path / "out", merge=True)["merged"]
    eval_file = Path(config["data_dir"]) / "eval.json"
    rows = compare_candidates([config["base_model"], merged, tmp_path / "missing"], eval_file)
    scored = [row for row in rows if "error" not in row]
    assert len(scored) == 2 and all(math.isfinite(row["nats_per_char"]) for row in scored)
    assert scored[0]["nats_per_char"] <= scored[1]["nats_per_char"]
    assert rows[-1]["model"] == str(tmp_path / "missing") and "is not on this machine" in rows[-1]["error"]


@pytest.mark.slow
def test_trained_qlora_run_evaluates_better_and_merges_in_full_precision(tmp_path):
    """The whole path on a real (tiny) QLoRA run: train, evaluate against the base, merge, chat with it."""
    from tools.training import train
    from tools.training.inference import ModelBundle, load_causal_lm, load_tokenizer

    pairs = [
        ("I love it", "positive"),
        ("I hate it", "negative"),
        ("great product", "positive"),
        ("awful service", "negative"),
    ]
    rows = [
        {"instruction": "Classify the sentiment.", "input": text, "output": label} for text, label in pairs
    ] * 3
    base = build_tiny_model(tmp_path / "base", texts=[f"{text} {label}" for text, label in pairs])
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.json").write_text(json.dumps(rows), encoding="utf-8")
    (data / "eval.json").write_text(json.dumps(rows[:4]), encoding="utf-8")
    config = TrainConfig(
        base_model=str(base),
        data_dir=data,
        out_dir=tmp_path / "run",
        method="qlora",
        max_steps=60,
        learning_rate=3e-3,
        lr_scheduler="constant",
        lora_dropout=0.0,
        batch_size=4,
        grad_accum=1,
        max_seq_len=128,
        save_steps=1000,
    )
    save_config(config, config.out_dir / "config.json")  # as the launcher does
    train.main(config)

    result = evaluate_run(config.out_dir)
    assert result["tuned"]["loss"] < result["base"]["loss"] - 1
    assert result["tuned"]["rouge_l"] > result["base"]["rouge_l"]

    merged_dir = export_run(config.out_dir, tmp_path / "out", merge=True)["merged"]
    merged = ModelBundle(load_causal_lm(merged_dir), load_tokenizer(merged_dir), merged_dir, False)
    assert all(p.dtype == torch.float32 for p in merged.model.parameters())  # not the 4-bit training base
    tuned = load_tuned(config.out_dir, quantize=False)
    prompts = [f"Classify the sentiment.\n\n{text}" for text, _ in pairs]
    assert [chat(merged, p, max_new_tokens=4) for p in prompts] == [
        chat(tuned, p, max_new_tokens=4) for p in prompts
    ]


def test_the_app_shows_metrics_and_every_example_side_by_side_with_model_text_escaped():
    from ui.training_tab import evaluation_tables

    result = {"eval_file": "ds/eval.json", "samples": 2,
              "base": {"loss": 6.4, "perplexity": 601.2, "rouge_l": 0.0},
              "tuned": {"loss": 1.25, "perplexity": 3.49, "rouge_l": 0.8125},
              "side_by_side": [
                  {"prompt": "Q1", "reference": "a | b", "base": "<script>x</script>", "tuned": "a | b"},
                  {"prompt": "Q2\nline 2", "reference": "c", "base": "", "tuned": "c"}]}
    text = evaluation_tables(result)
    assert "| loss | 6.4 | 1.25 |" in text and "| rouge_l | 0 | 0.8125 |" in text
    assert "| 1 | Q1 | a \\| b | &lt;script&gt;x&lt;/script&gt; | a \\| b |" in text
    assert "| 2 | Q2<br>line 2 | c | _(empty)_ | c |" in text


def test_answer_loss_of_a_prompt_tuning_model_lines_up_with_its_own_loss(tmp_path):
    """Prompt tuning puts virtual tokens before the prompt, so their logits come first: the loss must skip them."""
    from peft import PromptTuningConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tools.dataset.schema import AlpacaSample
    from tools.training.evaluate import answer_loss
    from tools.training.inference import ModelBundle
    from tools.training.template import IGNORE_INDEX, encode_sample

    base = build_tiny_model(tmp_path / "base", texts=["Say hi. Hi there."])
    tokenizer = AutoTokenizer.from_pretrained(base)
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4)).eval()
    sample = AlpacaSample(instruction="Say hi.", output="Hi there.")
    encoded = encode_sample(tokenizer, sample)
    with torch.no_grad():
        expected = model(input_ids=torch.tensor([encoded.input_ids]), labels=torch.tensor([encoded.labels])).loss
    scores = answer_loss(ModelBundle(model, tokenizer, str(base), True), [sample])
    assert scores["answer_tokens"] == sum(label != IGNORE_INDEX for label in encoded.labels)
    assert scores["loss"] == pytest.approx(expected.item(), abs=1e-3)


def test_open_answers_are_judged_or_the_report_says_why_not(run_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    open_rows = [{"instruction": "Describe the product.", "input": f"item {i}",
                  "output": "A sturdy and light everyday bag with two pockets, a padded strap and a zip."}
                 for i in range(2)]
    eval_file = tmp_path / "open.json"
    eval_file.write_text(json.dumps(open_rows))
    result = evaluate_run(run_dir, eval_path=eval_file, max_samples=2)
    assert result["short_answers"] is False and result["judge"]["status"] == "no_endpoint"
    from tools.training.evaluate import format_report

    assert "No LLM endpoint is configured, so no judge compared the answers" in format_report(result)


def test_a_later_round_is_scored_on_its_first_rounds_held_out_rows(tmp_path):
    from tools.training.evaluate import default_eval_path

    runs = []
    for n in range(3):
        data = tmp_path / f"v{n}"
        data.mkdir()
        (data / "eval.json").write_text("[]")
        run = tmp_path / f"run-{n}"
        run.mkdir()
        config = {"data_dir": str(data), "parent_run": str(runs[-1]) if runs else None}
        (run / "config.json").write_text(json.dumps(config))
        runs.append(run)
    assert default_eval_path(runs[2]) == tmp_path / "v0" / "eval.json"
    assert default_eval_path(runs[0]) == tmp_path / "v0" / "eval.json"
    (tmp_path / "v0" / "eval.json").unlink()  # the first round's split is gone: the run's own
    assert default_eval_path(runs[2]) == tmp_path / "v2" / "eval.json"
