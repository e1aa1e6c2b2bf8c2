"""All configuration in one typed place: environment, `.env`, then CLI overrides."""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tools.errors import BAD_CONTENT, BAD_INPUT, UserError

ENV_FILE = ".env"
MAX_LLM_TIMEOUT_S = 86_400.0  # a day: beyond it a timeout is a typo (and timeout arithmetic overflows)
MAX_LLM_RETRIES = 20


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore")

    openai_base_url: str | None = Field(None, description="Any OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1")
    openai_api_key: SecretStr | None = Field(None, description="API key for the endpoint; never logged or exported")
    tunesmith_chat_model: str = Field("gpt-4o-mini", description="Model that runs the conversation")
    tunesmith_generation_model: str | None = Field(None, description="Model that drafts samples (default: chat model)")
    tunesmith_llm_timeout: float = Field(60.0, description="Seconds before an LLM call is abandoned and retried")
    tunesmith_llm_retries: int = Field(3, description="Retries on timeouts, 429 and 5xx")
    tunesmith_workspace: Path = Field(Path("workspace"), description="Folder where everything you make is kept")
    tunesmith_host: str = Field("127.0.0.1", description="Address the app binds to")
    tunesmith_port: int = Field(7860, description="Port the app listens on")

    @field_validator("tunesmith_port")
    @classmethod
    def _port_in_range(cls, port: int) -> int:
        if not 1 <= port <= 65535:
            raise ValueError("must be between 1 and 65535")
        return port

    @field_validator("tunesmith_workspace", "tunesmith_chat_model", "tunesmith_host", mode="before")
    @classmethod
    def _not_blank(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty; unset it for the default, or give a value")
        return value

    @field_validator("openai_base_url")
    @classmethod
    def _base_url_is_http(cls, url: str | None) -> str | None:
        if url is None or not url.strip():  # set but empty: as if unset
            return None
        if not re.match(r"https?://[^\s/]+", url.strip()):
            raise ValueError("must be an http(s) address, e.g. http://127.0.0.1:11434/v1")
        return url.strip()

    @field_validator("tunesmith_llm_timeout")
    @classmethod
    def _timeout_in_range(cls, timeout: float) -> float:
        if not math.isfinite(timeout) or not 0.1 <= timeout <= MAX_LLM_TIMEOUT_S:
            raise ValueError(f"must be a number of seconds from 0.1 to {MAX_LLM_TIMEOUT_S:.0f}, e.g. 60")
        return timeout

    @field_validator("tunesmith_llm_retries")
    @classmethod
    def _retries_in_range(cls, retries: int) -> int:
        if not 0 <= retries <= MAX_LLM_RETRIES:
            raise ValueError(f"must be a whole number from 0 to {MAX_LLM_RETRIES}, e.g. 3")
        return retries

    @property
    def llm_configured(self) -> bool:
        """An endpoint counts as configured when a base URL or an API key is set (OpenAI's default URL needs a key)."""
        return bool(self.openai_base_url or (self.openai_api_key and self.openai_api_key.get_secret_value()))

    @property
    def generation_model(self) -> str:
        return self.tunesmith_generation_model or self.tunesmith_chat_model

    @property
    def workspace(self) -> Path:
        path = self.tunesmith_workspace.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def workspace_file(self, *parts: str) -> Path:
        """A path inside the workspace; refuses anything that escapes it (uploaded names are untrusted)."""
        root = self.workspace
        path = root.joinpath(*parts).resolve()
        if path != root and root not in path.parents:
            raise UserError(f"path {'/'.join(parts)!r} points outside the workspace {root}; use a plain file name")
        return path


def load_settings(**overrides) -> Settings:
    """Settings from env/.env with explicit overrides (CLI flags); None overrides are ignored.

    Each setting is checked like a flag: a bad value in the environment or a flag is usage (exit 2), one read
    from the .env file is that file's content (exit 1)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except UnicodeDecodeError as exc:
        raise UserError(f"{Path(ENV_FILE).resolve()} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                        f"offset {exc.start}); re-save it as UTF-8 or move it aside", BAD_CONTENT) from None
    except ValidationError as exc:
        raise _invalid_settings(exc, given) from None


def _invalid_settings(exc: ValidationError, overrides: dict) -> UserError:
    """One line per bad setting, saying where it came from; exit 1 when every one came from the .env file."""
    lines, from_file = [], []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        in_file = name not in overrides and name.upper() not in os.environ and name not in os.environ
        source = f"in {Path(ENV_FILE).resolve()}" if in_file else ("a flag" if name in overrides else
                                                                     "in the environment")
        value = str(error.get("input", ""))[:40]
        lines.append(f"{name.upper()}={value!r} ({source}): {error['msg'].removeprefix('Value error, ')}")
        from_file.append(in_file)
    return UserError("invalid setting: " + "; ".join(lines), BAD_CONTENT if all(from_file) else BAD_INPUT)
