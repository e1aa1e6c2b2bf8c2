"""Bar charts that read right: a bar for every count, the count axis from 0, axes named in words, labels that do
not overlap, and a sentence instead of empty axes when there is nothing to draw. The Data studio's charts (and
any other bar chart of counts) are made here."""
from __future__ import annotations

from collections.abc import Sequence

import gradio as gr
import pandas as pd

SLANT_ABOVE_CHARS = 24  # when the labels together are longer than this, they are slanted so they do not overlap
LABEL_ANGLE = -35
MIN_COUNT_AXIS = 5  # a count axis reaches at least this far, so its ticks are whole numbers


def bar_chart(bars: Sequence[tuple[str, float]], *, x_title: str, y_title: str, empty: str, title: str,
              y_max: float | None = None, **component) -> gr.BarPlot:
    """A BarPlot (new, or as the update a handler returns) of (label, count) pairs in their order; component:
    more BarPlot arguments (elem_id when it is created; an update leaves out what it does not change).

    The count axis starts at 0 (Gradio's default leaves zero out, which hid the smallest bar); counts get whole
    ticks. With no bars, or only zeros, it shows `empty` as its label over Gradio's empty-plot placeholder instead of
    axes labelled 0.000000."""
    if not bars or not any(value for _, value in bars):
        return gr.BarPlot(value=None, x=x_title, y=y_title, title=title, label=f"{title}: {empty}",
                          show_label=True, **component)
    frame = pd.DataFrame({x_title: [label for label, _ in bars], y_title: [value for _, value in bars]})
    slant = sum(len(label) for label, _ in bars) > SLANT_ABOVE_CHARS
    if y_max is None and all(float(value).is_integer() for _, value in bars):
        y_max = max(MIN_COUNT_AXIS, *(value for _, value in bars))  # whole ticks (no "1.5 rows") on small counts
    return gr.BarPlot(value=frame, x=x_title, y=y_title, title=title, x_title=x_title, y_title=y_title,
                      y_lim=[0, y_max], x_label_angle=LABEL_ANGLE if slant else 0, sort=None, label=None,
                      show_label=False, **component)


# ---- the Data studio's charts --------------------------------------------------------------------------------

NO_VERSION = "nothing yet (build a dataset version)"


def lengths_chart(bins: Sequence[tuple[str, int]], empty: str, **component) -> gr.BarPlot:
    return bar_chart(bins, title="Sample length", x_title="characters (question + answer)", y_title="samples",
                     empty=empty, **component)


def drops_chart(reasons: Sequence[tuple[str, int]], empty: str, **component) -> gr.BarPlot:
    return bar_chart(reasons, title="Dropped rows by reason", x_title="reason", y_title="rows dropped",
                     empty=empty, **component)


def checks_chart(checks: Sequence[tuple[str, int]], empty: str, **component) -> gr.BarPlot:
    return bar_chart(checks, title="Conflicts, checks and labels", x_title="finding", y_title="samples",
                     empty=empty, **component)


def acceptance_chart(batches: Sequence[tuple[str, float]], **component) -> gr.BarPlot:
    return bar_chart(batches, title="Acceptance per batch", x_title="batch", y_title="accepted %", y_max=100,
                     empty="nothing yet (review a batch)", **component)
