"""Plain text from the document types RAG accepts; every refusal says why and what to do instead."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from tools.errors import BAD_CONTENT, UserError, is_huge_integer
from tools.flags import describe_bad_char

MAX_FILE_BYTES = 20 * 1024 * 1024
TEXT_SUFFIXES = (".txt", ".md", ".markdown")
SUPPORTED_SUFFIXES = (*TEXT_SUFFIXES, ".html", ".htm", ".json", ".csv")
_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "section", "article", "h1", "h2", "h3", "h4", "h5", "h6", "pre"}


class _TextExtractor(HTMLParser):
    """Visible text of an HTML page: scripts and styles dropped, block elements become paragraph breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in {"script", "style", "noscript", "template"}:
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self.parts.append("#" * int(tag[1]) + " ")  # keep headings as markdown so chunking sees sections

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "noscript", "template"}:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    paragraphs = (" ".join(block.split()) for block in "".join(parser.parts).split("\n\n"))
    return "\n\n".join(p for p in paragraphs if p and p.strip("# "))


def _json_lines(value: object, path: str = "") -> list[str]:
    """Leaves of a JSON value as 'path: value' lines."""
    if isinstance(value, dict):
        return [
            line
            for key, item in value.items()
            for line in _json_lines(item, f"{path}.{key}" if path else key)
        ]
    if isinstance(value, list) and not all(isinstance(item, (dict, list)) for item in value):
        return (
            [f"{path}: {', '.join(str(item) for item in value)}"] if path else [str(item) for item in value]
        )
    if isinstance(value, list):
        return [line for i, item in enumerate(value) for line in _json_lines(item, f"{path}[{i}]")]
    return [f"{path}: {value}" if path else str(value)]


def json_to_text(raw: str, path: Path) -> str:
    """A top-level array becomes one paragraph per item; anything else one 'key: value' line per leaf."""
    try:
        data = json.loads(raw)
        items = data if isinstance(data, list) else [data]
        return "\n\n".join("\n".join(_json_lines(item)) for item in items)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", BAD_CONTENT
        ) from None
    except ValueError as exc:
        if not is_huge_integer(exc):
            raise
        raise UserError(f"{path}: holds a number with more than 4300 digits; shorten it or quote it",
                        BAD_CONTENT) from None
    except RecursionError:
        raise UserError(f"{path}: nested too deeply (hundreds of brackets inside each other); flatten it",
                        BAD_CONTENT) from None


def csv_to_text(raw: str, path: Path) -> str:
    """One paragraph per row, each cell as 'column: value', so a chunk keeps its column names."""
    try:
        rows = list(csv.DictReader(io.StringIO(raw)))
    except csv.Error as exc:
        raise UserError(f"{path}: not a readable CSV file ({exc})", BAD_CONTENT) from None
    return "\n\n".join("\n".join(f"{k}: {v}" for k, v in row.items() if k and v) for row in rows)


def read_document(path: Path) -> str:
    """The text of a supported document; UserError (what, where, how to fix) for anything it cannot read."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        raise UserError(
            f"{path}: PDF is not supported (no pure-Python PDF reader is installed); "
            "convert it to text first, e.g. `pdftotext file.pdf file.txt`, and index the .txt"
        )
    if suffix not in SUPPORTED_SUFFIXES:
        raise UserError(
            f"{path}: unsupported file type {suffix or '(none)'}; use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise UserError(
            f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it into smaller files"
        )
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 and try again", BAD_CONTENT
        ) from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror}); check its permissions (ls -l)") from None
    text = (html_to_text(raw) if suffix in (".html", ".htm") else json_to_text(raw, path) if suffix == ".json"
            else csv_to_text(raw, path) if suffix == ".csv" else raw)
    if bad := re.search(r"[\x00\ud800-\udfff]", text):
        raise UserError(f"{path}: holds {describe_bad_char(bad.group())} at character {bad.start() + 1}, which an "
                        "index cannot store; remove it and index the file again", BAD_CONTENT)
    return text
