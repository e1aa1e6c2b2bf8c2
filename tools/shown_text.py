"""Untrusted text (samples, files, model output, the agent's words) placed in Markdown: the one home for escaping
it, so tags such as <start_of_turn> show as written (Gradio would swallow them as HTML) and Markdown's own marks
are taken literally."""
from __future__ import annotations

import html

MARKDOWN_MARKS = "\\`*_[]#|~"


def literal(text: object) -> str:
    """The text as written, for a Markdown box."""
    escaped = html.escape(str(text), quote=False)
    return "".join(f"\\{c}" if c in MARKDOWN_MARKS else c for c in escaped)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


QUOTE_CHARS = 80  # what a quote shows of a text


def quoted(text: str, limit: int = QUOTE_CHARS) -> str:
    """The text on one line, cut at limit characters, in quotes."""
    return "“" + literal(_cut(" ".join(text.split()), limit)) + "”"


def table_cell(text: str, limit: int = 400) -> str:
    """The text as one Markdown table cell: line breaks shown, an empty text said."""
    return literal(_cut(text, limit)).replace("\n", "<br>") or "_(empty)_"
