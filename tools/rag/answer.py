"""Answers grounded in numbered sources: an LLM answer that cites [n], or an extractive one without an LLM.

Shared by the guidance knowledge base (tools.advisor.kb) and RAG over the person's documents (tools.rag).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tools.llm import describe_llm_error

_CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


class Source(Protocol):
    """Anything an answer can cite: a guidance passage or a chunk of a document."""

    text: str

    @property
    def label(self) -> str: ...


@dataclass
class Answer:
    """text cites sources as [n]; citations[n-1] is source n; cited: the numbers the text really cites."""

    text: str
    citations: list[Any] = field(default_factory=list)
    cited: list[int] = field(default_factory=list)
    used_llm: bool = False
    note: str = ""  # why there is no LLM answer, or what was odd about it


def number_sources(sources: list[Source]) -> str:
    """The sources as the LLM sees them: '[1] label' then the text, separated by blank lines."""
    return "\n\n".join(f"[{i}] {s.label}\n{s.text}" for i, s in enumerate(sources, start=1))


def cited_numbers(text: str, count: int) -> list[int]:
    """Source numbers cited as [n] or [n, m], in first-cited order, ignoring numbers outside 1..count."""
    seen: list[int] = []
    for group in _CITATION.findall(text):
        for number in re.split(r"\s*[,;]\s*", group):
            n = int(number)
            if 1 <= n <= count and n not in seen:
                seen.append(n)
    return seen


def split_sentences(text: str) -> list[str]:
    """Sentences of plain prose (good enough for extractive summaries; not a linguistic parser)."""
    flat = re.sub(r"\s+", " ", text).strip()
    return [s for s in _SENTENCE_END.split(flat) if s]


def key_sentences(question: str, text: str, limit: int = 2) -> str:
    """The `limit` sentences of text closest in meaning to the question, kept in their original order."""
    from tools.embeddings import embed_texts

    sentences = split_sentences(text)
    if len(sentences) <= limit:
        return " ".join(sentences)
    question_vec, *sentence_vecs = embed_texts([question, *sentences])
    scores = [sum(q * s for q, s in zip(question_vec, vec)) for vec in sentence_vecs]
    best = sorted(sorted(range(len(sentences)), key=lambda i: -scores[i])[:limit])
    return " ".join(sentences[i] for i in best)


def ask_llm(chat_model: Any, system_prompt: str, request: str) -> str:
    """The chat model's reply as text; raises ValueError when it is empty."""
    from langchain_core.messages import HumanMessage, SystemMessage

    reply = chat_model.invoke([SystemMessage(content=system_prompt), HumanMessage(content=request)])
    text = (reply.text if hasattr(reply, "text") else str(reply)).strip()
    if not text:
        raise ValueError("the LLM returned an empty answer")
    return text


def answer_with_fallback(
    sources: list[Source],
    chat_model: Any | None,
    system_prompt: str,
    request: str,
    extractive: Callable[[], str],
) -> Answer:
    """An LLM answer citing the sources; the extractive answer when there is no model or the call fails."""
    every = list(range(1, len(sources) + 1))
    if chat_model is None:
        return Answer(extractive(), list(sources), every, note="No LLM configured: extractive answer.")
    try:
        text = ask_llm(chat_model, system_prompt, request)
    except Exception as exc:  # noqa: BLE001 - any LLM failure falls back; the person is told why
        note = f"{describe_llm_error(exc)} Showing an extractive answer from the sources instead."
        return Answer(extractive(), list(sources), every, note=note)
    cited = cited_numbers(text, len(sources))
    note = "" if cited else "The LLM answer cites no source; check it against the sources listed."
    return Answer(text, list(sources), cited, used_llm=True, note=note)
