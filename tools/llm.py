"""Builds chat models for any OpenAI-compatible endpoint, and says LLM failures in plain words."""
from __future__ import annotations

from typing import TYPE_CHECKING

from tools.errors import LLMUnavailable
from tools.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

SETUP_HINT = (
    "Set OPENAI_BASE_URL (any OpenAI-compatible server: OpenAI, DeepSeek, Qwen, vLLM, Ollama...) and "
    "OPENAI_API_KEY in the environment or in .env, then restart Tunesmith."
)


def build_chat_model(settings: Settings, model: str | None = None, temperature: float = 0.2) -> BaseChatModel:
    """ChatOpenAI for the configured endpoint; the client retries timeouts, 429 and 5xx with backoff."""
    if not settings.llm_configured:
        raise LLMUnavailable(f"No LLM endpoint is configured. {SETUP_HINT}")
    from langchain_openai import ChatOpenAI  # heavy import, only when a model is really built

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    return ChatOpenAI(
        model=model or settings.tunesmith_chat_model,
        base_url=settings.openai_base_url,
        api_key=key,
        temperature=temperature,
        timeout=settings.tunesmith_llm_timeout,
        max_retries=settings.tunesmith_llm_retries,
    )


def describe_llm_error(exc: BaseException) -> str:
    """One sentence a person can act on, for any failure of an LLM call (never includes the API key)."""
    if isinstance(exc, LLMUnavailable):
        return str(exc)
    import openai  # installed with langchain-openai; its wrappers subclass these

    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    if isinstance(exc, (openai.APITimeoutError, TimeoutError)) or name == "ReadTimeout":
        return ("The LLM endpoint did not answer in time (after retries). "
                "Try again, or raise TUNESMITH_LLM_TIMEOUT.")
    if isinstance(exc, (openai.APIConnectionError, ConnectionError)):
        return ("Could not reach the LLM endpoint. Check that the server is running and OPENAI_BASE_URL is "
                f"right. {SETUP_HINT}")
    if name == "AuthenticationError" or status == 401:
        return "The LLM endpoint refused the API key (401). Check OPENAI_API_KEY."
    if name == "NotFoundError" or status == 404:
        return ("The LLM endpoint does not know the model (404). "
                "Check TUNESMITH_CHAT_MODEL / TUNESMITH_GENERATION_MODEL.")
    if name == "RateLimitError" or status == 429:
        return "The LLM endpoint keeps rate-limiting (429) after retries. Wait a minute and try again."
    if status and status >= 500:
        return f"The LLM endpoint failed with a server error ({status}) after retries. Try again later."
    return f"The LLM call failed ({name}). Your work is saved; try again."
