"""Turns whatever the LLM sent back into candidate sample dicts, leniently and without guessing content.

Accepts structured-output results, a bare list, {"samples": [...]}, JSON inside ```json fences or prose, and
salvages the complete objects of a truncated array. A truncated object is never repaired: it is dropped.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


class GeneratedSample(BaseModel):
    """One sample as the LLM is asked to write it (system is added by the project)."""

    instruction: str
    input: str = ""
    output: str
    history: list[list[str]] = Field(
        default_factory=list, description="[instruction, answer] pairs, oldest first"
    )


class GeneratedBatch(BaseModel):
    """The structured-output schema of one reply: a list of samples."""

    samples: list[GeneratedSample]


def batch_response_format() -> dict[str, Any]:
    """GeneratedBatch as an OpenAI json_schema response format; non-strict, for servers without strict mode.

    Passed as a dict (not the class) so a reply that breaks the schema comes back raw for lenient parsing
    instead of failing inside the client.
    """
    return {
        "name": "sample_batch",
        "description": GeneratedBatch.__doc__,
        "schema": GeneratedBatch.model_json_schema(),
        "strict": False,
    }


class UnparseableReply(ValueError):
    """The reply held no JSON list of samples."""


def _items_from_json(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if isinstance(value.get("samples"), list):
            return value["samples"]
        if "instruction" in value:  # a single sample where a list was asked for
            return [value]
    return None


def _salvage_array(text: str) -> list[Any]:
    """The complete JSON values at the start of the first array in text, stopping at the first broken one."""
    start = text.find("[")
    items: list[Any] = []
    if start < 0:
        return items
    pos = start + 1
    while pos < len(text):
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
        items.append(value)
    return items


def items_from_text(text: str) -> list[Any]:
    """Candidate items from a plain-text reply; raises UnparseableReply when there is no usable JSON."""
    candidates = [block.strip() for block in _FENCE.findall(text)] + [text.strip()]
    for candidate in candidates:
        try:
            items = _items_from_json(json.loads(candidate))
        except json.JSONDecodeError:
            continue
        if items is not None:
            return items
    single: list[Any] | None = None
    for match in re.finditer(r"[\[{]", text):  # JSON embedded in prose
        try:
            value, _ = _DECODER.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and isinstance(value.get("samples"), list):
            return value["samples"]
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            return value
        if isinstance(value, dict) and "instruction" in value:
            single = single or [value]  # may be one sample of a truncated array: salvaging comes first
    salvaged = _salvage_array(text)
    if salvaged or single:
        return salvaged or single
    raise UnparseableReply(f"the reply held no JSON list of samples (it began: {text.strip()[:80]!r})")


def _message_text(message: Any) -> str:
    """Text of a chat message: its content, else the arguments of its (possibly invalid) tool calls."""
    content = getattr(message, "content", message)
    if isinstance(content, list):  # content blocks
        content = "".join(
            block.get("text", "") if isinstance(block, dict) else str(block) for block in content
        )
    if isinstance(content, str) and content.strip():
        return content
    for call in getattr(message, "tool_calls", None) or []:
        return json.dumps(call.get("args", {}))
    for call in getattr(message, "invalid_tool_calls", None) or []:
        return call.get("args") or ""
    return content if isinstance(content, str) else ""


def items_from_reply(reply: Any) -> list[Any]:
    """Candidate items from any model reply: include_raw dicts, pydantic objects, dicts, lists or messages."""
    if isinstance(reply, dict) and "raw" in reply and "parsed" in reply:
        # Re-read the raw text strictly: langchain's JSON parser "repairs" a truncated reply, which would
        # accept a last sample cut off mid-answer.
        raw_text = _message_text(reply["raw"])
        if raw_text.strip() or reply["parsed"] is None:
            return items_from_text(raw_text)
        return items_from_reply(reply["parsed"])
    if hasattr(reply, "content"):  # a chat message (itself a pydantic model: test this first)
        return items_from_text(_message_text(reply))
    if isinstance(reply, BaseModel):
        reply = reply.model_dump()
    if isinstance(reply, dict | list):
        items = _items_from_json(reply)
        if items is None:
            raise UnparseableReply(
                f"the reply was JSON but not a list of samples (keys: {sorted(reply)[:5]})"
            )
        return items
    return items_from_text(_message_text(reply))
