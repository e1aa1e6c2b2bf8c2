"""Export a run for serving: the adapter, optionally merged full-precision weights, and serving files.

Merging always loads the base in full precision (fp16/bf16/fp32), never the 4-bit model: merging into a
quantised base rounds the adapter's update away and gives a model that differs from the one trained.
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

from tools.errors import UserError
from tools.output_files import staged_folder
from tools.training.inference import load_causal_lm, load_tokenizer, resolve_run
from tools.training.template import end_of_turn_token

PROBE = {"system": "\x00SYSTEM\x00", "user": "\x00PROMPT\x00", "assistant": "\x00RESPONSE\x00"}


def export_run(run_dir: str | Path, out_dir: str | Path, merge: bool, dtype: str = "auto") -> dict[str, str]:
    """Writes adapter/ (or model/), merged/ when merge, vllm_serve.sh, Modelfile and README.txt to out_dir.

    dtype: precision of the merged weights ('auto' = the base model's saved precision, or float16/bfloat16/
    float32). Returns {name: path} of what was written.
    """
    run = resolve_run(run_dir)
    out = Path(out_dir).expanduser().resolve()
    if out.is_dir() and any(out.iterdir()):
        raise UserError(f"{out} already exists and is not empty; choose a new --out folder")
    with staged_folder(out) as work:  # built aside and moved into place at the end: a killed export leaves no half
        written = _write_export(run, out, work, merge, dtype)
        from tools.rag.raft_eval import export_retrieval_settings  # the index the model must be asked with

        if export_retrieval_settings(run_dir, work) is not None:
            written["retrieval.json"] = str(out / "retrieval.json")
    return written


def _write_export(run: Any, out: Path, work: Path, merge: bool, dtype: str) -> dict[str, str]:
    """The export's files written into work; every path they name (and the one returned) is where they end up."""
    tokenizer = load_tokenizer(run.tokenizer_dir)
    eos = end_of_turn_token(tokenizer)
    written: dict[str, str] = {}
    if run.adapter_dir is not None:
        _copy(run.adapter_dir, work / "adapter")
        written["adapter"] = str(out / "adapter")
    else:
        _copy(run.full_model_dir, work / "model")
        written["model"] = str(out / "model")
    served = out / "model" if run.adapter_dir is None else None
    if merge and run.adapter_dir is not None:
        merge_adapter(run.base_model, run.adapter_dir, work / "merged", tokenizer, dtype)
        served = out / "merged"
        written["merged"] = str(served)
    name = out.name
    lora_rank = _adapter_rank(run.adapter_dir) if run.adapter_dir else None
    command = vllm_command(
        name, served, run.base_model, out / "adapter" if run.adapter_dir else None, lora_rank
    )
    _write(work / "vllm_serve.sh", "#!/bin/sh\n" + command + "\n")
    written["vllm_serve.sh"] = str(out / "vllm_serve.sh")
    source = f"FROM {served}" if served else f"FROM {run.base_model}\nADAPTER {out / 'adapter'}"
    _write(work / "Modelfile", ollama_modelfile(tokenizer, source, eos))
    written["Modelfile"] = str(out / "Modelfile")
    _write(work / "README.txt", _readme(run.base_model, written, command, eos))
    written["README.txt"] = str(out / "README.txt")
    return written


def merge_adapter(
    base_model: str, adapter_dir: Path, out_dir: Path, tokenizer: Any, dtype: str = "auto"
) -> Path:
    """Loads the base in full precision, applies the adapter, merges it in and saves a plain model folder."""
    from peft import PeftModel

    model = load_causal_lm(base_model, quantize=False, dtype=dtype)
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    eos_id = tokenizer.convert_tokens_to_ids(end_of_turn_token(tokenizer))
    merged.generation_config.eos_token_id = eos_id  # generation must stop where the chat template ends a turn
    if tokenizer.pad_token_id is not None:
        merged.generation_config.pad_token_id = tokenizer.pad_token_id
    merged.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def vllm_command(
    name: str, merged_dir: Path | None, base_model: str, adapter_dir: Path | None, lora_rank: int | None
) -> str:
    """`vllm serve` for the merged folder, or for the base with the adapter attached (--enable-lora)."""
    if merged_dir is not None:
        args = ["vllm", "serve", str(merged_dir), "--served-model-name", name]
    else:
        args = [
            "vllm",
            "serve",
            base_model,
            "--enable-lora",
            "--lora-modules",
            f"{name}={adapter_dir}",
            "--max-lora-rank",
            str(max(16, lora_rank or 16)),
        ]
    return shlex.join(args)


def ollama_modelfile(tokenizer: Any, source: str, eos: str) -> str:
    """An Ollama Modelfile (source: its FROM/ADAPTER lines) whose TEMPLATE reproduces the chat template."""
    return (
        "# Ollama imports safetensors folders of supported architectures; otherwise convert to GGUF with\n"
        "# llama.cpp's convert_hf_to_gguf.py and point FROM at the .gguf file.\n"
        f"{source}\n"
        f'TEMPLATE """{go_template(tokenizer)}"""\n'
        f"PARAMETER stop {json.dumps(eos)}\n"
        "PARAMETER temperature 0\n"
    )


def go_template(tokenizer: Any) -> str:
    """Ollama's Go template (System/Prompt/Response), cut from the chat template rendered with probes."""
    user, answer = PROBE["user"], PROBE["assistant"]
    without_system = _render(tokenizer, [{"role": "user", "content": user}], True)
    full = _render(tokenizer, [{"role": "user", "content": user}, {"role": "assistant", "content": answer}])
    plain_prefix, user_to_answer = without_system.split(user, 1)
    answer_suffix = full.split(answer, 1)[1]
    bos = tokenizer.bos_token or ""
    # Ollama adds BOS itself, so a BOS the template writes literally is dropped here.
    prompt = "{{ .Prompt }}" + _go_text(user_to_answer) + "{{ .Response }}" + _go_text(answer_suffix)
    system = _system_pieces(tokenizer)
    if system is None:  # e.g. Gemma: the template refuses system messages
        return _go_text(_drop_bos(plain_prefix, bos)) + prompt
    sys_prefix, sys_to_user = (_go_text(_drop_bos(piece, bos)) for piece in system)
    return (
        "{{ if .System }}"
        + sys_prefix
        + "{{ .System }}"
        + sys_to_user
        + "{{ else }}"
        + _go_text(_drop_bos(plain_prefix, bos))
        + "{{ end }}"
        + prompt
    )


def _system_pieces(tokenizer: Any) -> tuple[str, str] | None:
    """(text before the system prompt, text from it to the user prompt); None without system support."""
    messages = [{"role": "system", "content": PROBE["system"]}, {"role": "user", "content": PROBE["user"]}]
    try:
        rendered = _render(tokenizer, messages, True)
    except Exception:  # noqa: BLE001 - templates reject system turns by raising arbitrary errors
        return None
    if PROBE["system"] not in rendered:
        return None
    prefix, rest = rendered.split(PROBE["system"], 1)
    return prefix, rest.split(PROBE["user"], 1)[0]


def _render(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def _drop_bos(text: str, bos: str) -> str:
    return text[len(bos) :] if bos and text.startswith(bos) else text


def _go_text(text: str) -> str:
    """Literal text inside a Go template ('{{' would start an action, so it is emitted as a string)."""
    return text.replace("{{", '{{ "{{" }}').replace('"""', '\\"\\"\\"')


def _adapter_rank(adapter_dir: Path) -> int | None:
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    return config.get("r")


def _copy(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=False)  # symlinks are copied as files, never followed out later


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _readme(base_model: str, written: dict[str, str], command: str, eos: str) -> str:
    lines = [
        "Exported by Tunesmith.",
        f"Base model: {base_model}",
        "",
        "Files:",
        *[f"  {name}: {path}" for name, path in written.items()],
        "",
        "Serve with vLLM (OpenAI-compatible API on port 8000):",
        f"  {command}",
        "Serve with Ollama:",
        "  ollama create my-model -f Modelfile && ollama run my-model",
        "",
        f"Generation must stop on {eos!r}: the chat template ends every answer with it.",
        "Always send prompts through the chat template (vLLM's /v1/chat/completions does).",
    ]
    if "merged" not in written and "model" not in written:
        lines.append("The adapter needs its base model; export again with --merge for standalone weights.")
    return "\n".join(lines) + "\n"
