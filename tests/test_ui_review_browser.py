"""The Data studio in a real Chromium: the list view (filters, tags, bulk decisions) and the new-user trip of issue 10
(focus mode keys with the pending count right after each decision, an imported twin edited into a conflict that is
shown, a build in the chosen format and split with seeds and every drop listed, a file version that replaces
nothing, the conflict resolved)."""
import json
from pathlib import Path

import pytest

from tests.browser_support import browser_page, needs_chromium, running_app, screenshot, settle, workspace_session
from tools.dataset.schema import AlpacaSample

pytestmark = [pytest.mark.browser, needs_chromium]
QUESTIONS = [("How do I get a refund for a late parcel?", "Open Orders, choose the parcel and press Refund."),
             ("Where is my parcel?", "Open Orders to see the tracking link."),
             ("Can I change my delivery address?", "Yes, until the parcel ships: Orders → Edit address."),
             ("Why was I charged twice? I want a refund.", "Duplicate charges are refunded within 5 days."),
             ("Do you ship abroad?", "We ship to the EU and the UK.")]
SEEDS = [AlpacaSample(instruction="How do I cancel an order?", output="Orders → Cancel, before it ships."),
         AlpacaSample(instruction="Is there a phone number?", output="Yes: 0800 123 456, weekdays 9 to 5.")]


def test_filter_tag_and_bulk_decide_in_the_list_view(tmp_path):
    settings, store, session = workspace_session(tmp_path)
    tid = session.new_conversation().thread_id
    store.save_project(tid, "Answer customer questions about orders.",
                       [AlpacaSample(instruction="How do I cancel?", output="Orders → Cancel.")])
    batch = store.add_batch(tid, [AlpacaSample(instruction=q, output=a) for q, a in QUESTIONS])
    ids = [s.id for s in store.batch_samples(batch.id)]

    with running_app(settings, session) as url, browser_page() as page:
        from playwright.sync_api import expect

        expect.set_options(timeout=30_000)  # the first render waits for the whole app on two busy cores
        page.goto(url)
        page.get_by_role("tab", name="Data studio").click()
        page.locator("#ts-view").get_by_text("list", exact=True).click()
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
        settle(page)
        cards.nth(0).locator("button.ts-approve").click()  # a single decision updates the count at once
        expect(page.locator("#ts-review-header")).to_contain_text("2 pending")
        screenshot(page, "review-filter-tags")

    samples = {s.id: s for s in store.batch_samples(batch.id)}
    assert [samples[i].status for i in ids] == ["approved", "approved", "pending", "approved", "pending"]
    assert samples[ids[0]].tags == ["billing"] and samples[ids[3]].tags == ["billing"]
    assert samples[ids[2]].tags == ["address", "edge-case"] and samples[ids[4]].tags == []


def test_new_user_trip_ends_with_exactly_what_the_person_approved(tmp_path):
    settings, store, session = workspace_session(tmp_path)
    tid = session.new_conversation().thread_id
    store.save_project(tid, "Answer customer questions about orders.", SEEDS)
    batch = store.add_batch(tid, [AlpacaSample(instruction=q, output=a) for q, a in QUESTIONS])
    first_ids = [s.id for s in store.batch_samples(batch.id)]
    later_file = tmp_path / "later.jsonl"  # a later batch: an earlier question in new words, and a new one
    later_file.write_text("\n".join(json.dumps(row) for row in [
        {"instruction": "Where is my parcel??", "input": "", "output": "Open Orders to see the tracking link."},
        {"instruction": "Can I pay by invoice?", "input": "", "output": "Yes, for business accounts."}]) + "\n")
    other_file = tmp_path / "other.json"
    other_file.write_text(json.dumps([{"instruction": f"Question {i}", "output": f"Answer {i}"} for i in range(6)]))

    with running_app(settings, session) as url, browser_page() as page:
        from playwright.sync_api import expect

        expect.set_options(timeout=30_000)  # the first render waits for the whole app on two busy cores
        page.goto(url)
        page.get_by_role("tab", name="Data studio").click()
        header, line = page.locator("#ts-review-header"), page.locator("#ts-focus-line")
        expect(header).to_contain_text("5 samples, 5 pending")
        expect(line).to_have_attribute("data-position", "0")
        expect(page.locator(".ts-sample")).to_have_count(0)  # focus mode: one sample, no card list

        # Generate answers in the studio (not only in the chat): this batch comes first
        page.locator("#ts-generate").click()
        expect(page.locator("#ts-studio-status")).to_contain_text("Batch 1 is still open for review")
        settle(page)

        # focus mode keys; the pending count is right after each decision
        page.locator("body").press("a")
        expect(header).to_contain_text("4 pending")
        expect(line).to_have_attribute("data-position", "1")
        page.locator("body").press("k")
        expect(line).to_have_attribute("data-position", "0")
        expect(line).to_have_attribute("data-status", "approved")
        page.locator("body").press("j")
        page.locator("body").press("a")
        expect(header).to_contain_text("3 pending")
        page.locator("body").press("a")
        expect(header).to_contain_text("2 pending")
        page.locator("body").press("r")  # sample 4: reject with a reason
        page.keyboard.type("invents a refund deadline")
        page.keyboard.press("Control+Enter")
        expect(header).to_contain_text("1 pending")
        expect(page.locator("#ts-focus-message")).to_contain_text("Rejected sample 4")
        page.locator("body").press("e")  # sample 5: edit the answer
        page.keyboard.press("Control+a")
        page.keyboard.type("We ship to the EU, the UK and Norway.")
        page.keyboard.press("Control+Enter")
        expect(header).to_contain_text("0 pending")
        expect(page.locator("#ts-focus-message")).to_contain_text("All decided")
        settle(page)
        page.locator("#ts-submit-batch").click()
        expect(page.locator("#ts-studio-status")).to_contain_text("Batch 1: 4 of 5 accepted")
        settle(page)

        # a later batch, imported for review: its reworded twin is marked; the person edits its answer
        page.locator("#ts-dataset-file input[type=file]").set_input_files(str(later_file))
        page.locator('#ts-dataset-file td.filename[aria-label="later.jsonl"]').wait_for()
        page.locator("#ts-file-mode").get_by_text("import rows", exact=False).click()
        page.locator("#ts-build-file").click()
        expect(page.locator("#ts-build-status")).to_contain_text("Imported 2 row(s) as batch 2")
        expect(header).to_contain_text("2 samples, 2 pending")
        expect(line).to_contain_text("duplicate of")
        settle(page)
        page.locator("body").press("e")
        page.keyboard.press("Control+a")
        page.keyboard.type("Orders → Track parcel shows where it is.")
        page.keyboard.press("Control+Enter")
        expect(header).to_contain_text("1 pending")
        page.locator("body").press("a")
        expect(header).to_contain_text("0 pending")
        settle(page)
        conflict = page.locator(".ts-conflict").first
        expect(conflict).to_contain_text("Where is my parcel")
        expect(conflict).to_contain_text("Orders → Track parcel")

        # build in sharegpt with 30% held out, seeds included
        page.locator("#ts-fmt").get_by_text("sharegpt", exact=True).click()
        page.locator("#ts-eval input[type=number]").fill("0.3")
        page.locator("#ts-eval input[type=number]").press("Enter")
        settle(page)
        page.locator("#ts-build").click()
        expect(page.locator("#ts-build-status")).to_contain_text("v001-reviewed")
        report = page.locator("#ts-dataset-report")
        expect(report).to_contain_text("v001-reviewed (sharegpt, eval fraction 0.3")
        expect(report).to_contain_text("conflicting answers: 1")
        expect(page.locator("#ts-drops")).to_contain_text("conflicting_answer")
        expect(page.locator("#ts-drops")).to_contain_text(f"sample:{first_ids[1]} (batch 1 #2")
        settle(page)
        screenshot(page, "review-trip-built")

        # a file built as its own version replaces nothing
        page.locator("#ts-dataset-file").get_by_label("Clear").click()
        page.locator("#ts-dataset-file input[type=file]").set_input_files(str(other_file))
        page.locator('#ts-dataset-file td.filename[aria-label="other.json"]').wait_for()
        page.locator("#ts-file-mode").get_by_text("own dataset version", exact=False).click()
        page.locator("#ts-build-file").click()
        expect(page.locator("#ts-build-status")).to_contain_text("Built version **v002-file**".replace("**", ""))
        expect(page.locator("#ts-versions")).to_contain_text("v001-reviewed")
        settle(page)

        # the person resolves the conflict: both answers stay
        page.locator(".ts-conflict button.ts-keep-both").first.click()
        expect(page.locator("#ts-no-conflicts")).to_be_visible()
        settle(page)

    versions = settings.workspace / "projects" / tid / "datasets"
    assert sorted(p.name for p in versions.iterdir()) == ["v001-reviewed", "v002-file"]
    v1 = versions / "v001-reviewed"
    meta = json.loads((v1 / "version.json").read_text())
    assert meta["settings"]["fmt"] == "sharegpt" and meta["settings"]["eval_fraction"] == 0.3
    rows = [*json.loads((v1 / "train.json").read_text()), *json.loads((v1 / "eval.json").read_text())]
    questions = {row["conversations"][0]["value"]: row["conversations"][1]["value"] for row in rows}
    # 2 seeds + 4 accepted of batch 1 + 2 of batch 2, less the unedited twin the edit outranks
    assert len(rows) == 7 and len(json.loads((v1 / "eval.json").read_text())) == 2  # round(7 * 0.3)
    assert {s.instruction for s in SEEDS} <= set(questions)
    assert questions["Where is my parcel??"] == "Orders → Track parcel shows where it is."
    assert questions["Do you ship abroad?"] == "We ship to the EU, the UK and Norway."
    assert "Where is my parcel?" not in questions and "Why was I charged twice? I want a refund." not in questions
    report = json.loads((v1 / "report.json").read_text())
    assert report["health"]["conflicting_answers"]["count"] == 1
    assert [(r["id"], r["reason"]) for r in report["dropped_rows"]] == [(f"sample:{first_ids[1]}",
                                                                         "conflicting_answer")]
    assert len(store.accepted_samples(tid)) == 6 and Path(v1 / "report.json").exists()
