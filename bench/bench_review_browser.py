"""Decision latency in the Data studio, in Chromium: from a key press or click to the decision shown on the page.

A batch of 20 samples; 10 decisions in a row. "list" is the card list (every card re-renders after a decision;
the decision counts as shown when its card says approved); "focus" is the focus mode (key 'a'; shown when the
header's pending count has dropped). The time is measured inside the page (performance.now, checked every frame).

    python bench/bench_review_browser.py --mode focus --label after
    PYTHONPATH=/tmp/old python bench/bench_review_browser.py --mode list --label before   # an older checkout

Results merge into bench/results.json under "review_decision_latency" (other keys are kept).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"
BATCH, DECISIONS = 20, 10
# Clicks (list) or presses 'a' (focus), then waits frame by frame until the page shows the decision.
MEASURE_JS = """
async ([mode, index, pendingAfter]) => {
  const cards = () => document.querySelectorAll('.ts-sample .ts-sample');
  const shown = mode === 'list'
    ? () => { const c = cards()[index]; return c && c.textContent.includes('approved'); }
    : () => document.querySelector('#ts-review-header').textContent.includes(`, ${pendingAfter} pending`);
  const t0 = performance.now();
  if (mode === 'list') cards()[index].querySelector('button.ts-approve').click();
  else document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'a', bubbles: true}));
  while (!shown()) {
    if (performance.now() - t0 > 30000) return -1;
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  return performance.now() - t0;
}
"""


def measure(mode: str) -> dict:
    sys.path.insert(0, str(Path.cwd()))
    from tests.browser_support import browser_page, running_app, settle, workspace_session
    from tools.dataset.schema import AlpacaSample

    settings, store, session = workspace_session(Path(tempfile.mkdtemp()))
    tid = session.new_conversation().thread_id
    store.save_project(tid, "Answer customer questions.", [AlpacaSample(instruction="Seed?", output="Seed.")])
    store.add_batch(tid, [AlpacaSample(instruction=f"Customer question number {i} about parcel {i}?",
                                       output=f"Answer {i}: open Orders and choose parcel {i}.") for i in range(BATCH)])
    times = []
    with running_app(settings, session) as url, browser_page() as page:
        page.goto(url)
        page.get_by_role("tab", name="Data studio").click()
        page.locator("#ts-review-header").get_by_text(f"{BATCH} pending", exact=False).wait_for(timeout=60_000)
        if mode == "list" and page.locator("#ts-view").count():
            page.locator("#ts-view").get_by_text("list", exact=True).click()
        if mode == "list":
            page.locator(".ts-sample .ts-sample").nth(BATCH - 1).wait_for(timeout=60_000)
        settle(page)
        height = page.evaluate("() => document.body.scrollHeight")
        for i in range(DECISIONS):
            ms = page.evaluate(MEASURE_JS, [mode, i, BATCH - i - 1])
            if ms < 0:
                raise SystemExit(f"decision {i + 1} was not shown within 30 s")
            times.append(round(ms, 1))
            settle(page)
    return {"mode": mode, "batch": BATCH, "decisions": DECISIONS, "median_ms": round(statistics.median(times), 1),
            "max_ms": max(times), "times_ms": times, "page_height_px": height}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("list", "focus"), required=True)
    parser.add_argument("--label", required=True, help="where the figures go, e.g. before / after")
    args = parser.parse_args()
    result = measure(args.mode)
    print(json.dumps(result))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault("review_decision_latency", {})[f"{args.label}_{args.mode}"] = result
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
