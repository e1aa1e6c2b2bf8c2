"""The decision flow as an SVG picture, with the path a recommendation took highlighted."""
from __future__ import annotations

from html import escape

from tools.advisor.rules import NEED_THRESHOLD

WIDTH, HEIGHT = 720, 330
ON, OFF = "#2563eb", "#cbd5e1"
# node id -> (x centre, y centre, label lines)
NODES = {
    "start": (360, 30, ["Your task"]),
    "knowledge": (360, 100, ["Needs external, changing", "or citable knowledge?"]),
    "style_no": (180, 180, ["Needs custom style/format,", "edge cases or scale?"]),
    "style_yes": (540, 180, ["Needs custom style/format,", "edge cases or scale?"]),
    "icl": (90, 275, ["ICL", "(prompting)"]),
    "fine-tune": (270, 275, ["Fine-tune", "(QLoRA)"]),
    "rag": (450, 275, ["RAG", "(retrieval)"]),
    "rag+fine-tune": (630, 275, ["RAG +", "fine-tune"]),
}
EDGES = [("start", "knowledge", ""), ("knowledge", "style_no", "no"), ("knowledge", "style_yes", "yes"),
         ("style_no", "icl", "no"), ("style_no", "fine-tune", "yes"),
         ("style_yes", "rag", "no"), ("style_yes", "rag+fine-tune", "yes")]


def path_for(approach: str) -> list[str]:
    middle = "style_yes" if approach.startswith("rag") else "style_no"
    return ["start", "knowledge", middle, approach]


def render_flow_svg(approach: str | None = None, scores: dict[str, int] | None = None) -> str:
    """SVG markup; with no approach yet, nothing is highlighted."""
    taken = set(path_for(approach)) if approach else set()
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
             f'role="img" aria-label="decision flow" font-family="sans-serif" font-size="12">']
    for a, b, label in EDGES:
        (x1, y1, _), (x2, y2, _) = NODES[a], NODES[b]
        on = a in taken and b in taken
        parts.append(f'<line x1="{x1}" y1="{y1 + 18}" x2="{x2}" y2="{y2 - 22}" stroke="{ON if on else OFF}" '
                     f'stroke-width="{3 if on else 1.5}"/>')
        if label:
            parts.append(f'<text x="{(x1 + x2) / 2 + 6}" y="{(y1 + y2) / 2 + 4}" fill="#475569">{label}</text>')
    for node, (x, y, lines) in NODES.items():
        on = node in taken
        leaf = node in ("icl", "fine-tune", "rag", "rag+fine-tune")
        fill = ON if on and leaf else "#eff6ff" if on else "#f8fafc"
        ink = "#ffffff" if on and leaf else "#0f172a"
        parts.append(f'<rect x="{x - 85}" y="{y - 20}" width="170" height="40" rx="8" fill="{fill}" '
                     f'stroke="{ON if on else OFF}" stroke-width="{2.5 if on else 1}" data-node="{node}" '
                     f'data-taken="{str(on).lower()}"/>')
        for i, line in enumerate(lines):
            dy = (i - (len(lines) - 1) / 2) * 14 + 4
            parts.append(f'<text x="{x}" y="{y + dy}" text-anchor="middle" fill="{ink}">{escape(line)}</text>')
    if scores:
        parts.append(f'<text x="10" y="{HEIGHT - 8}" fill="#475569">scores: retrieval {scores.get("rag", 0)}, '
                     f'fine-tune {scores.get("fine-tune", 0)} (a need counts at {NEED_THRESHOLD})</text>')
    parts.append(f'<text x="{WIDTH - 10}" y="{HEIGHT - 8}" text-anchor="end" fill="#94a3b8">'
                 'Pre-training / continued pre-training: not for small teams</text></svg>')
    return "".join(parts)
