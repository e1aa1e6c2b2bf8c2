"""The passages block of a retrieval sample (RAG + fine-tuning): the input is PASSAGES_HEADER, then numbered
passages "[n] label" + text. One home for writing it, reading it back, and leaving it out where questions are
compared (two questions about one passage share their passages, not their question)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prompts.raft import PASSAGES_HEADER
from tools.dataset.schema import AlpacaSample


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk as a sample shows it: label names it (file and chunk), text is what it says."""

    label: str
    text: str


def passages_block(passages: Sequence[Passage]) -> str:
    """The input of a retrieval sample: the header, then each passage numbered from 1."""
    numbered = (f"[{n}] {p.label}\n{p.text.strip()}" for n, p in enumerate(passages, start=1))
    return "\n\n".join([PASSAGES_HEADER, *numbered])


def is_retrieval_input(text: str) -> bool:
    return text.lstrip().startswith(PASSAGES_HEADER)


def read_passages(text: str) -> list[Passage]:
    """The passages of a retrieval input in order ([] for any other input). Markers are looked for in sequence
    ("[1] ", then "[2] "...), so a document line that happens to start with "[7]" does not split a passage."""
    if not is_retrieval_input(text):
        return []
    body = text.lstrip()[len(PASSAGES_HEADER):]
    starts: list[int] = []
    position = 0
    while (found := body.find(f"\n\n[{len(starts) + 1}] ", position)) >= 0:
        starts.append(found)
        position = found + 1
    passages = []
    for n, start in enumerate(starts, start=1):
        end = starts[n] if n < len(starts) else len(body)
        label, _, passage = body[start + len(f"\n\n[{n}] "):end].partition("\n")
        passages.append(Passage(label.strip(), passage.strip()))
    return passages


def compared_question(sample: AlpacaSample) -> str:
    """The text two samples are compared on (duplicates, twins, questions already written, a note's case): the
    question, instruction + input, with a retrieval sample's passages left out, since questions about one passage
    share them."""
    return without_passages(sample.prompt_text())


def without_passages(text: str) -> str:
    """A question text with its passages block left out (the text itself when it has none)."""
    cut = text.find(PASSAGES_HEADER)
    return text if cut < 0 else text[:cut].strip()
