"""A real OpenAI-compatible chat server for tests: ``/v1/chat/completions`` and
``/v1/models`` on 127.0.0.1, served from a thread, scripted per test.

By default it answers every request with ``reply(messages)`` (``"echo: <last message>"``
unless a test sets another function). A test queues special responses with :meth:`script`,
served in order before the default resumes: :class:`Reply` objects for a given text,
finish reason (``"length"`` for truncated output), delay (a slow answer), HTTP status and
headers (429 with ``Retry-After``, 500s), or a raw body (malformed JSON). It records every
request body it received (``requests``) and the most requests it held at once
(``max_in_flight``).

Use the ``chat_server`` fixture (registered by the conftests that list this module in
``pytest_plugins``-style imports), or ``ChatServer()`` as a context manager.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = ["ChatServer", "Reply", "chat_server"]

Messages = list[dict[str, Any]]


def echo(messages: Messages) -> str:
    return "echo: " + str(messages[-1].get("content", "")) if messages else "echo:"


@dataclass
class Reply:
    """One scripted response. ``text`` None means the default reply function's."""

    text: str | None = None
    finish_reason: str = "stop"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None
    cost: float | None = None
    model: str | None = None
    choices: bool = True


class ChatServer:
    """An OpenAI-compatible endpoint on a free port; ``base_url`` ends in ``/v1``."""

    def __init__(self, reply: Callable[[Messages], str] = echo, *, delay: float = 0.0) -> None:
        self.reply = reply
        # When set, answers from the whole request body (model, seed, parameters...).
        self.reply_to_body: Callable[[dict[str, Any]], str] | None = None
        # Seconds every unscripted answer takes (a slow model).
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def script(self, *replies: Reply) -> None:
        """Serve these responses, in order, to the next requests."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def calls(self) -> int:
        return len(self.requests)

    def close(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> ChatServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self._queue.popleft() if self._queue else Reply(delay=self.delay)

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _body(self, body: dict[str, Any], reply: Reply) -> bytes:
        if reply.raw is not None:
            return reply.raw
        messages = body.get("messages") or []
        if reply.text is not None:
            text = reply.text
        elif self.reply_to_body is not None:
            text = self.reply_to_body(body)
        else:
            text = self.reply(messages)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(text.split()),
            "total_tokens": prompt_tokens + len(text.split()),
        }
        if reply.cost is not None:
            usage["cost"] = reply.cost
        choices = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": reply.finish_reason,
            }
        ]
        return json.dumps(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 0,
                "model": reply.model or body.get("model", "test-model"),
                "choices": choices if reply.choices else [],
                "usage": usage,
            }
        ).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                # The client may have timed out and left.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.rstrip("/") != "/v1/models":
                    self._send(404, b'{"error": {"message": "not found"}}', {})
                    return
                body = {"object": "list", "data": [{"id": "test-model", "object": "model"}]}
                self._send(200, json.dumps(body).encode(), {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, b'{"error": {"message": "not found"}}', {})
                    return
                body = json.loads(raw or b"{}")
                reply = server._next(body)
                with server._lock:
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                try:
                    if reply.delay:
                        server._closing.wait(reply.delay)
                    if reply.status != 200:
                        error = {"error": {"message": f"scripted {reply.status}", "type": "test"}}
                        payload = reply.raw if reply.raw is not None else json.dumps(error).encode()
                        self._send(reply.status, payload, reply.headers)
                        return
                    self._send(200, server._body(body, reply), reply.headers)
                finally:
                    server._done()

        return Handler


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A scripted OpenAI-compatible server for one test."""
    with ChatServer() as server:
        yield server
