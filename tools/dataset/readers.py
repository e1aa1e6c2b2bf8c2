"""Read Alpaca / ShareGPT / OpenAI chat (JSON or JSONL), CSV and pasted text into AlpacaSamples.

Every record becomes either a sample or a RowProblem that says what is wrong and how to fix it: nothing is
dropped silently. Whole-file failures (unreadable, not UTF-8, broken JSON array, wrong CSV header) raise
UserError.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.dataset.schema import AlpacaSample
from tools.errors import UserError

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


class _RowError(Exception):
    """A record that cannot become a sample; turned into a RowProblem by the caller that knows the row."""

    def __init__(self, field_name: str | None, message: str, code: str = "invalid_row"):
        super().__init__(message)
        self.field = field_name
        self.message = message
        self.code = code


# ---------------------------------------------------------------- entry points


def read_samples(path: Path | str, max_bytes: int = MAX_FILE_BYTES) -> ReadResult:
    """Read a dataset file; the format is detected from the extension and the content."""
    path = Path(path)
    text = _read_utf8(path, max_bytes)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(text, path.name)
    if suffix in {".txt", ".md"} and not text.lstrip().startswith(("[", "{")):
        return _read_text_blocks(text)
    return _read_json_text(text, path.name, lines_expected=suffix == ".jsonl")


def parse_pasted_text(text: str) -> ReadResult:
    """Parse pasted JSON/JSONL, or blocks of "Instruction: ... / Input: ... / Output: ..." lines."""
    if not text.strip():
        raise UserError("the pasted text is empty; paste JSON/JSONL samples or 'Instruction:/Output:' blocks")
    if len(text) > MAX_FILE_BYTES:
        raise UserError(f"the pasted text is over {MAX_FILE_BYTES / 1e6:.0f} MB; upload it in parts as files")
    if text.lstrip().startswith(("[", "{")):
        return _read_json_text(text, "pasted text")
    return _read_text_blocks(text)


# ---------------------------------------------------------------- files and JSON


def _read_utf8(path: Path, max_bytes: int) -> str:
    if path.is_dir():
        raise UserError(f"{path}: is a folder; pass a dataset file (JSON, JSONL, CSV or text) inside it")
    if not path.is_file():
        raise UserError(f"{path}: no such file; check the path")
    size = path.stat().st_size
    if size > max_bytes:
        raise UserError(
            f"{path.name}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit; "
            "split the file into smaller parts or raise the limit (--max-mb)"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror}); check its permissions (ls -l)") from None
    if not data.strip():
        raise UserError(
            f"{path.name}: the file is empty; add samples (one JSON object per line, or a JSON array)"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(
            f"{path.name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at byte offset {exc.start}, "
            f"line {line}); re-save the file as UTF-8 (e.g. 'Save as… → UTF-8' in your editor, or iconv)"
        ) from None


def _read_json_text(text: str, source: str, lines_expected: bool = False) -> ReadResult:
    """A JSON array, a single (possibly pretty-printed) JSON object, or JSON Lines."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            records = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"{source}: broken JSON at line {exc.lineno}, column {exc.colno} (char {exc.pos}): "
                f"{exc.msg}; fix the syntax there (often a missing comma, quote or bracket)"
            ) from None
        except RecursionError:
            raise UserError(f"{source}: {TOO_DEEP}") from None
        return _convert_records(list(enumerate(records, start=1)), container="json")
    try:
        whole = None if lines_expected else json.loads(stripped)
    except json.JSONDecodeError:
        whole = None
    except RecursionError:
        raise UserError(f"{source}: {TOO_DEEP}") from None
    if isinstance(whole, dict):
        return _convert_records([(1, whole)], container="json")
    return _read_jsonl(text)


def _read_jsonl(text: str) -> ReadResult:
    numbered: list[tuple[int, Any]] = []
    problems: list[RowProblem] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            numbered.append((line_no, json.loads(line)))
        except RecursionError:
            problems.append(RowProblem(line_no, None, f"line {line_no} {TOO_DEEP}", code="too_deep"))
        except json.JSONDecodeError as exc:
            problems.append(
                RowProblem(
                    line_no,
                    None,
                    f"line {line_no} is not valid JSON (char {exc.colno}: {exc.msg}); "
                    "each line must be one complete JSON object",
                    code="broken_json",
                )
            )
    result = _convert_records(numbered, container="jsonl")
    result.problems = sorted(problems + result.problems, key=lambda p: p.row)
    result.rows_read += len(problems)
    return result


def _convert_records(numbered: list[tuple[int, Any]], container: str) -> ReadResult:
    result = ReadResult(rows_read=len(numbered))
    kinds = Counter(_record_kind(record) for _, record in numbered if isinstance(record, dict))
    ignored: set[str] = set()
    for row, record in numbered:
        try:
            sample = _record_to_sample(record)
        except RecursionError:  # e.g. a history nested hundreds of levels deep
            result.problems.append(RowProblem(row, None, TOO_DEEP, "too_deep"))
            continue
        except _RowError as err:
            result.problems.append(RowProblem(row, err.field, err.message, err.code))
            continue
        ignored |= set(record) - RECORD_KEYS[_record_kind(record)]
        result.samples.append(sample)
        result.sample_rows.append(row)
    result.format = f"{kinds.most_common(1)[0][0] if kinds else 'alpaca'}-{container}"
    if len(kinds) > 1:
        result.notes.append(f"mixed record formats in one file: {', '.join(sorted(kinds))}")
    if ignored:
        result.notes.append(f"ignored fields that no format uses: {', '.join(sorted(ignored))}")
    return result


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


def _read_csv(text: str, source: str) -> ReadResult:
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FILE_BYTES))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in CSV_REQUIRED if name not in header]
    if missing:
        raise UserError(
            f"{source}: missing column(s) {', '.join(missing)}; expected columns instruction, input, output "
            f"(input and system optional); found: {', '.join(header) or 'no header'}"
        )
    reader.fieldnames = header
    result = ReadResult(format="csv")
    known = set(CSV_REQUIRED + CSV_OPTIONAL)
    if set(header) - known:
        result.notes.append(f"ignored columns: {', '.join(sorted(set(header) - known))}")
    try:
        for row, cells in enumerate(reader, start=1):
            result.rows_read += 1
            if None in cells:
                result.problems.append(
                    RowProblem(
                        row,
                        None,
                        f"has more cells than the header (line {reader.line_num}); quote cells that "
                        "contain commas",
                        "wrong_cell_count",
                    )
                )
                continue
            try:
                sample = _csv_row_to_sample(cells)
            except _RowError as err:
                result.problems.append(RowProblem(row, err.field, err.message, err.code))
                continue
            result.samples.append(sample)
            result.sample_rows.append(row)
    except csv.Error as exc:
        raise UserError(
            f"{source}: broken CSV near line {reader.line_num}: {exc}; check the quotes there"
        ) from None
    return result


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


def _read_text_blocks(text: str) -> ReadResult:
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
    result = ReadResult(format="text-blocks", rows_read=len(blocks))
    if stray:
        result.rows_read += 1
        result.problems.append(
            RowProblem(
                1,
                None,
                f"text before the first 'Instruction:' label (line {stray[0]}) is not part of any sample; "
                "start every sample with 'Instruction:' and give its answer after 'Output:'",
                "unlabelled_text",
            )
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
            sample = _make_sample(
                instruction=values["instruction"],
                input=values.get("input", ""),
                output=values["output"],
                system=values.get("system", ""),
                history=[],
            )
        except _RowError as err:
            result.problems.append(RowProblem(row, err.field, err.message, err.code))
            continue
        result.samples.append(sample)
        result.sample_rows.append(row)
    if not blocks and not stray:
        raise UserError("no samples found; use 'Instruction: ...', 'Input: ...', 'Output: ...' lines")
    return result
