"""Every LLM failure is said in plain words, and the API key never appears in it."""
import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI

from tests.openai_stub import OpenAIStub, Reply
from tools.errors import LLMUnavailable
from tools.llm import build_chat_model, describe_llm_error
from tools.settings import Settings


def test_unconfigured_endpoint_says_how_to_set_one(tmp_path, monkeypatch):
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(LLMUnavailable, match="OPENAI_BASE_URL"):
        build_chat_model(Settings(tunesmith_workspace=tmp_path, _env_file=None))


@pytest.mark.parametrize("reply,needle", [
    (Reply.error(401), "refused the API key"),
    (Reply.error(404), "does not know the model"),
    (Reply.error(429), "rate-limiting (429)"),
    (Reply.error(503), "server error (503)"),
])
def test_http_failures_from_a_real_client(reply, needle):
    with OpenAIStub() as stub:
        stub.script(reply)
        model = ChatOpenAI(base_url=stub.base_url, api_key="sk-secret-123", model="m", max_retries=0)
        with pytest.raises(Exception) as caught:
            model.invoke("hi")
    message = describe_llm_error(caught.value)
    assert needle in message and "sk-secret-123" not in message


def test_timeout_and_unreachable_server():
    with OpenAIStub() as stub:
        stub.script(Reply.text("late", delay_s=2))
        model = ChatOpenAI(base_url=stub.base_url, api_key="k", model="m", max_retries=0, timeout=0.3)
        with pytest.raises(Exception) as caught:
            model.invoke("hi")
    assert "did not answer in time" in describe_llm_error(caught.value)
    dead = ChatOpenAI(base_url="http://127.0.0.1:9/v1", api_key="k", model="m", max_retries=0, timeout=2)
    with pytest.raises(Exception) as caught:
        dead.invoke("hi")
    assert "Could not reach the LLM endpoint" in describe_llm_error(caught.value)


def test_client_retries_429_then_succeeds():
    with OpenAIStub() as stub:
        stub.script(Reply.error(429), Reply.error(500), "fine")
        model = ChatOpenAI(base_url=stub.base_url, api_key="k", model="m", max_retries=2)
        assert model.invoke("hi").content == "fine"


def test_plain_connection_error():
    request = httpx.Request("POST", "http://127.0.0.1:9/")
    assert "Could not reach" in describe_llm_error(openai.APIConnectionError(request=request))
