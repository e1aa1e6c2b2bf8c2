"""The decision flow as an SVG picture, with the path a recommendation took highlighted.

Drawn on a 480-unit-wide canvas with 14-unit text, so the words stay at 12 px or more wherever the picture is at
least 420 px wide (the app's side column is wider than that at common window sizes).
"""
from __future__ import annotations

from html import escape

from tools.advisor.rules import NEED_THRESHOLD

WIDTH, HEIGHT = 480, 340
FONT = 14
ON, OFF = "#2563eb", "#94a3b8"
LEAVES = ("icl", "fine-tune", "rag", "rag+fine-tune")
# node id -> (x centre, y centre, box width, label lines)
NODES = {
    "start": (240, 22, 130, ["Your task"]),
    "knowledge": (240, 84, 300, ["Do answers need your own", "documents or facts?"]),
    "style_no": (122, 166, 236, ["Style or format need, with", "the data or volume to train?"]),
    "style_yes": (358, 166, 236, ["Style or format need, with", "the data or volume to train?"]),
    "icl": (62, 250, 112, ["Prompting", "(ICL)"]),
    "fine-tune": (182, 250, 112, ["Fine-tune", "(QLoRA)"]),
    "rag": (298, 250, 112, ["RAG", "(retrieval)"]),
    "rag+fine-tune": (418, 250, 112, ["RAG +", "fine-tune"]),
}
EDGES = [("start", "knowledge", ""), ("knowledge", "style_no", "no"), ("knowledge", "style_yes", "yes"),
         ("style_no", "icl", "no"), ("style_no", "fine-tune", "yes"),
         ("style_yes", "rag", "no"), ("style_yes", "rag+fine-tune", "yes")]


def path_for(approach: str) -> list[str]:
    middle = "style_yes" if approach.startswith("rag") else "style_no"
    return ["start", "knowledge", middle, approach]


def _box_height(lines: list[str]) -> int:
    return 18 * len(lines) + 12


def render_flow_svg(approach: str | None = None, scores: dict[str, int] | None = None) -> str:
    """SVG markup; with no approach yet, nothing is highlighted."""
    taken = set(path_for(approach)) if approach else set()
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
             f'style="max-width:600px" role="img" aria-label="decision flow" font-family="sans-serif" '
             f'font-size="{FONT}">']
    for a, b, label in EDGES:
        (x1, y1, _, lines_a), (x2, y2, _, lines_b) = NODES[a], NODES[b]
        on = a in taken and b in taken
        top, bottom = y1 + _box_height(lines_a) / 2, y2 - _box_height(lines_b) / 2
        parts.append(f'<line x1="{x1}" y1="{top}" x2="{x2}" y2="{bottom}" stroke="{ON if on else OFF}" '
                     f'stroke-width="{3 if on else 1.5}"/>')
        if label:
            parts.append(f'<text x="{(x1 + x2) / 2 + (8 if x2 > x1 else -8)}" y="{(top + bottom) / 2 + 4}" '
                         f'text-anchor="{"start" if x2 > x1 else "end"}" fill="#334155">{label}</text>')
    for node, (x, y, width, lines) in NODES.items():
        on = node in taken
        fill = ON if on and node in LEAVES else "#eff6ff" if on else "#f8fafc"
        ink = "#ffffff" if on and node in LEAVES else "#0f172a"
        height = _box_height(lines)
        parts.append(f'<rect x="{x - width / 2}" y="{y - height / 2}" width="{width}" height="{height}" rx="8" '
                     f'fill="{fill}" stroke="{ON if on else OFF}" stroke-width="{2.5 if on else 1}" '
                     f'data-node="{node}" data-taken="{str(on).lower()}"/>')
        for i, line in enumerate(lines):
            dy = (i - (len(lines) - 1) / 2) * 18 + 5
            parts.append(f'<text x="{x}" y="{y + dy}" text-anchor="middle" fill="{ink}">{escape(line)}</text>')
    if scores:
        parts.append(f'<text x="8" y="{HEIGHT - 28}" fill="#334155" data-part="scores">Points: retrieval '
                     f'{scores.get("rag", 0)}, fine-tuning {scores.get("fine-tune", 0)} ({NEED_THRESHOLD} make a '
                     'need)</text>')
    parts.append(f'<text x="8" y="{HEIGHT - 8}" fill="#64748b">Pre-training: not for small teams</text>')
    parts.append("</svg>")
    return "".join(parts)
