"""The Training tab in a real Chromium (issue 18, item 5): the dataset picker preselects the conversation's newest
version, and what a model wrote (template tokens such as <start_of_turn> included) shows as text in the evaluation
and in try-it instead of being swallowed as HTML; the progress reads the run folder through the one reader."""
import json

import pytest

from tests.browser_support import browser_page, needs_chromium, running_app, screenshot, settle, workspace_session
from tools.dataset.schema import AlpacaSample
from tools.dataset.versions import BuildSettings, build_version, versions_root

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium]

TOKENS = "<start_of_turn>model"
RESULT = {"eval_file": "eval.json", "samples": 1,
          "base": {"loss": 3.2, "exact_match": 0.0}, "tuned": {"loss": 0.4, "exact_match": 0.0},
          "side_by_side": [{"prompt": "Capital of Zorbia?", "reference": "Quelm.", "base": "Paris",
                            "tuned": f"{TOKENS} Quelm.<end_of_turn>"}]}


def test_the_training_tab_preselects_the_newest_version_and_shows_model_output_as_text(tmp_path, monkeypatch):
    from playwright.sync_api import expect

    from tools.training import inference

    monkeypatch.setattr(inference, "try_run", lambda run_dir, prompt: (f"{TOKENS}\nQuelm.<end_of_turn>", ""))
    settings, _, session = workspace_session(tmp_path)
    tid = session.new_conversation().thread_id
    rows = [AlpacaSample(instruction=f"Capital of land {n}?", output=f"City {n}.") for n in range(30)]
    for _ in range(2):  # v001-file, then v002-file: the newest is preselected
        build_version(rows, versions_root(session.project_dir(tid)), "file", BuildSettings())
    run = settings.workspace / "projects" / tid / "runs" / "run-1"
    run.mkdir(parents=True)
    events = [{"event": "log", "step": 1, "max_steps": 2, "loss": 2.5},
              {"event": "log", "step": 2, "max_steps": 2, "loss": 0.75}, {"event": "done", "step": 2}]
    (run / "progress.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    session.graph.update_state(session._config(tid), {"run_dir": str(run), "run_phase": "finished",
                                                      "evaluation": RESULT, "stage": "done"},
                               as_node="start_training")
    session.graph.invoke(None, session._config(tid))

    with running_app(settings, session) as url, browser_page() as page:
        page.goto(url)
        settle(page)
        page.get_by_role("tab", name="Training").click()
        pass
        progress = page.locator('#ts-train-progress[data-status="done"]')
        expect(progress).to_contain_text("step 2/2 · loss 0.7500")
        evaluation = page.locator("#ts-evaluation")
        expect(evaluation).to_contain_text(f"{TOKENS} Quelm.<end_of_turn>")  # as text, not swallowed
        page.locator("#ts-try-input textarea").fill("Capital of Zorbia?")
        page.locator("#ts-try-input textarea").press("Enter")
        expect(page.locator("#ts-try-chat")).to_contain_text(TOKENS)
        expect(page.locator("#ts-try-chat")).to_contain_text("Quelm.<end_of_turn>")
        settle(page)
        page.locator("#ts-evaluation").scroll_into_view_if_needed()
        screenshot(page, "training-tab-version-and-escaped-output")
