"""The Data studio's charts in a real Chromium (issue 18): a bar for every count (a count of 1 included), the count
axis from 0, axes named in words, x labels that do not overlap, and "nothing yet" instead of empty axes."""
import json

import pytest

from tests.browser_support import browser_page, needs_chromium, running_app, screenshot, settle, workspace_session
from tools.dataset.schema import AlpacaSample

pytestmark = [pytest.mark.browser, needs_chromium]

# Vega draws the plots as SVG: bars are the paths of the rect mark, axes are groups labelled "X-axis ..."/"Y-axis ..."
CHART_FACTS = """(id) => {
  const root = document.querySelector('#' + id);
  const svg = root && root.querySelector('svg.marks');
  if (!svg) return {text: root ? root.innerText : null};
  const axis = (which) => svg.querySelector(`g[aria-label^="${which}-axis"]`);
  // each element's own box (before any rotation) with its corners on the screen: slanted labels stay exact
  const boxes = (group, sel) => group ? [...group.querySelectorAll(sel)].map(e => {
      const b = e.getBBox(), m = e.getScreenCTM(), r = e.getBoundingClientRect();
      const corner = (x, y) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f];
      return {text: e.textContent, h: r.height, corners: [corner(b.x, b.y), corner(b.x + b.width, b.y),
              corner(b.x + b.width, b.y + b.height), corner(b.x, b.y + b.height)]}; }) : [];
  return {
    bars: boxes(svg, '.mark-rect.role-mark path'),
    xTitle: (boxes(axis('X'), '.role-axis-title text')[0] || {}).text,
    yTitle: (boxes(axis('Y'), '.role-axis-title text')[0] || {}).text,
    xLabels: boxes(axis('X'), '.role-axis-label text'),
    yLabels: boxes(axis('Y'), '.role-axis-label text').map(b => b.text),
    text: root.innerText,
  };
}"""


def _overlaps(labels: list[dict]) -> list[tuple[str, str]]:
    """Pairs of labels whose (possibly slanted) boxes overlap by more than a pixel: separating-axis test."""
    def apart(a: list, b: list) -> bool:
        for quad in (a, b):
            for i in range(4):
                (x1, y1), (x2, y2) = quad[i], quad[(i + 1) % 4]
                normal = (y1 - y2, x2 - x1)
                length = (normal[0] ** 2 + normal[1] ** 2) ** 0.5 or 1
                pa = [(x * normal[0] + y * normal[1]) / length for x, y in a]
                pb = [(x * normal[0] + y * normal[1]) / length for x, y in b]
                if max(pa) < min(pb) + 1 or max(pb) < min(pa) + 1:
                    return True
        return False

    return [(a["text"], b["text"]) for i, a in enumerate(labels) for b in labels[i + 1:]
            if not apart(a["corners"], b["corners"])]


def _project_with_a_version(tmp_path):
    """A workspace whose one conversation has a reviewed batch (4 of 5 accepted) and a version built from a file
    whose drops are 1, 1 and 2 rows."""
    settings, store, session = workspace_session(tmp_path)
    tid = session.new_conversation().thread_id
    store.save_project(tid, "Answer questions about parcels.",
                       [AlpacaSample(instruction="Where is my parcel?", output="Orders shows it.")])
    batch = store.add_batch(tid, [AlpacaSample(instruction=f"Question {i}?", output=f"Answer {i}.") for i in range(5)])
    for sample in store.batch_samples(batch.id)[:4]:
        store.approve(sample.id)
    store.reject(store.batch_samples(batch.id)[4].id, "wrong")
    store.submit_batch(batch.id)
    rows = [{"instruction": f"Question number {i} about " + "parcels " * (i * 3), "output": f"Answer {i}."}
            for i in range(12)]
    rows += [rows[0], rows[1], {"instruction": rows[5]["instruction"], "output": "Something else."},
             {"instruction": "", "output": "no question"}]
    data = tmp_path / "rows.json"
    data.write_text(json.dumps(rows), encoding="utf-8")
    report = session.studio.build_from_file(tid, str(data), {"fmt": "alpaca", "eval_fraction": 0.1, "system": "",
                                                             "include_seeds": False})
    return settings, session, report


def test_empty_charts_say_nothing_yet_instead_of_drawing_empty_axes(tmp_path):
    settings, _, session = workspace_session(tmp_path)
    session.new_conversation()
    with running_app(settings, session) as url, browser_page() as page:
        from playwright.sync_api import expect

        expect.set_options(timeout=30_000)
        page.goto(url)
        page.get_by_role("tab", name="Data studio").click()
        settle(page)
        for chart, words in (("ts-acceptance", "nothing yet (review a batch)"),
                             ("ts-length-plot", "nothing yet (build a dataset version)"),
                             ("ts-drops-plot", "nothing yet (build a dataset version)"),
                             ("ts-checks-plot", "nothing yet (build a dataset version)")):
            expect(page.locator(f"#{chart}")).to_contain_text(words)
            facts = page.evaluate(CHART_FACTS, chart)
            assert "bars" not in facts, f"{chart} draws empty axes: {facts}"
        assert "0.000000" not in page.locator("body").inner_text()
        page.locator("#ts-length-plot").scroll_into_view_if_needed()
        screenshot(page, "charts-nothing-yet")


def test_charts_draw_every_count_from_zero_with_named_axes_and_readable_labels(tmp_path):
    settings, session, report = _project_with_a_version(tmp_path)
    drops = report["drops"]
    assert sorted(drops.values()) == [1, 1, 2]  # conflicting answer 1, empty instruction 1, exact duplicate 2
    with running_app(settings, session) as url, browser_page() as page:
        from playwright.sync_api import expect

        expect.set_options(timeout=30_000)
        page.goto(url)
        page.get_by_role("tab", name="Data studio").click()
        page.locator("#ts-drops-plot svg.marks").wait_for()
        settle(page)
        page.locator("#ts-length-plot").scroll_into_view_if_needed()
        screenshot(page, "charts-drawn")

        drawn = page.evaluate(CHART_FACTS, "ts-drops-plot")
        assert len(drawn["bars"]) == len(drops) and all(bar["h"] > 1 for bar in drawn["bars"]), drawn["bars"]
        assert (drawn["xTitle"], drawn["yTitle"]) == ("reason", "rows dropped")
        assert drawn["yLabels"][:3] == ["0", "1", "2"]  # from 0, whole rows
        assert not _overlaps(drawn["xLabels"]), _overlaps(drawn["xLabels"])

        lengths = page.evaluate(CHART_FACTS, "ts-length-plot")
        histogram = report["health"]["length_histogram"]
        assert len(lengths["bars"]) == sum(1 for b in histogram if b["count"]) and all(
            bar["h"] > 1 for bar in lengths["bars"])  # every bin with a count has a bar, none hidden below the axis
        assert lengths["yLabels"][0] in ("0", "0.0")
        assert (lengths["xTitle"], lengths["yTitle"]) == ("characters (question + answer)", "samples")
        assert not _overlaps(lengths["xLabels"]), _overlaps(lengths["xLabels"])

        checks = page.evaluate(CHART_FACTS, "ts-checks-plot")
        assert (checks["xTitle"], checks["yTitle"]) == ("finding", "samples") and checks["bars"]
        assert not _overlaps(checks["xLabels"]), _overlaps(checks["xLabels"])

        acceptance = page.evaluate(CHART_FACTS, "ts-acceptance")
        assert len(acceptance["bars"]) == 1 and acceptance["yTitle"] == "accepted %"
        assert acceptance["yLabels"][0] in ("0", "0.0") and acceptance["yLabels"][-1] == "100"


def test_bar_chart_update_names_its_axes_and_starts_at_zero():
    from ui.charts import bar_chart

    drawn = bar_chart([("exact_duplicate", 2), ("empty_instruction", 1)], title="Dropped rows by reason",
                      x_title="reason", y_title="rows dropped", empty="nothing dropped")
    assert (drawn.x, drawn.y, drawn.x_title, drawn.y_title, drawn.y_lim) == (
        "reason", "rows dropped", "reason", "rows dropped", [0, 5])
    assert list(drawn.value["data"]) == [["exact_duplicate", 2], ["empty_instruction", 1]]
    empty = bar_chart([("conflicting answers", 0)], title="Checks", x_title="finding", y_title="samples",
                      empty="none found")
    assert empty.value is None and empty.label == "Checks: none found" and empty.show_label
