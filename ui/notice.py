"""An action's answer, shown next to the button that asked: one wording for done and not done in every panel of the
Data studio."""
from __future__ import annotations

import html


def notice(text: str, ok: bool = True) -> str:
    """An action's answer in the studio (escaped; the desk's words keep their bold): what happened, what next."""
    text = html.escape(text, quote=False)
    return text if ok else f"**Not done:** {text}"
