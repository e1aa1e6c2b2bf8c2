"""The app in a real Chromium: guided interview to a recommendation, the highlighted flow, and a restart."""
import pytest

from agent.nodes import AgentDeps
from agent.session import Session, open_checkpointer
from tests.browser_support import browser_page, needs_chromium, running_app, screenshot
from tools.generation.store import ReviewStore
from tools.settings import Settings

pytestmark = [pytest.mark.browser, needs_chromium]


def make_session(settings):
    deps = AgentDeps(answer_question=lambda q, p, m: f"Grounded: {q} [1]",
                     store=ReviewStore(settings.workspace_file("tunesmith.db")), workspace=settings.workspace)
    return Session(settings, deps=deps, checkpointer=open_checkpointer(settings))


def test_guided_interview_in_the_browser_survives_restart(tmp_path):
    settings = Settings(tunesmith_workspace=tmp_path / "ws", _env_file=None)
    with running_app(settings, make_session(settings)) as url, browser_page() as page:
        page.goto(url)
        page.get_by_text("No LLM endpoint is configured").first.wait_for()
        page.locator("#ts-quick-0").click()  # "Yes": needs external knowledge
        page.get_by_role("button", name="Often (weekly or faster)").click()
        page.locator("#ts-profile").get_by_text("How often that knowledge changes").wait_for()
        page.locator("#ts-input textarea").fill("Should I fine-tune or use RAG?")
        page.locator("#ts-send").click()
        page.get_by_text("Grounded: Should I fine-tune or use RAG? [1]").wait_for()
        page.get_by_role("button", name="Recommend now").click()
        page.get_by_text("My recommendation: Retrieval-augmented generation (RAG)").wait_for()
        taken = page.locator('#ts-flow rect[data-node="rag"]')
        assert taken.get_attribute("data-taken") == "true"
        assert page.locator('#ts-flow rect[data-node="icl"]').get_attribute("data-taken") == "false"
        text_px = page.evaluate("() => { const svg = document.querySelector('#ts-flow svg'); return "
                                "svg.getBoundingClientRect().width / svg.viewBox.baseVal.width * "
                                "parseFloat(svg.getAttribute('font-size')); }")
        assert text_px >= 12, f"flow picture text is {text_px:.1f} px"
        page.locator("#ts-recommendation").get_by_text("What I assumed (you did not say):").wait_for()
        assert "ts-step-on" in page.locator(".ts-step", has_text="2 · Recommendation").get_attribute("class")
        screenshot(page, "advisor-recommendation")

    # a new process: same workspace, fresh session and app
    with running_app(settings, make_session(settings)) as url, browser_page() as page:
        page.goto(url)
        page.get_by_text("My recommendation: Retrieval-augmented generation (RAG)").wait_for()
        page.get_by_text("Grounded: Should I fine-tune or use RAG? [1]").wait_for()
        page.get_by_role("button", name="Start this path").click()
        page.get_by_text("let's set up retrieval over your documents").wait_for()
        page.locator("#ts-new").click()
        page.get_by_text("Does the model need knowledge").last.wait_for()
        page.locator("#ts-conversations input").click()
        options = page.get_by_role("option")
        options.first.wait_for()
        assert options.count() == 2
        screenshot(page, "advisor-after-restart")
