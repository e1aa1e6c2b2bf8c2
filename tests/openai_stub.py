"""A local OpenAI-compatible chat-completions server with scripted replies, for tests that use a real client.

    with OpenAIStub() as stub:                      # or the `openai_stub` pytest fixture
        stub.script("hello", Reply.error(429), Reply.json({"samples": []}), Reply.tool_call("f", {"x": 1}))
        llm = ChatOpenAI(base_url=stub.base_url, api_key="test", model="stub", max_retries=0)
        ...
        stub.requests[0]["messages"]               # every request body, in order

POST /v1/chat/completions answers with the next scripted reply (streaming as SSE when "stream" is true);
response_format (json_object / json_schema) is accepted and the scripted content returned as is.
GET /v1/models lists the models. When the script runs out the stub answers `default` (unless set, a 500
saying so).
The `openai_stub` fixture, in a test module: `from openai_stub import openai_stub_fixture  # noqa: F401`.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest


@dataclass
class Reply:
    """One scripted answer: assistant text, tool calls, or an HTTP error status."""

    content: str | None = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    error_message: str = ""
    delay_s: float = 0.0  # wait before answering (to exercise client timeouts)
    finish_reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, content: str, **kwargs: Any) -> Reply:
        return cls(content=content, **kwargs)

    @classmethod
    def json(cls, value: Any, **kwargs: Any) -> Reply:
        """Content that is the JSON encoding of value (what a json_schema/json_object request returns)."""
        return cls(content=json.dumps(value), **kwargs)

    @classmethod
    def tool_call(cls, name: str, arguments: dict[str, Any] | str, **kwargs: Any) -> Reply:
        args = arguments if isinstance(arguments, str) else json.dumps(arguments)
        call = {
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "type": "function",
            "function": {"name": name, "arguments": args},
        }
        return cls(content=None, tool_calls=[call], **kwargs)

    @classmethod
    def error(cls, status: int, message: str = "", **kwargs: Any) -> Reply:
        # A tiny retry-after keeps the openai client's own retries fast in tests.
        headers = {"retry-after-ms": "5", **kwargs.pop("headers", {})}
        return cls(
            status=status, error_message=message or f"scripted error {status}", headers=headers, **kwargs
        )


def as_reply(value: Reply | str | int | dict | list) -> Reply:
    """Shorthand: str -> text, int -> HTTP error status, dict/list -> JSON content."""
    if isinstance(value, Reply):
        return value
    if isinstance(value, bool):
        raise TypeError("a bool is not a scripted reply")
    if isinstance(value, int):
        return Reply.error(value)
    if isinstance(value, str):
        return Reply.text(value)
    return Reply.json(value)


class OpenAIStub:
    """Threaded HTTP server on 127.0.0.1 (a free port) answering chat completions from a script."""

    def __init__(self, models: tuple[str, ...] = ("stub-model",), default: Reply | None = None):
        self.models = models
        self.default = default or Reply.error(500, "openai_stub: no scripted reply left")
        self.requests: list[dict[str, Any]] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *replies: Reply | str | int | dict | list) -> OpenAIStub:
        """Appends replies to the queue (see as_reply for the shorthands)."""
        with self._lock:
            self._replies.extend(as_reply(reply) for reply in replies)
        return self

    @property
    def pending(self) -> int:
        """Scripted replies not yet used."""
        return len(self._replies)

    def user_prompts(self) -> list[str]:
        """The text of the last user message of every chat request, in order."""
        prompts = []
        for body in self.requests:
            users = [m for m in body.get("messages", []) if m.get("role") == "user"]
            content = users[-1]["content"] if users else ""
            if isinstance(content, list):
                content = "".join(part.get("text", "") for part in content)
            prompts.append(content)
        return prompts

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            return self._replies.popleft() if self._replies else self.default

    def start(self) -> OpenAIStub:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="openai-stub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    """Ignores clients that hang up (a client timing out on a delayed reply is expected in tests)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _completion(reply: Reply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = reply.tool_calls
    finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def _stream_chunks(reply: Reply, model: str, include_usage: bool) -> list[dict[str, Any]]:
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    text = reply.content or ""
    deltas += [{"content": text[i : i + 16]} for i in range(0, len(text), 16)]
    for index, call in enumerate(reply.tool_calls):
        deltas.append({"tool_calls": [{"index": index, **call}]})
    chunks = [{**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas]
    finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if include_usage:
        chunks.append(
            {
                **base,
                "choices": [],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )
    return chunks


def _handler_for(stub: OpenAIStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                data = [
                    {"id": name, "object": "model", "created": 0, "owned_by": "openai-stub"}
                    for name in stub.models
                ]
                self._send_json(200, {"object": "list", "data": data})
            else:
                self._send_json(404, {"error": {"message": f"unknown path {self.path}", "type": "not_found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send_json(404, {"error": {"message": f"unknown path {self.path}", "type": "not_found"}})
                return
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._send_json(
                    400, {"error": {"message": "request body is not JSON", "type": "invalid_request"}}
                )
                return
            reply = stub.next_reply(body)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.status != 200:
                error = {"message": reply.error_message, "type": "stub_error", "code": reply.status}
                self._send_json(reply.status, {"error": error}, reply.headers)
                return
            model = body.get("model") or stub.models[0]
            if not body.get("stream"):
                self._send_json(200, _completion(reply, model), reply.headers)
                return
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for chunk in _stream_chunks(reply, model, include_usage):
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

    return Handler


@pytest.fixture(name="openai_stub")
def openai_stub_fixture():
    """A started OpenAIStub, stopped after the test."""
    with OpenAIStub() as stub:
        yield stub
