"""Public data first, in Chromium: search the (stand-in) Hub, pick a dataset, see its rows and the suggested column
mapping, import them, and the review header shows the new batch at once."""
from __future__ import annotations

import json

import pytest
from browser_support import browser_page, running_app, screenshot, workspace_session
from hub_stub import hub_stub
from playwright.sync_api import expect

from tools.dataset.schema import AlpacaSample

ROWS = [{"question": f"Is order {i} late?", "answer": "yes" if i % 2 else "no"} for i in range(4)]


@pytest.mark.browser
def test_search_preview_and_import_a_public_dataset(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the suite runs with HF_HUB_OFFLINE=1
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    files = {"acme/late-orders": {"train.jsonl": "\n".join(json.dumps(r) for r in ROWS).encode()}}
    with hub_stub(files) as (url, _):
        monkeypatch.setenv("HF_ENDPOINT", url)
        settings, store, session = workspace_session(tmp_path)
        thread = session.new_conversation().thread_id
        store.save_project(thread, "Say whether an order is late", [AlpacaSample(instruction="Late?", output="no")])
        with running_app(settings, session) as app, browser_page() as page:
            expect.set_options(timeout=30_000)
            page.goto(app)
            page.get_by_role("tab", name="Data studio").click()
            page.locator("#ts-hub").get_by_text("Public data first").click()
            page.locator("#ts-hub-words textarea").fill("late orders")
            page.locator("#ts-hub-search").click()
            expect(page.locator("#ts-hub-status")).to_contain_text("1 dataset(s) found")
            page.locator("#ts-hub-found input").click()
            page.get_by_role("option", name="acme/late-orders (10 downloads)").click()
            expect(page.locator("#ts-hub-status")).to_contain_text("Check which column is which")
            expect(page.locator("#ts-hub-rows")).to_contain_text("Is order 3 late?")
            expect(page.locator("#ts-hub-instruction input")).to_have_value("question")
            expect(page.locator("#ts-hub-output input")).to_have_value("answer")
            page.locator("#ts-hub-import").click()
            expect(page.locator("#ts-hub-status")).to_contain_text("Imported 4 row(s) of acme/late-orders as batch 1")
            expect(page.locator("#ts-review-header")).to_contain_text("4 samples, 4 pending")
            screenshot(page, "hub-import")
