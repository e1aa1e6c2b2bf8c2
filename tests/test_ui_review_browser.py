"""Review at scale in a real Chromium: filter a batch by words and tag, tag and decide the shown samples in bulk,
tag one sample from its card; every change is in the store at once."""
import pytest

from tests.browser_support import browser_page, needs_chromium, running_app, screenshot, settle, workspace_session
from tools.dataset.schema import AlpacaSample

pytestmark = [pytest.mark.browser, needs_chromium]
QUESTIONS = [("How do I get a refund for a late parcel?", "Open Orders, choose the parcel and press Refund."),
             ("Where is my parcel?", "Open Orders to see the tracking link."),
             ("Can I change my delivery address?", "Yes, until the parcel ships: Orders → Edit address."),
             ("Why was I charged twice? I want a refund.", "Duplicate charges are refunded within 5 days."),
             ("Do you ship abroad?", "We ship to the EU and the UK.")]


def test_filter_tag_and_bulk_decide_in_the_review_panel(tmp_path):
    settings, store, session = workspace_session(tmp_path)
    tid = session.new_conversation().thread_id
    store.save_project(tid, "Answer customer questions about orders.",
                       [AlpacaSample(instruction="How do I cancel?", output="Orders → Cancel.")])
    batch = store.add_batch(tid, [AlpacaSample(instruction=q, output=a) for q, a in QUESTIONS])
    ids = [s.id for s in store.batch_samples(batch.id)]

    with running_app(settings, session) as url, browser_page() as page:
        from playwright.sync_api import expect

        page.goto(url)
        page.get_by_role("tab", name="Data studio").click()
        cards = page.locator(".ts-sample .ts-sample")
        expect(cards).to_have_count(5)

        page.locator("#ts-text-filter textarea").fill("refund")
        page.locator("#ts-text-filter textarea").press("Enter")
        expect(cards).to_have_count(2)
        page.locator("#ts-bulk-reason textarea").fill("Billing")
        page.locator("#ts-tag-all").click()
        expect(page.locator("#ts-bulk-status")).to_contain_text("Tagged 2 sample(s) 'billing'")
        settle(page)
        page.locator("#ts-approve-all").click()  # approves only the two shown
        expect(page.locator("#ts-review-header")).to_contain_text("3 pending")
        expect(page.locator("#ts-review-header")).to_contain_text("Tags of accepted samples: billing 2")
        settle(page)

        page.locator("#ts-text-filter textarea").fill("")
        page.locator("#ts-text-filter textarea").press("Enter")
        expect(cards).to_have_count(5)
        address = cards.nth(2)
        address.locator(".ts-tags textarea").fill("address, edge-case")
        address.locator(".ts-tags textarea").press("Enter")
        expect(cards.nth(2)).to_contain_text("edge-case")
        settle(page)
        bad = cards.nth(4)
        bad.locator(".ts-tags textarea").fill("not/allowed")
        bad.locator(".ts-tags textarea").press("Enter")
        expect(cards.nth(4)).to_contain_text("use up to 32 letters")

        page.locator("#ts-filter").get_by_text("pending", exact=True).click()
        expect(cards).to_have_count(3)
        page.locator("#ts-bulk-reason textarea").fill("")
        page.locator("#ts-reject-all").click()
        expect(page.locator("#ts-bulk-status")).to_contain_text("rejecting needs a reason")
        screenshot(page, "review-filter-tags")

    samples = {s.id: s for s in store.batch_samples(batch.id)}
    assert [samples[i].status for i in ids] == ["approved", "pending", "pending", "approved", "pending"]
    assert samples[ids[0]].tags == ["billing"] and samples[ids[3]].tags == ["billing"]
    assert samples[ids[2]].tags == ["address", "edge-case"] and samples[ids[4]].tags == []
