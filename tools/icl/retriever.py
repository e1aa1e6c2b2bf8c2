"""Finds the examples most relevant to a query (RAG over examples), so long example lists stay usable."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tools.dataset.schema import AlpacaSample
from tools.errors import UserError


class ExampleRetriever:
    """The examples in a chromadb collection, embedded by their question (instruction + input)."""

    def __init__(self, examples: list[AlpacaSample], persist_dir: Path | str | None = None):
        from tools.embeddings import chroma_client, open_collection

        if not examples:
            raise UserError("no examples to retrieve from; add at least one example")
        self.examples = list(examples)
        blob = json.dumps([e.to_record() for e in self.examples], ensure_ascii=False, sort_keys=True)
        # Named by content: the same examples reuse their collection, changed examples get a fresh one.
        name = "icl-" + hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]
        self._collection = open_collection(chroma_client(persist_dir), name)
        if self._collection.count() != len(self.examples):
            self._collection.upsert(
                ids=[str(i) for i in range(len(self.examples))],
                documents=[e.prompt_text() for e in self.examples],
            )

    def retrieve(self, query: str, k: int = 8) -> list[AlpacaSample]:
        """The k examples whose question is closest in meaning to the query, most relevant first."""
        if not query.strip():
            raise UserError("the query is empty; give the input the model should answer")
        found = self._collection.query(query_texts=[query], n_results=min(max(k, 1), len(self.examples)))
        return [self.examples[int(i)] for i in found["ids"][0]]
