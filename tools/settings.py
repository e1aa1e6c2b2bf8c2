"""All configuration in one typed place: environment, `.env`, then CLI overrides."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tools.errors import UserError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

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
            raise ValueError("TUNESMITH_PORT must be between 1 and 65535")
        return port

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
    """Settings from env/.env with explicit overrides (CLI flags); None overrides are ignored."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        raise UserError(f"invalid setting: {exc}") from None
