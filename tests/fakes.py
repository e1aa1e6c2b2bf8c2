"""Scripted chat models for graph tests: replies are popped in order; structured output validates dicts."""
from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableLambda


class ScriptedChatModel(BaseChatModel):
    """Each call pops the next script item: a str (text reply), a dict (structured reply) or an Exception (raised)."""

    script: list[Any]
    calls: list[Any] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _next(self, messages):
        self.calls.append(messages)
        if not self.script:
            raise AssertionError("ScriptedChatModel ran out of scripted replies")
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        item = self._next(messages)
        assert isinstance(item, str), f"expected a text reply next, got {item!r}"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=item))])

    def with_structured_output(self, schema, **kwargs):
        def run(messages):
            item = self._next(messages)
            assert isinstance(item, dict), f"expected a structured reply next, got {item!r}"
            return schema.model_validate(item)

        return RunnableLambda(run)
