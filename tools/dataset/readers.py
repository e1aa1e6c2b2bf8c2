"""Read Alpaca / ShareGPT / OpenAI chat (JSON or JSONL), CSV and pasted text into AlpacaSamples.

Every record becomes either a sample or a RowProblem that says what is wrong and how to fix it: nothing is
dropped silently. Whole-file failures (unreadable, not UTF-8, broken JSON array, wrong CSV header) raise
UserError.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from tools.dataset.schema import AlpacaSample
from tools.errors import BAD_CONTENT, UserError

MAX_FILE_BYTES = 200_000_000  # 200 MB; callers may pass another max_bytes
CSV_REQUIRED = ("instruction", "output")
CSV_OPTIONAL = ("input", "system")
SHAREGPT_USER = {"human", "user"}
SHAREGPT_ASSISTANT = {"gpt", "assistant"}
TOO_DEEP = ("is nested too deeply (hundreds of brackets inside each other); a sample needs only a few levels: "
            "flatten it")
RECORD_KEYS = {
    "alpaca": {"instruction", "input", "output", "system", "history"},
    "sharegpt": {"conversations", "system"},
    "openai": {"messages"},
}


@dataclass(frozen=True)
class RowProblem:
    """One unusable record. row: 1-based (JSONL: line number; JSON array: element number; CSV: data row after
    the header; pasted text: block number). code: a short reason used to count drops (e.g. "empty_output")."""

    row: int
    field: str | None
    message: str
    code: str = "invalid_row"

    def describe(self) -> str:
        where = f"row {self.row}" + (f", field '{self.field}'" if self.field else "")
        return f"{where}: {self.message}"


@dataclass
class ReadResult:
    """samples[i] came from record sample_rows[i]; problems lists every record that is not a sample."""

    samples: list[AlpacaSample] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    rows_read: int = 0
    format: str = "unknown"
    sample_rows: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class _RowError(Exception):
    """A record that cannot become a sample; turned into a RowProblem by the caller that knows the row."""

    def __init__(self, field_name: str | None, message: str, code: str = "invalid_row"):
        super().__init__(message)
        self.field = field_name
        self.message = message
        self.code = code


# ---------------------------------------------------------------- entry points


class SampleStream:
    """The records of one dataset file as (row, AlpacaSample | RowProblem), read a piece at a time so that memory
    stays bounded whatever the file's size. format, notes and rows_read are complete once the stream is consumed.

    The format is detected from the extension and the first character. Whole-file failures (missing, empty, too
    big, not UTF-8, a broken JSON array, a wrong CSV header) raise UserError: at once when the file cannot be
    opened, otherwise when the reading reaches them."""

    def __init__(self, path: Path | str, max_bytes: int | None = MAX_FILE_BYTES, pasted: bytes | None = None):
        self.path = Path(path)
        self.rows_read = 0
        self.notes: list[str] = []
        self._kinds: Counter[str] = Counter()
        self._ignored: set[str] = set()
        self._container = "jsonl"
        self._pasted = pasted  # text pasted into the app, read as if it were the file named path
        if pasted is None:
            _check_file(self.path, max_bytes)
        self._first = _first_char(self._open())
        if not self._first:
            raise UserError(
                f"{self.path.name}: the file is empty; add samples (one JSON object per line, or a JSON array)",
                BAD_CONTENT,
            )

    @property
    def format(self) -> str:
        if self._container in {"csv", "text-blocks"}:
            return self._container
        return f"{self._kinds.most_common(1)[0][0] if self._kinds else 'alpaca'}-{self._container}"

    def __iter__(self) -> Iterator[tuple[int, AlpacaSample | RowProblem]]:
        suffix, name = self.path.suffix.lower(), self.path.name
        with self._open() as handle:
            if suffix == ".csv":
                self._container = "csv"
                yield from self._counted(_csv_rows(handle, name, self.notes))
            elif suffix in {".txt", ".md"} and self._first not in "[{":
                self._container = "text-blocks"
                yield from self._counted(_text_block_rows(_decode_all(handle, name)))
            elif self._first == "[":
                self._container = "json"
                yield from self._records(_json_array_values(handle, name))
            elif self._first == "{" and suffix != ".jsonl" and _is_one_json_object(handle, name):
                self._container = "json"
                handle.seek(0)
                yield from self._records(_json_array_values(handle, name, single=True))
            else:
                handle.seek(0)
                yield from self._records(_jsonl_values(handle, name))
        if len(self._kinds) > 1:
            self.notes.append(f"mixed record formats in one file: {', '.join(sorted(self._kinds))}")
        if self._ignored:
            self.notes.append(f"ignored fields that no format uses: {', '.join(sorted(self._ignored))}")

    def _open(self) -> BinaryIO:
        return io.BytesIO(self._pasted) if self._pasted is not None else self.path.open("rb")

    def _counted(self, rows: Iterator[tuple[int, AlpacaSample | RowProblem]]):
        for item in rows:
            self.rows_read += 1
            yield item

    def _records(self, values: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, AlpacaSample | RowProblem]]:
        """JSON values → samples, counting record kinds for the format name and fields no format uses."""
        for row, record in values:
            self.rows_read += 1
            if isinstance(record, RowProblem):
                yield row, record
                continue
            try:
                sample = _record_to_sample(record)
            except RecursionError:  # e.g. a history nested hundreds of levels deep
                yield row, RowProblem(row, None, TOO_DEEP, "too_deep")
                continue
            except _RowError as err:
                if isinstance(record, dict):
                    self._kinds[_record_kind(record)] += 1
                yield row, RowProblem(row, err.field, err.message, err.code)
                continue
            kind = _record_kind(record)
            self._kinds[kind] += 1
            self._ignored |= set(record) - RECORD_KEYS[kind]
            yield row, sample


def read_samples(path: Path | str, max_bytes: int = MAX_FILE_BYTES) -> ReadResult:
    """Read a whole dataset file into memory; SampleStream reads it a piece at a time."""
    return _collect(SampleStream(path, max_bytes))


def parse_pasted_text(text: str) -> ReadResult:
    """Parse pasted JSON/JSONL, or blocks of "Instruction: ... / Input: ... / Output: ..." lines."""
    if not text.strip():
        raise UserError("the pasted text is empty; paste JSON/JSONL samples or 'Instruction:/Output:' blocks")
    if len(text) > MAX_FILE_BYTES:
        raise UserError(f"the pasted text is over {MAX_FILE_BYTES / 1e6:.0f} MB; upload it in parts as files")
    kind = "pasted text" if text.lstrip().startswith(("[", "{")) else "pasted text.txt"  # .txt: labelled blocks
    return _collect(SampleStream(kind, pasted=text.encode("utf-8")))


def _collect(stream: SampleStream) -> ReadResult:
    result = ReadResult()
    for row, item in stream:
        _add(result, row, item)
    result.rows_read, result.format, result.notes = stream.rows_read, stream.format, stream.notes
    return result


def _add(result: ReadResult, row: int, item: AlpacaSample | RowProblem) -> None:
    if isinstance(item, RowProblem):
        result.problems.append(item)
    else:
        result.samples.append(item)
        result.sample_rows.append(row)


# ---------------------------------------------------------------- files and JSON

_CHUNK = 1 << 20  # bytes read at a time


def _check_file(path: Path, max_bytes: int | None) -> None:
    """max_bytes None: no limit (a stream holds only a piece of the file at a time)."""
    if path.is_dir():
        raise UserError(f"{path}: is a folder; pass a dataset file (JSON, JSONL, CSV or text) inside it")
    if not path.is_file():
        raise UserError(f"{path}: no such file; check the path")
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise UserError(
            f"{path.name}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit; "
            "split the file into smaller parts or raise the limit (--max-mb)"
        )
    try:
        path.open("rb").close()
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror}); check its permissions (ls -l)") from None


def _first_char(opened: BinaryIO) -> str:
    """The first character that is not whitespace (a byte-order mark skipped), or "" for a blank file."""
    with opened as handle:
        head = handle.read(3)
        if head != b"\xef\xbb\xbf":
            handle.seek(0)
        while chunk := handle.read(_CHUNK):
            stripped = chunk.lstrip()
            if stripped:
                return chr(stripped[0]) if stripped[0] < 128 else "?"
    return ""


def _not_utf8(source: str, data: bytes, at: int, offset: int, lines_before: int) -> UserError:
    """data[at] is the first bad byte; offset is data's position in the file, lines_before the lines above it."""
    line = lines_before + data[:at].count(b"\n") + 1
    return UserError(
        f"{source}: not UTF-8 text (byte 0x{data[at]:02x} at byte offset {offset + at}, line {line}); re-save "
        "the file as UTF-8 (e.g. 'Save as… → UTF-8' in your editor, or iconv)",
        BAD_CONTENT,
    )


def _text_chunks(handle: BinaryIO, source: str) -> Iterator[str]:
    """The file as decoded text pieces (a leading byte-order mark dropped); not UTF-8 → UserError with where."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    offset = lines = 0
    while True:
        data = handle.read(_CHUNK)
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            start = max(0, exc.start - len(decoder.getstate()[0]))  # bytes held back from the last piece
            raise _not_utf8(source, data, min(start, len(data) - 1), offset, lines) from None
        if text:
            yield text
        if not data:
            return
        offset += len(data)
        lines += data.count(b"\n")


def _text_lines(handle: BinaryIO, source: str) -> Iterator[str]:
    """The file's lines, each with its "\\n" (as csv wants them from a file opened with newline="")."""
    rest = ""
    for piece in _text_chunks(handle, source):
        lines = (rest + piece).split("\n")
        rest = lines.pop()
        yield from (line + "\n" for line in lines)
    if rest:
        yield rest


def _decode_all(handle: BinaryIO, source: str) -> str:
    return "".join(_text_chunks(handle, source))


def _broken_json(source: str, exc: json.JSONDecodeError, where: tuple[int, int, int], text: str) -> UserError:
    """exc is relative to text, which starts on line where[0] + 1, column where[1] + 1, character where[2]."""
    line0, column0, char0 = where
    line = line0 + text.count("\n", 0, exc.pos) + 1
    newline = text.rfind("\n", 0, exc.pos)
    column = exc.pos - newline if newline >= 0 else column0 + exc.pos + 1
    return UserError(
        f"{source}: broken JSON at line {line}, column {column} (char {char0 + exc.pos}): {exc.msg}; fix the "
        "syntax there (often a missing comma, quote or bracket)",
        BAD_CONTENT,
    )


def _json_array_values(handle: BinaryIO, source: str, single: bool = False) -> Iterator[tuple[int, Any]]:
    """Elements of a top-level JSON array (or the one object of the file, as element 1), decoded one by one."""
    decoder = json.JSONDecoder()
    chunks = _text_chunks(handle, source)
    buffer, pos, at_end = "", 0, False
    line0 = column0 = char0 = 0  # where the buffer starts in the file

    def refill() -> bool:
        nonlocal buffer, pos, line0, column0, char0, at_end
        piece = next(chunks, None)
        if piece is None:
            at_end = True
            return False
        newline = buffer.rfind("\n", 0, pos)
        line0 += buffer.count("\n", 0, pos)
        column0 = pos - newline - 1 if newline >= 0 else column0 + pos
        char0 += pos
        buffer, pos = buffer[pos:] + piece, 0
        return True

    def skip_space() -> str:
        nonlocal pos
        while True:
            while pos < len(buffer) and buffer[pos] in " \t\r\n":
                pos += 1
            if pos < len(buffer) or not refill():
                return buffer[pos] if pos < len(buffer) else ""

    def fail(message: str) -> UserError:
        return _broken_json(source, json.JSONDecodeError(message, buffer, pos), (line0, column0, char0), buffer)

    def value() -> Any:
        nonlocal pos
        while True:
            try:
                found, end = decoder.raw_decode(buffer, pos)
            except json.JSONDecodeError as exc:
                cut = "Unterminated string" in exc.msg or exc.pos >= len(buffer) - 6  # 6: a \uXXXX escape
                if cut and not at_end and refill():
                    continue  # the value goes on in the next piece
                raise _broken_json(source, exc, (line0, column0, char0), buffer) from None
            except RecursionError:
                raise UserError(f"{source}: {TOO_DEEP}", BAD_CONTENT) from None
            if end == len(buffer) and not at_end and refill():
                continue  # a number or literal cut at the end of the piece
            pos = end
            return found

    if single:
        skip_space()
        yield 1, value()
        if skip_space():
            raise fail("Extra data")
        return
    skip_space()
    pos += 1  # the opening bracket
    row = 0
    if skip_space() == "]":
        pos += 1
    else:
        while True:
            skip_space()
            row += 1
            yield row, value()
            following = skip_space()
            pos += 1
            if following == "]":
                break
            if following != ",":
                pos -= 1
                raise fail("Expecting ',' delimiter")
    if skip_space():
        raise fail("Extra data")


def _is_one_json_object(handle: BinaryIO, source: str) -> bool:
    """Whether the file holds a single (perhaps pretty-printed) JSON object rather than JSON Lines."""
    try:
        for _ in _json_array_values(handle, source, single=True):
            pass
    except UserError:
        return False
    return True


def _jsonl_values(handle: BinaryIO, source: str) -> Iterator[tuple[int, Any]]:
    """(line number, value or RowProblem) per non-blank line; a broken line is a row problem, the rest is read."""
    offset = 0
    for line_no, raw in enumerate(handle, start=1):
        try:
            line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            bom = 3 if line_no == 1 and raw.startswith(codecs.BOM_UTF8) else 0
            raise _not_utf8(source, raw, exc.start + bom, offset, line_no - 1) from None
        offset += len(raw)
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line)
        except RecursionError:
            yield line_no, RowProblem(line_no, None, f"line {line_no} {TOO_DEEP}", code="too_deep")
        except json.JSONDecodeError as exc:
            yield line_no, RowProblem(
                line_no,
                None,
                f"line {line_no} is not valid JSON (char {exc.colno}: {exc.msg}); "
                "each line must be one complete JSON object",
                code="broken_json",
            )


def _record_kind(record: dict) -> str:
    return "sharegpt" if "conversations" in record else "openai" if "messages" in record else "alpaca"


def _record_to_sample(record: Any) -> AlpacaSample:
    if not isinstance(record, dict):
        raise _RowError(None, f"expected a JSON object, got {_type_name(record)}", "not_an_object")
    convert = {"sharegpt": _sharegpt_to_sample, "openai": _openai_to_sample, "alpaca": _alpaca_to_sample}
    return convert[_record_kind(record)](record)


# ---------------------------------------------------------------- record shapes


def _alpaca_to_sample(record: dict) -> AlpacaSample:
    missing = [key for key in ("instruction", "output") if key not in record]
    if missing:
        found = ", ".join(sorted(record)) or "none"
        raise _RowError(
            missing[0],
            f"missing {' and '.join(missing)} (fields found: {found}); an Alpaca record needs 'instruction' "
            "and 'output', with optional 'input', 'system', 'history' (or ShareGPT 'conversations' / OpenAI "
            "'messages')",
            "missing_field",
        )
    return _make_sample(
        instruction=_text_field(record, "instruction", required=True),
        input=_text_field(record, "input"),
        output=_text_field(record, "output", required=True),
        system=_text_field(record, "system"),
        history=_history_field(record.get("history")),
    )


def _sharegpt_to_sample(record: dict) -> AlpacaSample:
    turns = record["conversations"]
    if not isinstance(turns, list) or not turns:
        raise _RowError(
            "conversations",
            'must be a non-empty list of {"from": ..., "value": ...} messages',
            "bad_conversation",
        )
    messages = []
    for i, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict) or "from" not in turn or "value" not in turn:
            raise _RowError(
                "conversations", f"message {i} must be an object with 'from' and 'value'", "bad_conversation"
            )
        role = str(turn["from"]).lower()
        role = "user" if role in SHAREGPT_USER else "assistant" if role in SHAREGPT_ASSISTANT else role
        messages.append((role, turn["value"]))
    system = _text_field(record, "system")
    return _chat_to_sample(messages, system, "conversations", "'human' and 'gpt'")


def _openai_to_sample(record: dict) -> AlpacaSample:
    turns = record["messages"]
    if not isinstance(turns, list) or not turns:
        raise _RowError(
            "messages",
            'must be a non-empty list of {"role": ..., "content": ...} messages',
            "bad_conversation",
        )
    messages = []
    for i, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict) or "role" not in turn or "content" not in turn:
            raise _RowError(
                "messages", f"message {i} must be an object with 'role' and 'content'", "bad_conversation"
            )
        messages.append((str(turn["role"]).lower(), _content_text(turn["content"], i)))
    return _chat_to_sample(messages, "", "messages", "'user' and 'assistant'")


def _content_text(content: Any, index: int) -> Any:
    """OpenAI content may be a list of {"type": "text", "text": ...} parts; only text parts are supported."""
    if not isinstance(content, list):
        return content
    if all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content
    ):
        return "".join(p["text"] for p in content)
    raise _RowError(
        "messages", f"message {index} has non-text content parts; only text is supported", "bad_conversation"
    )


def _chat_to_sample(
    messages: list[tuple[str, Any]], system: str, field_name: str, roles: str
) -> AlpacaSample:
    """Turns [system?] user/assistant/... alternating messages into instruction/output plus history."""
    if messages and messages[0][0] == "system":
        system = _as_text(messages[0][1], field_name, "the system message")
        messages = messages[1:]
    pairs: list[tuple[str, str]] = []
    for i in range(0, len(messages), 2):
        user, answer = messages[i], messages[i + 1] if i + 1 < len(messages) else None
        if user[0] != "user" or answer is None or answer[0] != "assistant":
            found = " → ".join(role for role, _ in messages)
            raise _RowError(
                field_name,
                f"turns must alternate {roles}, starting with the user and ending with the assistant "
                f"(found: {found}); tool/function turns are not supported",
                "bad_conversation",
            )
        pairs.append(
            (_as_text(user[1], field_name, f"turn {i + 1}"), _as_text(answer[1], field_name, f"turn {i + 2}"))
        )
    if not pairs:
        raise _RowError(field_name, "has no user/assistant turns", "bad_conversation")
    instruction, output = pairs[-1]
    return _make_sample(instruction=instruction, output=output, system=system, history=pairs[:-1])


def _make_sample(**values: Any) -> AlpacaSample:
    for key in ("instruction", "output"):
        if not values[key].strip():
            raise _RowError(key, f"'{key}' is blank; write the {key} text or delete the row", f"empty_{key}")
    texts = [(key, values.get(key) or "") for key in ("instruction", "input", "output", "system")]
    texts += [("history", text) for pair in values.get("history") or [] for text in pair]
    for key, text in texts:
        if surrogate := _LONE_SURROGATE.search(text):
            raise _RowError(key, f"holds a lone surrogate (U+{ord(surrogate.group()):04X}: half of a UTF-16 pair, "
                                 "e.g. a \\ud800 escape), which cannot be saved as UTF-8; remove it or write the "
                                 "whole character", "lone_surrogate")
    return AlpacaSample(**values)


def _text_field(record: dict, key: str, required: bool = False) -> str:
    value = record.get(key)
    if value is None:
        if required:
            raise _RowError(key, f"'{key}' is null; it must be text", "missing_field")
        return ""
    return _as_text(value, key, f"'{key}'")


def _as_text(value: Any, field_name: str, what: str) -> str:
    """Text as is, numbers as their text; objects/lists/booleans are refused (store structure as a string)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise _RowError(field_name, f"{what} is {value}, not a finite number (NaN, Infinity or beyond 1e308 is "
                                    "not JSON data); write the value as text", "not_finite")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    hint = (
        " (to train on structured output, store it as a JSON string)"
        if isinstance(value, (dict, list))
        else ""
    )
    raise _RowError(field_name, f"{what} must be text, got {_type_name(value)}{hint}", "wrong_type")


def _history_field(value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    shape = "history must be a list of [instruction, answer] pairs of text"
    if not isinstance(value, list):
        raise _RowError("history", f"{shape}; got {_type_name(value)}", "bad_history")
    pairs = []
    for i, pair in enumerate(value, start=1):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(isinstance(p, str) for p in pair):
            raise _RowError("history", f"{shape}; item {i} is {json.dumps(pair)[:80]}", "bad_history")
        pairs.append((pair[0], pair[1]))
    return pairs


def _type_name(value: Any) -> str:
    names = {dict: "an object", list: "a list", bool: "true/false", type(None): "null", str: "text"}
    return names.get(type(value), "a number")


# ---------------------------------------------------------------- CSV


def _csv_rows(handle: BinaryIO, source: str, notes: list[str]) -> Iterator[tuple[int, AlpacaSample | RowProblem]]:
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FILE_BYTES))
    reader = csv.DictReader(_text_lines(handle, source))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in CSV_REQUIRED if name not in header]
    if missing:
        raise UserError(
            f"{source}: missing column(s) {', '.join(missing)}; expected columns instruction, input, output "
            f"(input and system optional); found: {', '.join(header) or 'no header'}",
            BAD_CONTENT,
        )
    reader.fieldnames = header
    known = set(CSV_REQUIRED + CSV_OPTIONAL)
    if set(header) - known:
        notes.append(f"ignored columns: {', '.join(sorted(set(header) - known))}")
    try:
        for row, cells in enumerate(reader, start=1):
            if None in cells:
                yield row, RowProblem(row, None, f"has more cells than the header (line {reader.line_num}); "
                                      "quote cells that contain commas", "wrong_cell_count")
                continue
            try:
                yield row, _csv_row_to_sample(cells)
            except _RowError as err:
                yield row, RowProblem(row, err.field, err.message, err.code)
    except csv.Error as exc:
        raise UserError(
            f"{source}: broken CSV near line {reader.line_num}: {exc}; check the quotes there", BAD_CONTENT
        ) from None


def _csv_row_to_sample(cells: dict[str, str | None]) -> AlpacaSample:
    for key in CSV_REQUIRED:
        if cells.get(key) is None:
            raise _RowError(
                key, f"has no '{key}' cell (the row is shorter than the header)", "wrong_cell_count"
            )
    return _make_sample(
        instruction=cells["instruction"],
        input=cells.get("input") or "",
        output=cells["output"],
        system=cells.get("system") or "",
        history=[],
    )


# ---------------------------------------------------------------- pasted "Instruction:/Input:/Output:" blocks

_LABEL = re.compile(r"^\s*(instruction|input|output|system)\s*:\s?(.*)$", re.IGNORECASE)


def _text_block_rows(text: str) -> Iterator[tuple[int, AlpacaSample | RowProblem]]:
    """A new block starts at a label its current block already has, or at any label after an 'Output:'."""
    blocks: list[tuple[int, dict[str, list[str]]]] = []
    stray: list[int] = []
    current: dict[str, list[str]] | None = None
    label = ""
    for line_no, line in enumerate(text.splitlines(), start=1):
        match = _LABEL.match(line)
        if match:
            label = match.group(1).lower()
            if current is None or label in current or ("output" in current and label != "output"):
                current = {}
                blocks.append((line_no, current))
            current[label] = [match.group(2)]
        elif current is not None:
            current[label].append(line)
        elif line.strip():
            stray.append(line_no)
    if not blocks and not stray:
        raise UserError("no samples found; use 'Instruction: ...', 'Input: ...', 'Output: ...' lines", BAD_CONTENT)
    if stray:
        yield 1, RowProblem(
            1,
            None,
            f"text before the first 'Instruction:' label (line {stray[0]}) is not part of any sample; "
            "start every sample with 'Instruction:' and give its answer after 'Output:'",
            "unlabelled_text",
        )
    for row, (line_no, block) in enumerate(blocks, start=1):
        values = {key: "\n".join(lines).strip() for key, lines in block.items()}
        try:
            if "instruction" not in values or "output" not in values:
                missing = [key for key in ("instruction", "output") if key not in values]
                raise _RowError(
                    missing[0],
                    f"block starting at line {line_no} has no '{missing[0].capitalize()}:' line; add one",
                    "missing_field",
                )
            yield row, _make_sample(
                instruction=values["instruction"],
                input=values.get("input", ""),
                output=values["output"],
                system=values.get("system", ""),
                history=[],
            )
        except _RowError as err:
            yield row, RowProblem(row, err.field, err.message, err.code)
