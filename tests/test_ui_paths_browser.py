"""The RAG and ICL paths in a real Chromium: documents indexed and a question answered with the right chunk cited;
a few-shot prompt assembled from the project's examples, tried and measured against a local OpenAI-compatible
server."""
import re

import pytest
from langchain_openai import ChatOpenAI

from tests.browser_support import browser_page, needs_chromium, running_app, screenshot, workspace_session
from tests.openai_stub import OpenAIStub, Reply
from tools.dataset.schema import AlpacaSample
from tools.generation.store import ReviewStore

pytestmark = [pytest.mark.browser, needs_chromium]
DOCS = {
    "returns.md": "# Returns\n\nItems can be returned within 30 days of delivery with the receipt. Refunds go to the "
                  "original card within five business days.",
    "shipping.md": "# Shipping\n\nStandard shipping takes three to five days. Express shipping arrives the next "
                   "business day when ordered before noon.",
    "warranty.txt": "Every blender carries a two-year warranty covering the motor but not the glass jar.",
}
REVIEWS = {"Love it, works perfectly": "positive", "Broke after a day": "negative", "It is a blender": "neutral",
           "Best purchase this year": "positive", "The lid cracked in a week": "negative",
           "It arrived on Tuesday": "neutral", "Smoothies in seconds, great": "positive",
           "Loud and it leaks": "negative", "Comes in grey": "neutral"}
TASK = "Classify the sentiment of a product review."


def sentiment_project(store: ReviewStore, thread_id: str, reviews: dict[str, str]) -> None:
    store.save_project(thread_id, TASK, [AlpacaSample(instruction="Classify the sentiment.", input=text, output=label)
                                         for text, label in reviews.items()])


class SentimentLLM(OpenAIStub):
    """Answers a few-shot prompt with the review's true label and a bare zero-shot prompt with a chatty guess,
    so the measurement has a known answer: few-shot 100%, zero-shot 0% (exact match)."""

    def next_reply(self, body):
        with self._lock:
            self.requests.append(body)
        prompt = body["messages"][-1]["content"]
        if "### Your turn" in prompt:
            query = prompt.rsplit("### Your turn", 1)[1]
            label = next((label for text, label in REVIEWS.items() if text in query), "neutral")
            return Reply.text(label)
        return Reply.text("I would say this review sounds positive overall.")


def test_retrieval_and_prompt_tabs(tmp_path):
    settings, store, session = workspace_session(tmp_path)
    tid = session.new_conversation().thread_id
    sentiment_project(store, tid, dict(list(REVIEWS.items())[:3]))
    paths = []
    for name, text in DOCS.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4 not text")
    paths.append(str(tmp_path / "scan.pdf"))

    with running_app(settings, session) as url, browser_page() as page:
        page.goto(url)
        page.get_by_role("tab", name="Retrieval").click()
        page.locator("#ts-rag-files input[type=file]").set_input_files(paths)
        page.locator("#ts-rag-index").click()
        report = page.locator("#ts-rag-report")
        report.get_by_text("from 3 file(s)").wait_for(timeout=90_000)
        assert "skipped scan.pdf" in report.inner_text() and "pdftotext" in report.inner_text()
        page.locator("#ts-rag-question textarea").fill("How long does express shipping take?")
        page.locator("#ts-rag-ask").click()
        hits = page.locator("#ts-rag-hits")
        hits.get_by_text("shipping.md, chunk 1").first.wait_for(timeout=60_000)
        table = hits.inner_text()
        others = [table.index(name) for name in ("returns.md", "warranty.txt") if name in table]
        assert all(table.index("shipping.md") < position for position in others)  # the right chunk ranks first
        assert "[1]" in page.locator("#ts-rag-answer").inner_text()
        screenshot(page, "rag-answer-with-citations")

        page.get_by_role("tab", name="Prompt").click()
        page.locator("#ts-icl-query textarea").fill("Terrible, it leaks everywhere")
        page.locator("#ts-icl-show").click()
        prompt = page.locator("#ts-icl-prompt")
        prompt.get_by_text("Broke after a day").wait_for()
        assert "Classify the sentiment of a product review." in prompt.inner_text()
        page.locator("#ts-icl-try").click()
        page.locator("#ts-icl-answer").get_by_text("needs an LLM endpoint").wait_for()
        screenshot(page, "icl-prompt")


def test_prompt_tab_tries_and_measures_the_prompt_with_an_llm(tmp_path):
    with SentimentLLM() as llm:
        settings, store, session = workspace_session(tmp_path, ChatOpenAI(
            base_url=llm.base_url, api_key="test", model="stub-model", max_retries=0, timeout=30))
        tid = session.new_conversation().thread_id
        sentiment_project(store, tid, REVIEWS)

        with running_app(settings, session) as url, browser_page() as page:
            page.goto(url)
            page.get_by_role("tab", name="Prompt").click()
            page.locator("#ts-icl-query textarea").fill("Loud and it leaks")
            page.locator("#ts-icl-try").click()
            page.locator("#ts-icl-answer").get_by_text("negative").wait_for(timeout=30_000)
            sent = llm.requests[-1]["messages"][-1]["content"]
            assert sent.count("### Example") == 8 and sent.rstrip().endswith("Loud and it leaks\nResponse:")

            page.locator("#ts-icl-measure").click()
            baseline = page.locator("#ts-icl-baseline")
            baseline.get_by_text("Verdict").wait_for(timeout=60_000)
            text = baseline.inner_text()
            assert re.search(r"few-shot: 100%", text) and re.search(r"zero-shot: 0%", text), text
            assert "good" in text
            screenshot(page, "icl-try-and-baseline")

            # the measurement reached the conversation: the advice now counts it
            page.get_by_role("tab", name="Advisor").click()
            page.get_by_text("In-context learning (prompting)").first.wait_for(timeout=30_000)
        recommendation = session.view(tid).recommendation
        assert recommendation["approach"] == "icl" and "baseline-good" in recommendation["fired_rules"]
