"""generate_batch through a real ChatOpenAI against the local OpenAI-compatible stub, and the stub itself."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from langchain_openai import ChatOpenAI
from openai_stub import OpenAIStub, Reply, openai_stub_fixture  # noqa: F401  (the openai_stub fixture)

from tools.dataset.schema import AlpacaSample
from tools.generation.batch import BatchResult, generate_batch
from tools.generation.notes import notes_from_reviews
from tools.generation.store import ReviewStore

TASK = "Answer customer questions about a bike shop"
SEEDS = [AlpacaSample(instruction="Do you repair e-bikes?", output="Yes, all common brands.")]


def samples(start: int, count: int) -> dict[str, Any]:
    return {
        "samples": [
            {
                "instruction": f"Question {i}: what does service plan {i * 13} include?",
                "input": "",
                "output": f"Plan {i} covers brakes and gears.",
            }
            for i in range(start, start + count)
        ]
    }


def chat_model(stub: OpenAIStub, retries: int = 0) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=stub.base_url, api_key="test-key", model="stub-model", max_retries=retries, timeout=10
    )


def generate(stub: OpenAIStub, retries: int = 0, **kwargs: Any) -> BatchResult:
    return generate_batch(chat_model(stub, retries), TASK, SEEDS, backoff_s=0, **kwargs)


def test_structured_request_then_broken_json_then_valid(openai_stub):
    openai_stub.script('{"samples": [{"instruction": "cut off', samples(0, 20))
    result = generate(openai_stub)
    assert result.complete and len(result.samples) == 20 and result.attempts == 2
    assert result.dropped == {"unparseable_reply": 1}
    response_format = openai_stub.requests[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert "samples" in response_format["json_schema"]["schema"]["properties"]


def test_short_batch_then_top_up_to_exactly_20(openai_stub):
    openai_stub.script(samples(0, 12), samples(12, 8))
    result = generate(openai_stub)
    assert result.complete and len(result.samples) == 20
    prompts = openai_stub.user_prompts()
    assert "Write exactly 20 new samples" in prompts[0] and "Write exactly 8 new samples" in prompts[1]


def test_duplicates_are_dropped_and_replaced(openai_stub):
    first = (
        samples(0, 3)["samples"]
        + samples(1, 1)["samples"]
        + [{"instruction": "DO YOU REPAIR E-BIKES", "output": "copy"}]
    )
    openai_stub.script({"samples": first}, samples(3, 2))
    result = generate(openai_stub, n=5)
    assert result.complete and result.dropped == {"duplicate_in_batch": 1, "duplicate": 1}


def test_429_then_success_is_retried_by_us(openai_stub):
    openai_stub.script(429, samples(0, 20))
    result = generate(openai_stub)
    assert result.complete and result.attempts == 2
    assert "rate-limiting (429)" in result.errors[0]


def test_429_is_also_retried_by_the_client(openai_stub):
    openai_stub.script(429, samples(0, 20))
    result = generate(openai_stub, retries=2)
    assert result.complete and result.attempts == 1 and len(openai_stub.requests) == 2


def test_a_timeout_is_retried(openai_stub):
    openai_stub.script(Reply.json(samples(0, 2), delay_s=1.0), samples(0, 2))
    llm = ChatOpenAI(
        base_url=openai_stub.base_url, api_key="k", model="stub-model", max_retries=0, timeout=0.2
    )
    result = generate_batch(llm, TASK, SEEDS, n=2, backoff_s=0)
    assert result.complete and result.attempts == 2
    assert len(result.errors) == 1 and result.errors[0].startswith("attempt 1:")  # wording: tools.llm


def test_persistent_500_gives_an_incomplete_batch_with_a_message(openai_stub):
    openai_stub.script(samples(0, 4), 500, 500, 500)
    result = generate(openai_stub)
    assert not result.complete and len(result.samples) == 4 and result.attempts == 4
    assert "server error (500)" in result.message and "4 of 20" in result.message


def test_endpoint_without_structured_output_falls_back_to_plain_json(openai_stub):
    openai_stub.script(
        Reply.error(400, "response_format json_schema is not supported"),
        "```json\n" + json.dumps(samples(0, 3)) + "\n```",
    )
    result = generate(openai_stub, n=3)
    assert result.complete and result.attempts == 1
    assert "response_format" in openai_stub.requests[0] and "response_format" not in openai_stub.requests[1]


def test_error_notes_of_batch_1_reach_the_prompt_of_batch_2(tmp_path, openai_stub):
    openai_stub.script(samples(0, 3), samples(3, 3))
    with ReviewStore(tmp_path / "tunesmith.db") as store:
        store.save_project("thread-7", TASK, SEEDS, target_count=6)
        first = generate(openai_stub, n=3)
        batch = store.add_batch("thread-7", first.samples)
        a, b, c = store.batch_samples(batch.id)
        store.approve(a.id)
        store.reject(b.id, "invents prices the shop never gave")
        store.edit(
            c.id, {**c.original.to_record(), "output": c.original.output.replace("brakes", "disc brakes")}
        )
        store.submit_batch(batch.id)
        store.add_notes("thread-7", notes_from_reviews(store.batch_samples(batch.id)))

        second = generate(
            openai_stub,
            n=3,
            notes=store.notes("thread-7"),
            rejected=store.rejected_examples("thread-7"),
            existing_texts=store.existing_texts("thread-7"),
        )
    assert second.complete
    prompt = openai_stub.user_prompts()[-1]
    assert "- Avoid: invents prices the shop never gave" in prompt
    assert "- In the output, write 'disc brakes' instead of 'brakes'." in prompt
    assert "reason: invents prices the shop never gave" in prompt
    assert "Avoid: invents prices" not in openai_stub.user_prompts()[0]


def test_stub_streams_lists_models_and_records_requests():
    with OpenAIStub(models=("m1", "m2")) as stub:
        stub.script(
            "streamed reply text that is longer than one chunk", Reply.tool_call("lookup", {"q": "x"})
        )
        llm = chat_model(stub)
        assert (
            "".join(chunk.content for chunk in llm.stream("hi"))
            == "streamed reply text that is longer than one chunk"
        )
        assert stub.requests[0]["stream"] is True
        message = llm.invoke("call a tool")
        assert message.tool_calls[0]["name"] == "lookup" and message.tool_calls[0]["args"] == {"q": "x"}
        client = openai.OpenAI(base_url=stub.base_url, api_key="k", max_retries=0)
        assert [model.id for model in client.models.list()] == ["m1", "m2"]
        assert stub.pending == 0
        with pytest.raises(openai.InternalServerError, match="no scripted reply left"):
            client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "x"}])
