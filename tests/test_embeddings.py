"""The offline MiniLM embeddings: deterministic, unit length, meaningful, and usable by chromadb."""

import math

from tools.embeddings import (
    MiniLMEmbeddingFunction,
    chroma_client,
    cosine_score,
    embed_texts,
    open_collection,
)


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def test_embeddings_are_deterministic_and_normalised():
    texts = ["LoRA trains low-rank adapters.", "The cat sat on the mat."]
    first, second = embed_texts(texts), embed_texts(texts)
    assert len(first) == 2 and len(first[0]) == 384
    for a, b in zip(first, second):
        assert max(abs(x - y) for x, y in zip(a, b)) < 1e-6
        assert math.isclose(math.sqrt(_dot(a, a)), 1.0, abs_tol=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones():
    base, similar, unrelated = embed_texts(
        [
            "How much GPU memory does fine-tuning a 7B model need?",
            "What amount of VRAM is required to fine-tune a seven billion parameter model?",
            "My grandmother bakes apple pie every Sunday.",
        ]
    )
    assert _dot(base, similar) > _dot(base, unrelated) + 0.3


def test_batching_does_not_change_vectors():
    texts = [f"sentence number {i} about topic {i % 3}" for i in range(5)]
    one_batch, small_batches = embed_texts(texts, batch_size=32), embed_texts(texts, batch_size=2)
    for a, b in zip(one_batch, small_batches):
        assert max(abs(x - y) for x, y in zip(a, b)) < 1e-4  # padding differs, pooling masks it


def test_persistent_collection_reopens_with_the_registered_function(tmp_path):
    collection = open_collection(chroma_client(tmp_path), "emb-test")
    collection.add(
        ids=["cat", "gpu"], documents=["A kitten purrs on the sofa.", "The GPU ran out of memory."]
    )
    # A fresh handle without an explicit embedding function: chromadb rebuilds ours from its stored config.
    reopened = chroma_client(tmp_path).get_collection("emb-test")
    found = reopened.query(query_texts=["CUDA out-of-memory error"], n_results=2)
    assert found["ids"][0][0] == "gpu"
    assert 0 < cosine_score(found["distances"][0][0]) <= 1
    assert MiniLMEmbeddingFunction.build_from_config({"batch_size": 4}).batch_size == 4
