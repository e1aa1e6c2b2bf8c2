"""'Try an example' in a real Chromium: the built-in model is trained on the CPU in a server thread and the page
shows base vs tuned on the held-out rows (minutes; run with `make test-real`)."""
from __future__ import annotations

import pytest
from browser_support import browser_page, running_app, screenshot, workspace_session


@pytest.mark.realmodel
@pytest.mark.browser
def test_try_an_example_takes_the_builtin_model_from_failing_to_passing(tmp_path):
    settings, _, session = workspace_session(tmp_path)
    with running_app(settings, session) as url, browser_page() as page:
        page.goto(url)
        page.get_by_role("tab", name="Training").click()
        assert page.locator("#ts-base-model textarea").input_value() == "gemma-3-270m"  # the default choice
        page.locator("#ts-example").get_by_text("New here? Try an example").click()
        page.locator("#ts-try-example").click()
        page.wait_for_function("() => (document.querySelector('#ts-example-note')?.innerText || '')"
                               ".includes('Exact match on 20 held-out rows')", timeout=1_200_000)
        screenshot(page, "try-an-example")
        summary = session.runs.example.summary
    assert summary["base_exact_match"] <= 0.1 and summary["tuned_exact_match"] >= 0.8
