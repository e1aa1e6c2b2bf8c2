"""Load a tuned model (run folder or adapter folder) and chat with it through its own chat template.

The last loaded model is cached in-process so the UI's "try it" box answers without reloading.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.errors import BAD_CONTENT, UserError
from tools.training.builtin import ensure_builtin_model, is_builtin, resolve_model_source
from tools.training.template import ensure_chat_template, prompt_ids

ROLES = ("system", "user", "assistant")
_CACHE: dict[tuple, ModelBundle] = {}  # least recently used first
CACHE_SIZE = 1  # a model takes ~1 GB or more: keep only the last one used, not every model loaded since start


@dataclass
class RunArtifacts:
    """Where a run's pieces are: the base model, and the adapter or full model trained from it."""

    base_model: str
    adapter_dir: Path | None
    full_model_dir: Path | None
    method: str

    @property
    def tokenizer_dir(self) -> str:
        """The tokenizer saved with the training output (it carries the chat template used in training)."""
        for folder in (self.adapter_dir, self.full_model_dir):
            if folder and (
                (folder / "tokenizer_config.json").is_file() or (folder / "tokenizer.json").is_file()
            ):
                return str(folder)
        return self.base_model


@dataclass
class ModelBundle:
    """A loaded model and its tokenizer; is_adapter: a PeftModel whose adapter can be disabled."""

    model: Any
    tokenizer: Any
    source: str
    is_adapter: bool


def resolve_run(path: str | Path) -> RunArtifacts:
    """Accepts a RUN folder (config.json + adapter/ or model/) or an adapter folder (adapter_config.json)."""
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise UserError(f"{path} is not a folder; give a training run folder or an adapter folder")
    if (path / "adapter_config.json").is_file():
        base = _read_json(path / "adapter_config.json").get("base_model_name_or_path")
        run_config = (
            _read_json(path.parent / "config.json") if (path.parent / "config.json").is_file() else {}
        )
        base = run_config.get("base_model") or base  # the name given (e.g. gemma-3-270m) outlives a cache path
        if not base:
            raise UserError(f"{path / 'adapter_config.json'} names no base_model_name_or_path; add it", BAD_CONTENT)
        return RunArtifacts(str(base), path, None, run_config.get("method", "lora"))
    config_path = path / "config.json"
    if not config_path.is_file():
        raise UserError(
            f"{path} holds neither adapter_config.json nor a run's config.json; "
            "point at the run folder the trainer wrote (RUN/) or at RUN/adapter"
        )
    run_config = _read_json(config_path)
    if "base_model" not in run_config:
        raise UserError(f"{config_path} has no base_model: is {path} a training run folder?", BAD_CONTENT)
    if (path / "adapter" / "adapter_config.json").is_file():
        return RunArtifacts(
            run_config["base_model"], path / "adapter", None, run_config.get("method", "qlora")
        )
    if (path / "model" / "config.json").is_file():
        return RunArtifacts(run_config["base_model"], None, path / "model", "full")
    raise UserError(
        f"{path} has no trained output yet (adapter/ or model/); wait for training to finish "
        "or train first with `tunesmith train`"
    )


def run_data_dir(run_dir: Path) -> Path | None:
    """data_dir of RUN/config.json (run_dir may also be the run's adapter folder)."""
    for config_path in (run_dir / "config.json", run_dir.parent / "config.json"):
        if config_path.is_file():
            data_dir = json.loads(config_path.read_text(encoding="utf-8")).get("data_dir")
            if data_dir:
                return Path(data_dir).expanduser().resolve()
    return None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}", BAD_CONTENT) from None
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a JSON object", BAD_CONTENT)
    return data


def load_tokenizer(source: str):
    """The tokenizer from a local folder (or the local hub cache), with a chat template; never downloads."""
    from transformers import AutoTokenizer

    if is_builtin(source):  # other sources may be a tokenizer-only folder (an adapter's), so no config check
        source = str(ensure_builtin_model())
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise UserError(
            f"no tokenizer found locally for {source!r} ({exc.__class__.__name__}); give a local "
            "model folder, or download the model first on a machine with internet"
        ) from None
    ensure_chat_template(tokenizer)  # a base model gets the project's template, as in training
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(source: str, quantize: bool = False, dtype: str = "auto"):
    """A causal LM from a local folder: 4-bit NF4 when quantize, else full precision (auto = saved)."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    source = resolve_model_source(source)
    kwargs: dict[str, Any] = {
        "local_files_only": True,
        "dtype": dtype if dtype == "auto" else getattr(torch, dtype),
    }
    if quantize:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32,
        )
    try:
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except OSError as exc:
        raise UserError(
            f"model {source!r} not found locally ({exc.__class__.__name__}); the hub cannot be "
            "reached here: give a local model folder (with config.json and weights)"
        ) from None
    model.eval()
    return model


def load_tuned(path: str | Path, quantize: bool | None = None, base_only: bool = False) -> ModelBundle:
    """The tuned model of a run (adapter on its base, or the full model); base_only loads just the base.

    quantize=None loads the base in 4-bit only for QLoRA runs on a GPU (on CPU full precision is faster).
    """
    import torch

    run = resolve_run(path)
    if quantize is None:
        quantize = run.method == "qlora" and torch.cuda.is_available()
    key = (str(Path(path).resolve()), quantize, base_only)
    if key in _CACHE:
        _CACHE[key] = _CACHE.pop(key)  # now the most recently used
        return _CACHE[key]
    while len(_CACHE) >= CACHE_SIZE:  # evict before loading, so the old model's memory is free for the new one
        _CACHE.pop(next(iter(_CACHE)))
    tokenizer = load_tokenizer(run.tokenizer_dir)
    if base_only or run.full_model_dir is None:
        model = load_causal_lm(run.base_model, quantize=quantize)
    else:
        model = load_causal_lm(str(run.full_model_dir), quantize=quantize)
    is_adapter = False
    if not base_only and run.adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(run.adapter_dir))
        model.eval()
        is_adapter = True
    source = run.base_model if base_only else str(run.adapter_dir or run.full_model_dir)
    bundle = ModelBundle(model, tokenizer, source, is_adapter)
    _CACHE[key] = bundle
    return bundle


def clear_cache() -> None:
    """Forget the loaded models (frees their memory once nothing else holds them)."""
    _CACHE.clear()


def normalise_messages(messages: str | list[dict[str, str]]) -> list[dict[str, str]]:
    """A prompt string becomes one user turn; a message list is checked for roles and text content."""
    if isinstance(messages, str):
        if not messages.strip():
            raise UserError("the prompt is empty; type a question")
        return [{"role": "user", "content": messages}]
    if not messages:
        raise UserError("no messages given; pass a prompt or a list of {role, content} messages")
    for index, message in enumerate(messages):
        if (
            not isinstance(message, dict)
            or message.get("role") not in ROLES
            or not isinstance(message.get("content"), str)
        ):
            raise UserError(
                f"message {index} must be {{'role': one of {ROLES}, 'content': text}}, got {message!r}"
            )
    return list(messages)


def stop_token_ids(bundle: ModelBundle) -> list[int]:
    """Token ids that end generation: the generation_config's eos ids plus the tokenizer's eos."""
    config = getattr(bundle.model, "generation_config", None)
    ids = getattr(config, "eos_token_id", None) if config is not None else None
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    if bundle.tokenizer.eos_token_id is not None and bundle.tokenizer.eos_token_id not in ids:
        ids.append(bundle.tokenizer.eos_token_id)
    return ids


def chat(
    bundle: ModelBundle,
    messages: str | list[dict[str, str]],
    max_new_tokens: int = 256,
    temperature: float = 0.0,
) -> Answer:
    """The answer to a prompt or conversation, via the chat template; greedy unless temperature > 0."""
    return generate_batch(bundle, [normalise_messages(messages)], max_new_tokens, temperature)[0]


def try_run(run_dir: str | Path, prompt: str | list[dict[str, str]], max_new_tokens: int | None = None,
            temperature: float = 0.0, base_only: bool = False) -> tuple[str, str]:
    """Try-it: (answer, note). The answer may take at most answer_cap tokens unless told otherwise, stops at the
    end-of-turn token, and the note says when it was cut there instead ('' when it ended by itself)."""
    if max_new_tokens is not None and not 1 <= max_new_tokens <= 8192:
        raise UserError(f"max_new_tokens={max_new_tokens} must be between 1 and 8192 (or left out: the run's "
                        "longest training answer and half again)")
    bundle = load_tuned(run_dir, base_only=base_only)
    asked_with, passages = "", []
    if isinstance(prompt, str):  # a run trained on retrieval samples is asked with retrieved passages
        from tools.rag.raft_eval import ask_with_retrieval

        prompt, asked_with, passages = ask_with_retrieval(run_dir, prompt)
    cap = max_new_tokens or answer_cap(run_dir, bundle.tokenizer)
    answer = chat(bundle, prompt, max_new_tokens=cap, temperature=temperature)
    note = "" if answer.stopped else (
        f"(cut at {cap} tokens: the model did not end its answer by itself, a sign it needs more training on "
        "answers like this one)")
    check = ""
    if passages:
        from tools.rag.raft import citation_check

        check = citation_check(answer.text, passages)
    return answer.text, " ".join(part for part in (asked_with, check, note) if part)


def answer_cap(run_dir: str | Path, tokenizer: Any, floor: int = 32, ceiling: int = 512) -> int:
    """Tokens a try-it answer may take: the run's longest training answer and half again (so a tuned model
    cannot run away), within [floor, ceiling]; the ceiling when the training data is gone."""
    from tools.dataset.readers import RowProblem, SampleStream
    from tools.training.config import split_file

    data_dir = run_data_dir(Path(run_dir))
    train = split_file(data_dir, "train") if data_dir else None
    if train is None:
        return ceiling
    try:
        outputs = [item.output for _, item in itertools.islice(SampleStream(train, max_bytes=None), 5000)
                   if not isinstance(item, RowProblem)]
    except (OSError, UserError):
        return ceiling
    longest = max((len(tokenizer(text)["input_ids"]) for text in sorted(outputs, key=len)[-20:]), default=ceiling)
    return max(floor, min(ceiling, int(longest * 1.5) + 8))


@dataclass(frozen=True)
class Answer:
    """A generated answer and whether it ended by itself (an end-of-turn token) or was cut at the token cap."""

    text: str
    stopped: bool


def generate_batch(
    bundle: ModelBundle,
    conversations: list[list[dict[str, str]]],
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    batch_size: int = 8,
) -> list[Answer]:
    """Answers to several conversations: left-padded batches, KV cache, each stopping at its end-of-turn token
    (or cut at max_new_tokens: Answer.stopped says which)."""
    import torch

    tokenizer = bundle.tokenizer
    if not tokenizer.chat_template:
        raise UserError(
            f"the tokenizer of {bundle.source} has no chat template; run `tunesmith preflight` for the fix"
        )
    device = next(bundle.model.parameters()).device
    sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    stops = stop_token_ids(bundle)
    answers = []
    for first in range(0, len(conversations), batch_size):
        prompts = [prompt_ids(tokenizer, messages) for messages in conversations[first : first + batch_size]]
        width = max(len(ids) for ids in prompts)
        pad = tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in prompts], device=device)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in prompts], device=device)
        with torch.no_grad():
            output = bundle.model.generate(
                input_ids=input_ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                eos_token_id=stops, pad_token_id=pad, **sampling)
        answers += [Answer(tokenizer.decode(row[width:], skip_special_tokens=True).strip(),
                           any(int(token) in stops for token in row[width:])) for row in output]
    return answers
