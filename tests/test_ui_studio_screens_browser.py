"""Screens that read right, in a real Chromium: the stepper follows the open tab and the journey; status marks are
words and CSS badges (no emoji font needed); the task typed in the chat is carried into the Data studio's task box;
text from samples and the model is shown as written (never swallowed as HTML); and the build controls the person
sets are the ones a build started by the journey uses."""
import json

import pytest

from agent.state import say
from tests.browser_support import browser_page, needs_chromium, running_app, screenshot, settle, workspace_session
from tools.dataset.schema import AlpacaSample

pytestmark = [pytest.mark.browser, needs_chromium]
TASK = "Sort customer e-mails about parcels into refund, tracking or address-change tickets."


def step_on(page) -> str:
    return page.locator(".ts-step-on").inner_text().strip()


def test_the_stepper_follows_the_tab_and_the_task_reaches_the_studio(tmp_path):
    settings, store, session = workspace_session(tmp_path)
    with running_app(settings, session) as url, browser_page() as page:
        from playwright.sync_api import expect

        expect.set_options(timeout=30_000)
        page.goto(url)
        page.get_by_text("Does the model need knowledge").last.wait_for()
        page.locator("#ts-input textarea").fill(TASK)
        page.locator("#ts-send").click()
        expect(page.locator("#ts-chat")).to_contain_text(TASK)
        settle(page)
        expect(page.locator(".ts-step-on")).to_have_text("1 · Your task")

        page.get_by_role("tab", name="Training").click()
        expect(page.locator(".ts-step-on")).to_have_text("4 · Train")
        page.get_by_role("tab", name="Data studio").click()
        expect(page.locator(".ts-step-on")).to_have_text("3 · Build it")
        expect(page.locator("#ts-task textarea")).to_have_value(TASK)  # typed once, in the chat
        screenshot(page, "studio-task-from-chat")

        # what the person types in the box is theirs: a chat turn does not replace it
        page.locator("#ts-task textarea").fill("Route parcel e-mails to the right team.")
        page.get_by_role("tab", name="Advisor").click()
        expect(page.locator(".ts-step-on")).to_have_text("1 · Your task")
        page.get_by_role("button", name="Recommend now").click()
        expect(page.locator(".ts-step-on")).to_have_text("2 · Recommendation")
        settle(page)
        page.get_by_role("tab", name="Data studio").click()
        expect(page.locator("#ts-task textarea")).to_have_value("Route parcel e-mails to the right team.")
        expect(page.locator(".ts-step-on")).to_have_text("3 · Build it")  # the tab's step, once the stepper redraws
        steps = page.locator(".ts-step")
        assert "ts-step-done" in steps.nth(0).get_attribute("class")  # the journey's passed step stays marked
        assert steps.nth(1).get_attribute("class") == "ts-step"  # the recommendation is where the journey is
        screenshot(page, "studio-stepper-on-data-tab")


def test_marks_are_words_and_sample_text_is_shown_as_written(tmp_path):
    settings, store, session = workspace_session(tmp_path)
    tid = session.new_conversation().thread_id
    session.graph.update_state(session._config(tid), {
        "messages": [say("✅ format: fine\n⚠️ tokens: 3 rows are long\n❌ memory: too little")],
        "notice": "The LLM endpoint did not answer; I used the quick-choice reading."})
    store.save_project(tid, "Answer in Gemma turns.", [AlpacaSample(instruction="Seed?", output="Seed.")])
    leaked = "Fine.<end_of_turn>\n<start_of_turn>user"
    batch = store.add_batch(tid, [AlpacaSample(instruction="How are you?", output=leaked),
                                  AlpacaSample(instruction="Name a colour.", output="Red.")])
    first = store.batch_samples(batch.id)[0]
    store.reject(first.id, "leaks <start_of_turn> into the answer")

    with running_app(settings, session) as url, browser_page() as page:
        from playwright.sync_api import expect

        expect.set_options(timeout=30_000)
        page.goto(url)
        chat = page.locator("#ts-chat")
        expect(chat).to_contain_text("OK format: fine")
        expect(chat).to_contain_text("Warning: tokens: 3 rows are long")
        expect(chat).to_contain_text("Failed memory: too little")
        assert not any(mark in chat.inner_text() for mark in ("✅", "⚠️", "❌"))
        expect(page.locator("#ts-notice .ts-badge-warn")).to_have_text("Warning")
        expect(page.locator("#ts-notice")).to_contain_text("did not answer")
        screenshot(page, "advisor-marks-as-words")

        page.get_by_role("tab", name="Data studio").click()
        line = page.locator("#ts-focus-line")
        expect(line).to_contain_text("leaks <start_of_turn> into the answer")  # the reason, as written
        expect(page.locator("#ts-focus-output textarea")).to_have_value(leaked)
        page.locator("#ts-view").get_by_text("list", exact=True).click()
        expect(page.locator(".ts-sample .ts-sample")).to_have_count(2)
        expect(page.locator(".ts-sample-status").first).to_contain_text("<start_of_turn>")
        screenshot(page, "studio-text-as-written")


def test_the_build_controls_set_are_the_ones_the_target_build_uses(tmp_path):
    settings, store, session = workspace_session(tmp_path)
    tid = session.new_conversation().thread_id
    for answer in ({"text": "Yes", "field": "custom_tone_behavior_style", "value": True},
                   {"text": "Hundreds", "field": "labeled_data", "value": "hundreds"},
                   {"text": "Recommend now", "action": "recommend"},
                   {"text": "Start this path", "action": "start_path"}):
        session.send(tid, answer)
    store.save_project(tid, "Write taglines.", [AlpacaSample(instruction="Tagline for tea", output="Steep joy.")],
                       target_count=4)
    store.add_batch(tid, [AlpacaSample(instruction=f"Tagline for product {i}", output=f"Line {i}.")
                          for i in range(6)])
    session.reopen(tid)  # the review pause adopts the batch

    with running_app(settings, session) as url, browser_page() as page:
        from playwright.sync_api import expect

        expect.set_options(timeout=30_000)
        page.goto(url)
        page.get_by_role("tab", name="Data studio").click()
        expect(page.locator("#ts-review-header")).to_contain_text("6 pending")
        page.locator("#ts-fmt").get_by_text("sharegpt", exact=True).click()
        settle(page)
        page.locator("#ts-view").get_by_text("list", exact=True).click()
        page.locator("#ts-approve-all").click()
        expect(page.locator("#ts-review-header")).to_contain_text("0 pending")
        settle(page)
        # submitted from the chat's quick reply: the Data studio's controls were not sent with it
        page.get_by_role("tab", name="Advisor").click()
        page.get_by_role("button", name="Submit batch").click()
        expect(page.locator("#ts-chat")).to_contain_text("Dataset version **v001-reviewed** built (sharegpt"
                                                         .replace("**", ""))
        settle(page)
        page.get_by_role("tab", name="Data studio").click()
        expect(page.locator("#ts-versions")).to_contain_text("sharegpt")
        expect(page.locator("#ts-versions")).to_contain_text("6 approved samples, 1 seeds")
        screenshot(page, "studio-target-build-with-chosen-settings")
    version = json.loads(next((settings.workspace / "projects" / tid / "datasets").glob("v001-*/version.json"))
                         .read_text())
    assert version["settings"]["fmt"] == "sharegpt"
