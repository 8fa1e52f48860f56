"""A local OpenAI-compatible chat completions server for tests: scripted answers
on 127.0.0.1, so that litellm's real request path (HTTP, headers, JSON, retries
on 429 and 500) is exercised and no provider is ever reached.

    with ScriptedOpenAIServer(["first answer", Reply(status=429), "second"]) as server:
        litellm.completion(model="openai/scripted", api_base=server.url, api_key="x", ...)
        server.requests[0].json["messages"]

Each POST to ``/v1/chat/completions`` takes the next scripted item: a string is
the assistant's content, a :class:`Reply` can also fail with a status, be cut
off (``finish_reason="length"``) or wait first. With the script used up, the
``fallback`` callable (request JSON -> content) answers, else a 500 says the
script ran out. Every request is recorded (path, headers, JSON body).

Each POST to ``/v1/embeddings`` answers every input text with
:meth:`ScriptedOpenAIServer.vector_of` (deterministic, so tests can check
order); ``embedding_failures`` maps a text to the error statuses its first
requests get (``{"b": [500]}``: the first request holding "b" fails, the next
succeeds), whatever order the requests come in.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Reply:
    """One scripted answer: ``content`` with status 200, or an error ``status``
    (429, 500, ...) with an OpenAI-style error body."""

    content: str = ""
    status: int = 200
    finish_reason: str = "stop"
    delay: float = 0.0
    prompt_tokens: int = 120
    completion_tokens: int = 40


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    json: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.json.get("messages", []))

    @property
    def last_user_message(self) -> str:
        users = [m for m in self.messages if m.get("role") == "user"]
        return str(users[-1]["content"]) if users else ""


@dataclass
class ScriptedOpenAIServer:
    script: Iterable[str | Reply] = ()
    fallback: Callable[[dict[str, Any]], str] | None = None
    model_name: str = "scripted"
    requests: list[RecordedRequest] = field(default_factory=list)
    embedding_failures: dict[str, list[int]] = field(default_factory=dict)
    embedding_dimensions: int = 8

    def __post_init__(self) -> None:
        self._queue: deque[str | Reply] = deque(self.script)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # the script --------------------------------------------------------------------

    def add(self, *items: str | Reply) -> None:
        with self._lock:
            self._queue.extend(items)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._queue)

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            item = self._queue.popleft() if self._queue else None
        if item is None:
            if self.fallback is None:
                return Reply(status=500, content="the test server's script is used up")
            item = self.fallback(body)
        return item if isinstance(item, Reply) else Reply(content=item)

    # the server --------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start the server first"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The api_base to give litellm (with ``openai/<name>`` models)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedOpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"unparsable": raw.decode("utf-8", "replace")}
                with server._lock:
                    server.requests.append(RecordedRequest(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path.rstrip("/").endswith("/embeddings"):
                    self._send(*server._embeddings(body))
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}",
                                               "type": "invalid_request_error"}})
                    return
                reply = server._next(body)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status != 200:
                    self._send(reply.status, {"error": {
                        "message": reply.content or f"scripted status {reply.status}",
                        "type": "rate_limit_error" if reply.status == 429 else "server_error",
                        "code": str(reply.status)}})
                    return
                self._send(200, server._completion(body, reply))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name="scripted-openai-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model", self.model_name)),
            "choices": [{"index": 0, "finish_reason": reply.finish_reason,
                         "message": {"role": "assistant", "content": reply.content}}],
            "usage": {"prompt_tokens": reply.prompt_tokens,
                      "completion_tokens": reply.completion_tokens,
                      "total_tokens": reply.prompt_tokens + reply.completion_tokens},
        }

    # embeddings --------------------------------------------------------------------

    def vector_of(self, text: str) -> list[float]:
        """The vector this server gives ``text``: a function of the text alone."""
        import hashlib

        digest = hashlib.sha256(text.encode()).digest()
        return [round(digest[i] / 255, 4) for i in range(self.embedding_dimensions)]

    def _embeddings(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        raw = body.get("input", [])
        texts = [raw] if isinstance(raw, str) else [str(t) for t in raw]
        with self._lock:
            for text in texts:
                statuses = self.embedding_failures.get(text)
                if statuses:
                    status = statuses.pop(0)
                    return status, {"error": {"message": f"scripted status {status} for {text!r}",
                                              "type": "server_error", "code": str(status)}}
        tokens = sum(len(t.split()) for t in texts)
        vectors = [self.vector_of(t) for t in texts]
        if body.get("encoding_format") == "base64":
            import base64
            import struct

            data: list[Any] = [base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode()
                               for v in vectors]
        else:
            data = vectors
        return 200, {"object": "list", "model": str(body.get("model", self.model_name)),
                     "data": [{"object": "embedding", "index": i, "embedding": d}
                              for i, d in enumerate(data)],
                     "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def free_port() -> int:
    """A port nothing listens on (for connection-refused tests)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def openai_server() -> Iterator[ScriptedOpenAIServer]:
    """A started server with an empty script: ``openai_server.add(...)`` answers."""
    with ScriptedOpenAIServer() as server:
        yield server
