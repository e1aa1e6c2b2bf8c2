"""Improve in a real Chromium (issue 16, item 4): train → evaluate → the verdict in words above the numbers →
Improve → the batch drafted from the model's mistakes, reviewed → a new version and a round that continues the
run → previous vs now on the same held-out rows.

The LLM is the scripted OpenAI-compatible stub; the trainer and the scoring are scripted processes behind the real
launcher, run watcher and evaluation job (tests/improve_support.py)."""
import json
import re
from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI

from agent.nodes import AgentDeps
from agent.session import Session, open_checkpointer
from tests.browser_support import browser_page, needs_chromium, running_app, screenshot, settle
from tests.e2e_tickets import TicketLLM
from tests.improve_support import approve_open_batch, fake_training, reach_fine_tune_path
from tools.settings import Settings
from tools.training.preflight import read_dataset_split

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium]


def chat_says(page, text: str) -> None:
    page.locator("#ts-chat").get_by_text(text).last.wait_for(state="attached")


def train_from_the_tab(page, expect, plan_words: str) -> None:
    """Check and propose with the settings already in the tab, then start; waits for the run to finish."""
    plan = page.locator("#ts-plan")
    expect(plan).to_contain_text(plan_words)
    expect(plan).to_contain_text("GO: ready to train.")
    settle(page)
    page.locator("#ts-start-training").click()
    chat_says(page, "Training started")
    page.locator('#ts-train-progress[data-status="done"]').wait_for()


def test_improve_walks_to_a_second_round_in_the_browser(tmp_path, monkeypatch):
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    fake_training(monkeypatch)
    with TicketLLM() as stub:
        generator = ChatOpenAI(base_url=stub.base_url, api_key="test", model="stub-model", max_retries=0,
                               timeout=30)
        settings = Settings(tunesmith_workspace=tmp_path / "ws", _env_file=None)
        session = Session(settings, deps=AgentDeps(generation_model=generator, workspace=settings.workspace,
                                                   answer_question=lambda q, p, m: f"Answer: {q}"),
                          checkpointer=open_checkpointer(settings))
        # the data so far: batch 1 reviewed and built as v001 (eval fraction 0.2: 5 held-out rows of 25)
        tid = reach_fine_tune_path(session)
        session.send(tid, {"text": "Generate a batch", "action": "generate"})
        approve_open_batch(session, tid)
        session.send(tid, {"text": "Submit batch", "action": "submit", "config": {"eval_fraction": 0.2}})
        v001 = Path(session.view(tid).dataset_dir)

        with running_app(settings, session) as url, browser_page() as page:
            page.goto(url)
            chat_says(page, "Dataset version v001-reviewed built")
            settle(page)

            # 1. train → evaluate → the verdict in words, above the metric table
            page.get_by_role("tab", name="Training").click()
            page.locator("#ts-base-model textarea").fill("fake-base-model")
            page.get_by_role("radio", name="lora", exact=True).check()
            page.locator("#ts-param-max_steps input").fill("4")
            page.locator("#ts-param-max_steps input").press("Tab")
            page.locator("#ts-propose").click()
            # the boxes left empty (learning rate, passes, batch) are planned, not sent as 0
            train_from_the_tab(page, expect, "Plan:")
            verdict, evaluation = page.locator("#ts-verdict"), page.locator("#ts-evaluation")
            expect(verdict).to_contain_text("Partly works: exact match 60% on 5 held-out rows")
            expect(verdict).to_contain_text("right format, wrong content: 2")
            expect(verdict).to_contain_text("Add rows like the ones it failed on (press Improve)")
            expect(evaluation).to_contain_text("5 eval samples from")
            improve = page.locator("#ts-improve")
            expect(improve).to_be_visible()
            # the words, then the button, then the numbers
            tops = [page.locator(f"#{name}").bounding_box()["y"] for name in ("ts-verdict", "ts-improve",
                                                                              "ts-evaluation")]
            assert tops == sorted(tops), tops
            chat_says(page, "Partly works: exact match 60% on 5 held-out rows")  # the same words in the chat
            settle(page)
            screenshot(page, "improve-01-verdict")

            # 2. Improve → the failing rows become error notes and batch 2 is drafted with them
            improve.click()
            note = page.locator("#ts-improve-note")
            expect(note).to_contain_text("it got 2 of 5 held-out rows wrong")
            expect(note).to_contain_text("Batch 2 is ready")
            settle(page)
            assert len(stub.batch_requests) == 2
            request = stub.batch_requests[1]["messages"][-1]["content"]
            assert request.count("Held-out mistake (right format, wrong content)") == 2

            # 3. the Data studio: the batch is reviewed as usual (one rejected with a reason), then submitted
            page.get_by_role("tab", name="Data studio").click()
            expect(page.locator("#ts-notes textarea")).to_have_value(
                re.compile(re.escape("Held-out mistake (right format, wrong content)")))
            header = page.locator("#ts-review-header")
            expect(header).to_contain_text("Batch 2")
            expect(header).to_contain_text("20 samples, 20 pending")
            page.locator("#ts-view").get_by_text("list", exact=True).click()
            cards = page.locator(".ts-sample .ts-sample")
            expect(cards).to_have_count(20)
            cards.nth(0).locator(".ts-reason textarea").fill("the priority is wrong for a double charge")
            cards.nth(0).locator("button.ts-reject").click()
            expect(cards.nth(0)).to_contain_text("rejected")
            settle(page)
            page.locator("#ts-approve-all").click()
            expect(header).to_contain_text("0 pending")
            settle(page)
            screenshot(page, "improve-02-batch-reviewed")
            page.locator("#ts-submit-batch").click()
            chat_says(page, "Batch 2: 19 of 20 accepted")
            chat_says(page, "left out, so the next evaluation scores rows the model never trained on")
            settle(page)

            # 4. round 2: the proposal continues run-1 on v002 (shown in the tab), trained and evaluated
            page.get_by_role("tab", name="Training").click()
            train_from_the_tab(page, expect, "A new round: continues run-1 on v002-reviewed")
            expect(page.locator("#ts-parent-run input")).to_have_value("run-1")
            expect(verdict).to_contain_text("Previous vs now, on the same 5 held-out rows: run-1 got 3 right, "
                                            "this round 4.")
            expect(verdict).to_contain_text("Fixed: 2 row(s) it got wrong before (#2, #4).")
            expect(evaluation.locator("table").first).to_contain_text("previous round")
            expect(evaluation.locator("table").first).to_contain_text("now")
            chat_says(page, "Previous vs now, on the same 5 held-out rows")
            settle(page)
            screenshot(page, "improve-03-previous-vs-now")

    runs = settings.workspace / "projects" / tid / "runs"
    first, second = (json.loads((runs / name / "eval.json").read_text()) for name in ("run-1", "run-2"))
    assert Path(second["eval_file"]) == Path(first["eval_file"]) == v001 / "eval.json"
    v002 = v001.parent / "v002-reviewed"
    version = json.loads((v002 / "version.json").read_text())
    assert version["settings"]["eval_fraction"] == 0.1, "the Data studio's build settings, as its Build uses"
    held = {s.prompt_text() for s in read_dataset_split(v001 / "eval.json").samples}
    rows = read_dataset_split(v002 / "train.json").samples + read_dataset_split(v002 / "eval.json").samples
    assert not held & {s.prompt_text() for s in rows}, "the first round's held-out rows stay out of round 2"
    assert json.loads((runs / "run-2" / "config.json").read_text())["parent_run"] == str(runs / "run-1")
