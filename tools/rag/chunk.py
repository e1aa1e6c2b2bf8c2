"""Splits document text into overlapping chunks along headings and paragraphs, for retrieval."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tools.rag.answer import split_sentences

_HEADING = re.compile(r"^#{1,6}\s+\S")


@dataclass(frozen=True)
class Chunk:
    """A piece of one document; position counts chunks from 0 within the source; heading is its section."""

    text: str
    source: str
    position: int
    heading: str = ""


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks; a markdown heading line is always a block of its own."""
    blocks: list[str] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines: list[str] = []
        for line in block.strip().splitlines():
            if _HEADING.match(line):
                if lines:
                    blocks.append("\n".join(lines))
                    lines = []
                blocks.append(line.strip())
            else:
                lines.append(line.rstrip())
        if lines:
            blocks.append("\n".join(lines))
    return [b for b in blocks if b.strip()]


def _pieces(paragraph: str, max_chars: int) -> list[str]:
    """A paragraph cut at sentence ends (then at spaces) so that no piece exceeds max_chars."""
    if len(paragraph) <= max_chars:
        return [paragraph]
    pieces: list[str] = []
    current = ""
    for sentence in split_sentences(paragraph):
        start = 0  # an offset, not slicing: re-copying the rest of a multi-MB single-line text is quadratic
        while len(sentence) - start > max_chars:  # one huge "sentence": cut at the last space that fits
            cut = sentence.rfind(" ", start, start + max_chars)
            cut = cut if cut > start else start + max_chars
            piece = sentence[start:cut]
            pieces.append((current + " " + piece).strip() if current else piece)
            current, start = "", cut
            while start < len(sentence) and sentence[start] == " ":
                start += 1
        sentence = sentence[start:]
        if current and len(current) + 1 + len(sentence) > max_chars:
            pieces.append(current)
            current = ""
        current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces


def _tail(text: str, overlap: int) -> str:
    """The last ~overlap characters of text, starting at a sentence or word boundary."""
    if overlap <= 0 or len(text) <= overlap:
        return "" if overlap <= 0 else text
    tail = text[-overlap:]
    sentence_start = re.search(r"[.!?]\s+(?=\S)", tail)
    if sentence_start:
        return tail[sentence_start.end() :]
    space = tail.find(" ")
    return tail[space + 1 :] if space >= 0 else tail


def chunk_text(text: str, source: str, max_chars: int = 1200, overlap: int = 150) -> list[Chunk]:
    """Chunks of at most about max_chars that keep paragraphs whole where they fit.

    A heading starts a new chunk (unless the current one is still short), and a chunk that continues a section
    repeats the section heading first, so it can be understood on its own. Consecutive chunks of one section
    share about `overlap` characters.
    """
    if max_chars < 100 or not 0 <= overlap < max_chars // 2:
        raise ValueError("max_chars must be >= 100 and overlap between 0 and max_chars / 2")
    chunks: list[Chunk] = []
    heading, body = "", ""

    def flush(carry: bool) -> str:
        if body.strip():
            prefix = f"{heading}\n" if heading and heading not in body else ""
            chunks.append(Chunk(prefix + body.strip(), source, len(chunks), heading.lstrip("# ").strip()))
        return _tail(body, overlap) if carry else ""

    for paragraph in _paragraphs(text):
        if _HEADING.match(paragraph):
            if len(body) >= max_chars // 3:
                body = flush(carry=False)
            heading = paragraph
            body = f"{body}\n\n{paragraph}".strip()
            continue
        room = max_chars - len(heading) - 1  # a continuation chunk repeats the heading
        for piece in _pieces(paragraph, room - overlap):
            if body and len(body) + 2 + len(piece) > room:
                body = flush(carry=True)
            body = f"{body}\n\n{piece}".strip()
    flush(carry=False)
    return chunks
