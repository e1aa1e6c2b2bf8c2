"""Issue 18: the walk "type every step instead of pressing its button", in a real Chromium.

interview → advice → typed "start this path" → typed batch → review with keys (one edit) → typed submit → typed
build → typed check and propose → typed start → the run ends and is evaluated → typed evaluate, try, export.
The LLM is the scripted OpenAI-compatible stub; the trainer, the scoring and the tuned model's answers and export
files are scripted (tests/improve_support.py: the real launcher, run watcher and evaluation process)."""
from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI

from agent.nodes import AgentDeps
from agent.session import Session, open_checkpointer
from tests.browser_support import browser_page, needs_chromium, running_app, screenshot, settle
from tests.e2e_tickets import SEEDS, TicketLLM
from tests.improve_support import TASK, fake_training
from tools.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium]
TASK_MESSAGE = ("Turn support emails into a JSON ticket with a strict schema; we have ~30 examples and thousands of "
                "emails a day")
EDITED = '{"customer": "Ada Park", "product": "espresso machine", "priority": "high"}'


def scripted_model_io(monkeypatch) -> None:
    """The tuned model's answer and its export files, without a model (loading one is tested on its own)."""
    import tools.training.export as export
    import tools.training.inference as inference

    monkeypatch.setattr(inference, "try_run", lambda run_dir, prompt, **kw: ('{"customer": "Ada Park"}', ""))

    def export_run(run_dir, out_dir, merge, dtype="auto"):
        Path(out_dir).mkdir(parents=True)
        (Path(out_dir) / "vllm_serve.sh").write_text("#!/bin/sh\nvllm serve run-1-adapter\n")
        return {"vllm_serve.sh": str(Path(out_dir) / "vllm_serve.sh")}

    monkeypatch.setattr(export, "export_run", export_run)


def test_every_step_typed_instead_of_pressed(tmp_path, monkeypatch):
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    fake_training(monkeypatch)
    scripted_model_io(monkeypatch)
    seeds_file = tmp_path / "seeds.json"
    seeds_file.write_text(__import__("json").dumps(SEEDS), encoding="utf-8")
    settings = Settings(tunesmith_workspace=tmp_path / "ws", _env_file=None)
    with TicketLLM() as stub:
        def llm() -> ChatOpenAI:
            return ChatOpenAI(base_url=stub.base_url, api_key="test", model="stub-model", max_retries=0, timeout=30)

        session = Session(settings, deps=AgentDeps(chat_model=llm(), generation_model=llm(),
                                                   workspace=settings.workspace,
                                                   answer_question=lambda q, p, m: f"Answer: {q}"),
                          checkpointer=open_checkpointer(settings))
        with running_app(settings, session) as url, browser_page() as page:
            chat = page.locator("#ts-chat")

            def type_in_chat(words: str, expected: str, shot: str | None = None) -> None:
                page.get_by_role("tab", name="Advisor").click()
                page.locator("#ts-input textarea").fill(words)
                page.locator("#ts-send").click()
                chat.get_by_text(expected).last.wait_for(state="attached")
                settle(page)
                if shot:
                    screenshot(page, shot)

            page.goto(url)
            chat.get_by_text("Hi, I'm Tunesmith").wait_for()
            settle(page)
            # 1. the interview and the advice, in words
            type_in_chat(TASK_MESSAGE, "Noted.")
            type_in_chat("recommend now", "Noted.")
            page.locator("#ts-recommendation").get_by_role(
                "heading", name="Parameter-efficient fine-tuning (QLoRA)").wait_for()
            type_in_chat("ok, start this path", "let's build your training data", "typed-01-path-started")

            # 2. the task and seeds (the Data studio's form), then the batch asked for in words
            page.get_by_role("tab", name="Data studio").click()
            page.locator("#ts-task textarea").fill(TASK)
            target = page.locator("#ts-target input")
            target.fill("40")
            target.press("Tab")
            page.locator("#ts-seed-file input[type=file]").set_input_files(str(seeds_file))
            page.locator('#ts-seed-file td.filename[aria-label="seeds.json"]').wait_for()
            page.locator("#ts-save-seeds").click()
            expect(page.locator("#ts-seeds-status")).to_contain_text("Saved 5 seed example(s)")
            settle(page)
            type_in_chat("please generate the next batch", "Batch 1 is ready: 20 samples to review",
                         "typed-02-batch-drafted")
            assert len(stub.batch_requests) == 1

            # 3. review with the keys: the first output edited, the other 19 approved
            page.get_by_role("tab", name="Data studio").click()
            header = page.locator("#ts-review-header")
            expect(header).to_contain_text("20 samples, 20 pending")
            page.locator("body").press("e")
            page.keyboard.press("Control+a")
            page.keyboard.type(EDITED)
            page.keyboard.press("Control+Enter")
            expect(header).to_contain_text("19 pending")
            for left in range(18, -1, -1):
                page.locator("body").press("a")
                expect(header).to_contain_text(f" {left} pending")
            settle(page)
            screenshot(page, "typed-03-reviewed-with-keys")

            # 4. submit, build, check and propose, start: each typed
            type_in_chat("submit the batch", "Batch 1: 20 of 20 accepted (100%). 20 of 40 samples collected.")
            chat.get_by_text("go into the next request as before → after examples").last.wait_for(state="attached")
            type_in_chat("build the dataset now", "Dataset version v001-reviewed built", "typed-04-dataset-built")
            type_in_chat("check and propose training", "GO: ready to train.", "typed-05-proposed")
            type_in_chat("start training", "Training started")
            page.get_by_role("tab", name="Training").click()  # the run's progress, then its evaluation
            page.locator('#ts-train-progress[data-status="done"]').wait_for()
            expect(page.locator("#ts-verdict")).to_contain_text("Partly works")
            chat.get_by_text("finished and was evaluated on the held-out rows").last.wait_for(state="attached")
            settle(page)
            screenshot(page, "typed-06-trained-and-evaluated")

            # 5. after the run: evaluate, try, export, in words
            reports = chat.get_by_text("finished and was evaluated on the held-out rows")
            before = reports.count()
            type_in_chat("evaluate it", "finished and was evaluated on the held-out rows")
            expect(reports).to_have_count(before + 1)
            type_in_chat("try: Hello, Ada Park here. My espresso machine arrived cracked.", "run-1 answered:",
                         "typed-07-tried")
            expect(chat).to_contain_text('{"customer": "Ada Park"}')
            type_in_chat("export the model", "Exported to", "typed-08-exported")
            expect(chat).to_contain_text("vllm serve run-1-adapter")

            # the edit reached the next request as a before → after pair: the panel shows it
            page.get_by_role("tab", name="Data studio").click()
            page.get_by_text("The next request, word for word").click()
            page.locator("#ts-show-request").click()
            expect(page.locator("#ts-next-request textarea")).to_have_value(__import__("re").compile(
                "output after: " + __import__("re").escape(__import__("json").dumps(EDITED))))
            settle(page)
            screenshot(page, "typed-09-next-request")
    view = session.view(session.list_conversations()[0]["thread_id"])
    assert view.run_phase == "finished" and view.evaluation and view.stage == "done"
    run = Path(view.run_dir)
    assert (run / "export-adapter" / "vllm_serve.sh").is_file()
    config = __import__("json").loads((run / "config.json").read_text(encoding="utf-8"))
    assert config["base_model"] == "gemma-3-270m"  # the Training tab's default, as the typed proposal says
