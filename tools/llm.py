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


# The longest a person waits on an endpoint that does not answer, retries included: the client's retries of one call
# and the batch loop's calls share this one budget instead of multiplying (4 client tries x 4 calls x 60 s was 16 min).
LLM_DEADLINE_S = 120.0


def call_budget(settings: Settings) -> tuple[float, int]:
    """(seconds per try, client retries) such that one call, retries included, ends within the deadline.

    The deadline is LLM_DEADLINE_S, or one try when TUNESMITH_LLM_TIMEOUT is set longer (a slow local model)."""
    timeout = settings.tunesmith_llm_timeout
    deadline = max(LLM_DEADLINE_S, timeout)
    return timeout, min(settings.tunesmith_llm_retries, max(0, int(deadline // timeout) - 1))


def call_deadline_s(settings: Settings) -> float:
    """How long one call may take, its retries included: also the budget of a batch's calls together (a failed
    call is not asked again once this much time has passed), so what deadline_note announces is kept."""
    timeout, retries = call_budget(settings)
    return timeout * (retries + 1)


def deadline_note(settings: Settings) -> str:
    """What the person is told before a call: how long at most before they hear back."""
    total = call_deadline_s(settings)
    limit = f"{total / 60:.0f} min" if total >= 90 else f"{total:.0f} s"
    return (f"gives up after about {limit} if the endpoint does not answer "
            "(TUNESMITH_LLM_TIMEOUT x (1 + TUNESMITH_LLM_RETRIES), capped at 2 min)")


def build_chat_model(settings: Settings, model: str | None = None, temperature: float = 0.2) -> BaseChatModel:
    """ChatOpenAI for the configured endpoint; the client retries timeouts, 429 and 5xx with backoff, within the
    call budget (call_budget)."""
    if not settings.llm_configured:
        raise LLMUnavailable(f"No LLM endpoint is configured. {SETUP_HINT}")
    from langchain_openai import ChatOpenAI  # heavy import, only when a model is really built

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    timeout, retries = call_budget(settings)
    return ChatOpenAI(
        model=model or settings.tunesmith_chat_model,
        base_url=settings.openai_base_url,
        api_key=key,
        temperature=temperature,
        timeout=timeout,
        max_retries=retries,
    )


def describe_llm_error(exc: BaseException) -> str:
    """One sentence a person can act on, for any failure of an LLM call (never includes the API key)."""
    from tools.redact import redact

    return redact(_describe(exc))


def _describe(exc: BaseException) -> str:
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
