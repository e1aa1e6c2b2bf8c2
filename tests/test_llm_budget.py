"""One retry budget per LLM call: the client's retries and the batch loop's calls share one deadline, and the
person is told it before waiting (a dead endpoint used to cost 4 client tries x 4 calls x 60 s, ~16 minutes)."""

from __future__ import annotations

import json
import time

import pytest
from openai_stub import (
    Reply,
    openai_stub_fixture,  # noqa: F401  (the openai_stub fixture)
)

from tools import llm
from tools.cli import main
from tools.settings import Settings


@pytest.mark.parametrize(("timeout", "retries", "budget"), [
    (60, 3, (60, 1)),  # the defaults: two tries of 60 s = 2 minutes at most
    (10, 3, (10, 3)),  # short tries keep every retry
    (300, 3, (300, 0)),  # a slow local model: one long try, no retry on top
    (30, 0, (30, 0)),
])
def test_call_budget_fits_the_deadline(timeout, retries, budget):
    settings = Settings(tunesmith_llm_timeout=timeout, tunesmith_llm_retries=retries)
    assert llm.call_budget(settings) == budget
    assert budget[0] * (budget[1] + 1) <= max(llm.LLM_DEADLINE_S, timeout)


def test_a_hanging_endpoint_costs_one_budget_and_the_person_is_told_first(
        openai_stub, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(llm, "LLM_DEADLINE_S", 1.0)  # 2 minutes in real use; scaled down for the test
    monkeypatch.setenv("OPENAI_BASE_URL", openai_stub.base_url)
    monkeypatch.setenv("TUNESMITH_LLM_TIMEOUT", "0.5")
    monkeypatch.setenv("TUNESMITH_LLM_RETRIES", "3")
    monkeypatch.setenv("TUNESMITH_WORKSPACE", str(tmp_path / "ws"))
    seeds = tmp_path / "seeds.json"
    seeds.write_text(json.dumps([{"instruction": "Which oil for a chain?", "output": "Chain oil."}]))
    assert main(["studio", "new", "bikes", "--task", "Answer bike questions", "--seeds", str(seeds)]) == 0
    openai_stub.script(*[Reply.json({"samples": []}, delay_s=3.0) for _ in range(20)])  # never answers in time
    capsys.readouterr()
    start = time.monotonic()
    code = main(["studio", "generate", "bikes"])
    elapsed = time.monotonic() - start
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in out + err
    assert out.splitlines()[0].startswith("drafting 20 samples with") and "gives up after about 1 s" in out
    assert "did not answer in time" in err and "Gave up after" in err
    assert len(openai_stub.requests) == 2  # one call and its one retry; before: 4 tries x 4 calls = 16
    assert elapsed < 15  # before: ~30 s at these settings (16 tries with the client's and the loop's backoff)
