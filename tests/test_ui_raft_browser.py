"""RAG + fine-tuning in a real Chromium against a local OpenAI-compatible server: documents indexed on the
Retrieval tab → chosen for the training samples → a batch drafted from them in the Data studio, each card showing
the question, the retrieved passages (as text, escaped) and the cited answer → reviewed → the dataset built with
the passages in its rows."""
import json
import re
from contextlib import contextmanager

import pytest
from langchain_openai import ChatOpenAI

from prompts.raft import NO_ANSWER, PASSAGES_HEADER
from tests.browser_support import (
    browser_page,
    fill_number,
    needs_chromium,
    running_app,
    screenshot,
    settle,
    workspace_session,
)
from tests.e2e_tickets import request_kind
from tests.openai_stub import OpenAIStub, Reply
from tools.dataset.schema import AlpacaSample

pytestmark = [pytest.mark.browser, needs_chromium]
DOCS = {
    "returns.md": "# Returns\n\nItems can be returned within 30 days of delivery with the receipt. Refunds go to the "
                  "original card within five business days. Opened earbuds cannot be returned.",
    "shipping.md": "# Shipping\n\nStandard shipping takes three to five days and costs 4 euros. Express shipping "
                   "arrives the next business day when ordered before noon. We ship to the EU and Norway only.",
    "warranty.md": "# Warranty\n\nEvery blender carries a two-year warranty covering the motor but not the glass "
                   "jar. <b>Claims</b> need the serial number from the base.",
}
# (a word of the passage, the question the LLM writes about it, its answer)
WRITTEN = [("Returns", f"{q}?", a) for q, a in [
    ("How many days do I have to return an item", "30 days from delivery, with the receipt."),
    ("Where does my refund go", "To the card you paid with."),
    ("How long does a refund take", "Five business days."),
    ("Can I return opened earbuds", "No, opened earbuds cannot be returned."),
    ("Do I need the receipt to send something back", "Yes, returns need the receipt."),
    ("Is delivery day the start of the return window", "Yes, the 30 days count from delivery."),
    ("Can unopened earbuds be sent back", "Yes, within 30 days.")]] + [("Shipping", f"{q}?", a) for q, a in [
    ("How long does standard shipping take", "Three to five days."),
    ("What does standard shipping cost", "4 euros."),
    ("When does express shipping arrive", "The next business day."),
    ("By when must I order for next-day delivery", "Before noon."),
    ("Do you ship to Switzerland", "No, only to the EU and Norway."),
    ("Can you send a parcel to Oslo", "Yes, Norway is served."),
    ("Which countries do you deliver to", "The EU and Norway.")]] + [("Warranty", f"{q}?", a) for q, a in [
    ("How long is the blender warranty", "Two years."),
    ("Does the warranty cover the glass jar", "No, only the motor."),
    ("Is the blender motor covered", "Yes, for two years."),
    ("What do I need to make a warranty claim", "The serial number."),
    ("Where is the blender's serial number", "On the base."),
    ("Is a cracked jar repaired for free", "No, the jar is not covered.")]]
EDITED_ANSWER = "You have 30 days from delivery to return an item, with its receipt [{n}]."
SEEDS = [AlpacaSample(instruction="Can I pay by invoice?", output="Yes, for orders over 100 euros.")]
TASK = "Answer customers' questions about our shop from its policy documents."


class PolicyLLM(OpenAIStub):
    """Answers a drafting request with the 20 written questions, each naming the number its passage has in the
    prompt (found by the passage's heading); the chat gets a line of text."""

    def next_reply(self, body):
        with self._lock:
            self.requests.append(body)
        if request_kind(body) != "batch":
            return Reply.text("Tell me about your task.")  # the chat's greeting
        prompt = body["messages"][-1]["content"]
        passages = prompt.split("<passages>", 1)[1].split("</passages>", 1)[0]
        number = {m.group(2): m.group(1) for m in re.finditer(r"^\[(\d+)\] .*\n# (\w+)", passages, re.M)}
        return Reply.json({"samples": [{"instruction": q, "input": number[word], "output": a}
                                       for word, q, a in WRITTEN]})


@contextmanager
def policy_app(tmp_path):
    """The app on a fresh workspace with the policy documents written and the task saved, its chat and drafting on
    PolicyLLM, open in Chromium; yields (llm, settings, thread id, document paths, page)."""
    with PolicyLLM() as llm:
        settings, store, session = workspace_session(tmp_path, ChatOpenAI(
            base_url=llm.base_url, api_key="test", model="stub-model", max_retries=0, timeout=30))
        tid = session.new_conversation().thread_id
        store.save_project(tid, TASK, SEEDS, target_count=20)
        paths = []
        for name, text in DOCS.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
            paths.append(str(tmp_path / name))
        with running_app(settings, session) as url, browser_page() as page:
            page.goto(url)
            page.locator("#ts-chat").get_by_text("Tell me about your task.").first.wait_for(state="attached")
            settle(page)
            yield llm, settings, tid, paths, page


def documents_to_dataset(page, expect, paths: list[str]) -> tuple[str, str]:
    """Retrieval tab: the documents indexed and chosen for the samples; Data studio: a batch drafted from them,
    its first card checked (passages shown as text, cited answer) and its answer edited, the rest approved, the
    dataset built. Returns the first answer as drafted and as edited."""
    page.get_by_role("tab", name="Retrieval").click()
    page.locator("#ts-rag-use").click()  # nothing indexed yet: said, nothing saved
    expect(page.locator("#ts-rag-use-report")).to_contain_text("nothing is indexed yet")
    page.locator("#ts-rag-files input[type=file]").set_input_files(paths)
    page.locator("#ts-rag-index").click()
    page.locator("#ts-rag-report").get_by_text("from 3 file(s)").wait_for(timeout=90_000)
    page.locator("#ts-rag-use").click()
    report = page.locator("#ts-rag-use-report")
    expect(report).to_contain_text("Training samples will be drafted from these documents")
    expect(report).to_contain_text("press Generate a batch in the Data studio")
    settle(page)
    screenshot(page, "raft-01-documents-chosen")

    page.get_by_role("tab", name="Data studio").click()
    page.locator("#ts-generate").click()
    expect(page.locator("#ts-review-header")).to_contain_text("20 samples, 20 pending", timeout=90_000)
    expect(page.locator("#ts-focus-instruction textarea")).to_have_value(WRITTEN[0][1])
    shown = page.locator("#ts-focus-input textarea").input_value()
    assert shown.startswith(PASSAGES_HEADER) and "[3] " in shown and "# Returns" in shown
    output = page.locator("#ts-focus-output textarea").input_value()
    assert re.fullmatch(r"30 days from delivery, with the receipt \[[123]\]\.", output), output
    assert "<b>Claims</b>" in shown and page.locator("#ts-focus b", has_text="Claims").count() == 0
    settle(page)
    screenshot(page, "raft-02-review-card-with-passages")

    page.locator("body").press("e")  # the first answer reworded, its citation kept: taught as before -> after
    page.keyboard.press("Control+a")
    edited = EDITED_ANSWER.format(n=output.rsplit("[", 1)[1][0])
    page.keyboard.type(edited)
    page.keyboard.press("Control+Enter")
    expect(page.locator("#ts-review-header")).to_contain_text("19 pending")
    page.locator("#ts-view").get_by_text("list", exact=True).click()
    page.locator("#ts-approve-all").click()
    expect(page.locator("#ts-review-header")).to_contain_text("0 pending")
    settle(page)
    page.locator("#ts-submit-batch").click()
    page.locator("#ts-chat").get_by_text("Dataset version v001-reviewed built").last.wait_for(
        state="attached", timeout=90_000)
    settle(page)
    screenshot(page, "raft-03-dataset-built")
    return output, edited


def test_documents_to_a_reviewed_dataset_of_retrieval_samples(tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    with policy_app(tmp_path) as (llm, settings, tid, paths, page):
        output, edited = documents_to_dataset(page, expect, paths)

        # the next batch is drafted from the documents too: the panel shows that request, the edit in it
        page.get_by_text("The next request, word for word").click()
        page.locator("#ts-show-request").click()
        shown = page.locator("#ts-next-request textarea")
        expect(shown).to_have_value(re.compile(r"<passages>"))
        expect(shown).to_have_value(re.compile(re.escape(f'output before: "{output}"\n  output after: "{edited}"')))
        shown.evaluate("t => { t.scrollTop = t.scrollHeight * t.value.indexOf('<corrections>') / t.value.length; }")
        settle(page)
        screenshot(page, "raft-03b-next-request-with-the-correction")

        page.get_by_role("tab", name="Retrieval").click()  # back to ordinary samples: the next request says so
        page.locator("#ts-rag-plain").click()
        expect(page.locator("#ts-rag-use-report")).to_contain_text("The next batches will be ordinary samples")
        page.get_by_role("tab", name="Data studio").click()
        page.locator("#ts-show-request").click()
        expect(shown).to_have_value(re.compile(r"<task>"))
        expect(shown).not_to_have_value(re.compile(r"<passages>"))

    (prompt,) = [p for p in llm.user_prompts() if "<passages>" in p]  # one drafting call
    assert "Yes, for orders over 100 euros." in prompt and "<b>Claims</b>" in prompt  # style examples, passages
    dataset = settings.workspace / "projects" / tid / "datasets" / "v001-reviewed"
    rows = [*json.loads((dataset / "train.json").read_text()), *json.loads((dataset / "eval.json").read_text())]
    drafted = [r for r in rows if r["input"].startswith(PASSAGES_HEADER)]
    assert len(drafted) == 20, [r["instruction"] for r in rows]  # no drafted question lost as a twin
    assert sum(r["output"] == NO_ANSWER for r in drafted) == 4
    chosen = json.loads((settings.workspace / "projects" / tid / "retrieval.json").read_text())
    assert (chosen["k"], chosen["embedding_model"], chosen["max_chars"]) == (3, "all-MiniLM-L6-v2", 1200)


# The person's own max_steps keeps the run short: on this 2-core CPU a step of the built-in model on 8 rows that carry
# three passages each took ~28 s (16 steps: 7.5 min); 8 steps end in about 3-4 minutes, enough for the run and the
# server's evaluation to happen for real (the test checks that they are measured and shown, not that it learned).
RAFT_TRAINING = {"max_steps": "8"}
# the rows of retrieval_markdown's table (the seeded split holds out one answerable and one unanswerable question)
RETRIEVAL_ROWS = ("answer exact match", "answer ROUGE-L", "cites the right passage",
                  "says none answers, when none does", "answers that stopped by themselves")


@pytest.mark.realmodel
def test_retrieval_samples_train_the_builtin_model_and_are_evaluated_with_retrieval(tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    with policy_app(tmp_path) as (_, settings, tid, paths, page):
        documents_to_dataset(page, expect, paths)

        page.get_by_role("tab", name="Training").click()
        assert page.locator("#ts-base-model textarea").input_value() == "gemma-3-270m"  # the built-in default
        for name, value in RAFT_TRAINING.items():
            fill_number(page, f"ts-param-{name}", value)
        page.locator("#ts-propose").click()  # the plan for the dataset just built, with the person's max_steps
        plan = page.locator("#ts-plan")
        expect(plan).to_contain_text("GO: ready to train.", timeout=120_000)
        expect(plan).not_to_contain_text("NO-GO")
        expect(plan).to_contain_text(f"max_steps = {RAFT_TRAINING['max_steps']}")
        settle(page)
        screenshot(page, "raft-04-preflight")
        page.locator("#ts-start-training").click()
        page.locator('#ts-train-progress[data-status="done"]').wait_for(timeout=15 * 60_000)
        assert page.locator("#ts-train-progress").get_attribute("data-step") == RAFT_TRAINING["max_steps"]

        evaluation = page.locator("#ts-evaluation")  # the server's own evaluation job: real model, same index
        expect(evaluation).to_contain_text("With retrieval", timeout=15 * 60_000)
        expect(evaluation).to_contain_text("base + RAG")
        expect(evaluation).to_contain_text("tuned + RAG")
        for title in RETRIEVAL_ROWS:
            expect(evaluation.locator("tr", has_text=title)).to_contain_text(re.compile(r"\d+%.*\d+%", re.S))
        settle(page)
        screenshot(page, "raft-05-trained-and-evaluated-with-retrieval")

        # try-it asks with the passages the index retrieves, and checks the answer's citation against them
        page.locator("#ts-try-input textarea").fill("How long does standard shipping take?")
        page.locator("#ts-try-input textarea").press("Enter")
        chat = page.locator("#ts-try-chat")
        expect(chat).to_contain_text("Asked with 3 passages from", timeout=120_000)
        expect(chat).to_contain_text(re.compile(r"Check: |passages do not answer"))
        settle(page)
        screenshot(page, "raft-06-try-it-with-retrieval")

    result = json.loads((settings.workspace / "projects" / tid / "runs" / "run-1" / "eval.json").read_text())
    retrieval = result["retrieval"]
    assert retrieval["questions"] >= 1 and retrieval["k"] == 3 and retrieval["embedding_model"] == "all-MiniLM-L6-v2"
    for model in ("base", "tuned"):
        assert all(retrieval[model][metric] is not None for metric in ("exact_match", "rouge_l", "citation",
                                                                        "no_answer"))
