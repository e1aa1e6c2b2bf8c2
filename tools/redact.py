"""Secrets never leave in a message, a log line or a file: the configured API key, and anything shaped like a key
(an endpoint may repeat the key in its error text), become [redacted]."""
from __future__ import annotations

import os
import re
from typing import TextIO

from tools.errors import printable

REDACTED = "[redacted]"
ENV_FILE = ".env"  # as tools.settings reads it (not imported here: pydantic is slow to load for every command)
# Shapes of keys and tokens: OpenAI/DeepSeek sk-..., Hugging Face hf_..., GitHub, Slack, AWS, Google, and the value
# of an Authorization header or an api_key=... pair.
_KEY_SHAPES = re.compile(
    r"\b(?:sk|rk|pk)-[A-Za-z0-9_\-]{16,}"
    r"|\bhf_[A-Za-z0-9]{20,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"
    r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\bAIza[0-9A-Za-z_\-]{30,}"
    r"|(?i:\bbearer\s+)[A-Za-z0-9._~+/=\-]{8,}"
    r"|(?i:\b(?:api[_-]?key|access[_-]?token|secret)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]{6,}"
)
_KEY_VARIABLES = ("OPENAI_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def configured_secrets() -> list[str]:
    """The keys set for this process (the environment, or the .env file the settings read), longest first."""
    found = {os.environ.get(name, "") for name in _KEY_VARIABLES}
    try:
        from dotenv import dotenv_values  # python-dotenv, what pydantic-settings reads .env with; light to import

        found |= {str(dotenv_values(ENV_FILE).get(name) or "") for name in _KEY_VARIABLES}
    except Exception:  # noqa: BLE001 - a .env that cannot be read holds no key to hide; the settings say why
        pass
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)


def without_secrets(env: dict[str, str]) -> dict[str, str]:
    """A child process's environment without the keys it does not need (a trainer never calls the endpoint)."""
    return {name: value for name, value in env.items() if name not in _KEY_VARIABLES}


def redact(text: str, secrets: list[str] | None = None) -> str:
    """text with every configured secret and key-shaped token replaced by [redacted]."""
    for secret in configured_secrets() if secrets is None else secrets:
        text = text.replace(secret, REDACTED)
    return _KEY_SHAPES.sub(_keep_label, text)


def _keep_label(match: re.Match) -> str:
    """'api_key=abc…' keeps its label ('api_key=[redacted]'); a bare token goes whole."""
    token = match.group()
    label = re.match(r"(?i)(bearer\s+|[^:=]*[:=]\s*[\"']?)", token) if re.match(r"(?i)bearer|api|access|secret",
                                                                                token) else None
    return (label.group() if label else "") + REDACTED


class RedactingStream:
    """A text stream that writes through redact(): what a command prints (and logs to the terminal) never
    carries a key; a file name that is not UTF-8 is printed with escapes (errors.printable), never a crash."""

    def __init__(self, stream: TextIO, secrets: list[str]):
        self._stream = stream
        self._secrets = secrets

    def write(self, text: str) -> int:
        self._stream.write(printable(redact(text, self._secrets)))
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
