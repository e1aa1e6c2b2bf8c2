"""The whole fine-tune journey in a real Chromium against a local OpenAI-compatible server:
task in the chat → fine-tune recommended → seeds → two reviewed batches of 20 (reject reasons fed into the
next prompt) → dataset built at the target → QLoRA on a tiny model → base-vs-tuned evaluation → try it."""
import json
import re

import pytest
from langchain_openai import ChatOpenAI

from agent.nodes import AgentDeps
from agent.session import Session, open_checkpointer
from tests.browser_support import browser_page, fill_number, needs_chromium, running_app, screenshot, settle
from tests.e2e_tickets import SEEDS, TicketLLM, all_texts
from tools.generation.store import ReviewStore
from tools.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium]

TASK_MESSAGE = ("Turn support emails into a JSON ticket with a strict schema; we have ~30 examples and thousands of "
                "emails a day")
TASK = ("Turn a customer support email into a JSON ticket with customer, product, order_id, category and "
        "priority.")
# card position (0-based) -> the reason a reviewer types before pressing Reject
REJECTS = {1: "a low priority for a double charge",
           4: "an order_id not copied exactly from the email",
           8: "the defect category for a parcel that never shipped"}
TRAINING_SETTINGS = {"max_steps": "30", "max_seq_len": "256", "batch_size": "4", "grad_accum": "1",
                     "learning_rate": "0.003"}  # a brief run that still visibly lowers the loss
TRAINING_MINUTES = 3


def make_session(settings: Settings, stub: TicketLLM) -> Session:
    def llm() -> ChatOpenAI:
        return ChatOpenAI(base_url=stub.base_url, api_key="test", model="stub-model", max_retries=0,
                          timeout=30)

    deps = AgentDeps(chat_model=llm(), generation_model=llm(),
                     answer_question=lambda q, p, m: f"Grounded: {q}",
                     store=ReviewStore(settings.workspace_file("tunesmith.db")), workspace=settings.workspace)
    return Session(settings, deps=deps, checkpointer=open_checkpointer(settings))


def chat_says(page, text: str, timeout: float = 30_000) -> None:
    """The advisor chat shows text (attached is enough: the chat is in the Advisor tab, hidden on others)."""
    page.locator("#ts-chat").get_by_text(text).last.wait_for(state="attached", timeout=timeout)


def review_batch(page, expect, number: int, rejects: dict[int, str]) -> None:
    """Rejects the given cards with their reasons, one at a time, then approves the rest in bulk."""
    header = page.locator("#ts-review-header")
    expect(header).to_contain_text(f"Batch {number}")
    expect(header).to_contain_text("20 samples, 20 pending")
    page.locator("#ts-view").get_by_text("list", exact=True).click()  # the card list (focus mode is the default)
    cards = page.locator(".ts-sample .ts-sample")  # Gradio puts a Group's class on its outer and inner div
    expect(cards).to_have_count(20)
    for position, reason in rejects.items():
        card = cards.nth(position)
        card.locator(".ts-reason textarea").fill(reason)
        card.locator("button.ts-reject").click()
        expect(cards.nth(position)).to_contain_text("rejected")
        expect(cards.nth(position)).to_contain_text(reason)
        settle(page)
    page.locator("#ts-approve-all").click()
    expect(header).to_contain_text("0 pending")
    settle(page)


def test_fine_tune_journey_in_the_browser(tmp_path):
    from playwright.sync_api import expect

    from tools.training.tiny_model import build_tiny_model

    expect.set_options(timeout=30_000)
    settings = Settings(tunesmith_workspace=tmp_path / "ws", _env_file=None)
    seeds_file = tmp_path / "seeds.json"
    seeds_file.write_text(json.dumps(SEEDS, indent=1), encoding="utf-8")
    base_model = build_tiny_model(tmp_path / "tiny-base", all_texts())

    with TicketLLM() as stub, running_app(settings, session := make_session(settings, stub)) as url, \
            browser_page() as page:
        # 1. the task in the chat → the profile → the recommendation → start the path
        page.goto(url)
        chat_says(page, "Hi, I'm Tunesmith")
        settle(page)
        page.locator("#ts-input textarea").fill(TASK_MESSAGE)
        page.locator("#ts-send").click()
        chat_says(page, TASK_MESSAGE)
        profile = page.locator("#ts-profile")
        expect(profile).to_contain_text("Custom tone or format: Yes")
        expect(profile).to_contain_text("Variety of tasks: One narrow task")
        settle(page)
        screenshot(page, "e2e-01-task-described")
        page.get_by_role("button", name="Recommend now").click()
        page.locator("#ts-recommendation").get_by_role(
            "heading", name="Parameter-efficient fine-tuning (QLoRA)").wait_for()
        assert page.locator('#ts-flow rect[data-node="fine-tune"]').get_attribute("data-taken") == "true"
        settle(page)
        screenshot(page, "e2e-02-recommendation")
        page.get_by_role("button", name="Start this path").click()
        chat_says(page, "let's build your training data")
        settle(page)  # the Data studio refresh chained on the chat turn must not overwrite what we type next

        # 2. the Data studio: task, seed file, target 25 (two batches)
        page.get_by_role("tab", name="Data studio").click()
        page.locator("#ts-task textarea").fill(TASK)
        fill_number(page, "ts-target", "25")
        page.locator("#ts-seed-file input[type=file]").set_input_files(str(seeds_file))
        page.locator('#ts-seed-file td.filename[aria-label="seeds.json"]').wait_for()
        page.locator("#ts-save-seeds").click()
        expect(page.locator("#ts-seeds-status")).to_contain_text("Saved 5 seed example(s)")
        screenshot(page, "e2e-03-seeds-saved")

        # 3. batch 1: 20 cards; 3 rejected with reasons, 17 approved in bulk; submitted
        page.locator("#ts-generate").click()
        chat_says(page, "Batch 1 is ready: 20 samples to review")
        review_batch(page, expect, 1, REJECTS)
        screenshot(page, "e2e-04-batch1-reviewed")
        page.locator("#ts-submit-batch").click()
        chat_says(page, "Batch 1: 17 of 20 accepted (85%). 17 of 25 samples collected.")
        for reason in REJECTS.values():
            chat_says(page, reason)
        expect(page.locator("#ts-notes textarea")).to_have_value(re.compile(  # each note scoped to its case
            "\n".join(f"Avoid: {re.escape(reason)} \\(for cases like .*\\)" for reason in REJECTS.values())))
        settle(page)
        screenshot(page, "e2e-05-batch1-submitted")

        # 4. batch 2's prompt carries the reject reasons (feedback loop); all approved → the dataset builds
        page.locator("#ts-generate").click()
        chat_says(page, "Batch 2 is ready: 20 samples to review")
        assert len(stub.batch_requests) == 2, "each batch of 20 valid samples should take one LLM call"
        assert not any(reason in json.dumps(stub.batch_requests[0]) for reason in REJECTS.values())
        second_prompt = json.dumps(stub.batch_requests[1]["messages"])
        for reason in REJECTS.values():
            assert reason in second_prompt, f"batch 2's prompt lacks the reject reason {reason!r}"
        review_batch(page, expect, 2, {})
        page.locator("#ts-submit-batch").click()
        chat_says(page, "Batch 2: 20 of 20 accepted (100%). 37 samples collected (target 25 reached).")
        chat_says(page, "Dataset version v001-reviewed built")
        report = page.locator("#ts-dataset-report")
        expect(report).to_contain_text("42 kept")  # 37 accepted + 5 seeds (seeds go in by default)
        downloads = page.locator("#ts-downloads")
        for name in ("train.json", "eval.json", "dataset_info.json"):
            expect(downloads.locator(f'td.filename[aria-label="{name}"]')).to_have_count(1)
        settle(page)
        screenshot(page, "e2e-06-dataset-built")
        (project,) = (settings.workspace / "projects").iterdir()  # one conversation, one project folder
        thread_id, dataset = project.name, project / "datasets" / "v001-reviewed"  # each build is a new version
        train = json.loads((dataset / "train.json").read_text(encoding="utf-8"))
        held_out = json.loads((dataset / "eval.json").read_text(encoding="utf-8"))
        assert len(train) + len(held_out) >= 25 and held_out

        # 5. training: tiny base, short QLoRA run, preflight GO, progress to done, evaluation
        page.get_by_role("tab", name="Training").click()
        page.locator("#ts-base-model textarea").fill(str(base_model))
        page.get_by_role("radio", name="qlora").check()
        for name, value in TRAINING_SETTINGS.items():
            fill_number(page, f"ts-param-{name}", value)
        page.locator("#ts-propose").click()
        plan = page.locator("#ts-plan")
        expect(plan).to_contain_text("GO: ready to train.")
        expect(plan).not_to_contain_text("NO-GO")
        expect(plan).to_contain_text("max_steps")
        expect(plan).to_contain_text("Your own learning_rate, batch_size, grad_accum kept.")
        settle(page)
        screenshot(page, "e2e-07-preflight")
        page.locator("#ts-start-training").click()
        chat_says(page, "Training started")
        page.locator('#ts-train-progress[data-status="done"]').wait_for(timeout=TRAINING_MINUTES * 60_000)
        assert page.locator("#ts-train-progress").get_attribute("data-step") == "30"
        evaluation = page.locator("#ts-evaluation")
        expect(evaluation).to_contain_text("eval samples from", timeout=120_000)
        expect(evaluation).to_contain_text("tuned")
        settle(page)
        screenshot(page, "e2e-08-trained-and-evaluated")

        # 6. try it: an instruction from the training data gets an answer from the tuned model
        question = f"{train[0]['instruction']}\n\n{train[0]['input']}"
        page.locator("#ts-try-input textarea").fill(question)
        page.locator("#ts-try-input textarea").press("Enter")
        answer = page.locator('#ts-try-chat [data-testid="bot"]').last
        answer.wait_for(timeout=60_000)
        expect(page.locator('#ts-try-chat [data-testid="user"]')).to_contain_text(train[0]["input"])
        assert answer.inner_text().strip()
        assert not answer.inner_text().startswith(("⚠️", "Problem:"))  # RunDesk.PROBLEM, as the chat shows it
        screenshot(page, "e2e-09-try-it")

        # 7. the agent was told the run finished; the chat and the stepper show it once the page is reloaded
        page.reload()
        chat_says(page, "Training of run-1 finished and was evaluated on the held-out rows.")
        expect(page.locator(".ts-step-on")).to_have_text("5 · Use it")
        settle(page)
        screenshot(page, "e2e-10-reloaded-done")
    assert session.view(thread_id).stage == "done"
    result = json.loads((project / "runs" / "run-1" / "eval.json").read_text(encoding="utf-8"))
    assert result["tuned"]["loss"] < result["base"]["loss"], "30 QLoRA steps should lower the held-out loss"
