"""A real OpenAI-compatible HTTP server on 127.0.0.1 whose answers a test scripts in advance.

It speaks `/v1/chat/completions` and `/health` over real sockets, so the client code under test
(openai SDK, retries, limits, cache) runs exactly as against a remote endpoint. Scripted steps:
  ("reply", text)                     a normal completion
  ("status", code, headers, body)     an HTTP error (e.g. 429 with Retry-After, 500, 401)
  ("empty",)                          200 with no choices
  ("garbage",)                        200 with a body that is not JSON
  ("drop",)                           close the connection without answering
  ("sleep", seconds, text)            answer after a delay
With no step left it echoes the last user message.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from typing import Any

from shared.local_servers import JsonHandler, LocalServer


class ScriptedOpenAIServer:
    def __init__(self) -> None:
        self.steps: deque[tuple[Any, ...]] = deque()
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = self.read_json()
                with server._lock:
                    server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                    step = server.steps.popleft() if server.steps else None
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(step, body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, step: tuple[Any, ...] | None, body: dict[str, Any]) -> None:
                if step is None:
                    last = [m for m in body.get("messages", []) if m.get("role") == "user"]
                    step = ("reply", "echo: " + (last[-1]["content"] if last else ""))
                kind = step[0]
                if kind == "sleep":
                    time.sleep(step[1])
                    step = ("reply", step[2])
                    kind = "reply"
                if kind == "reply":
                    payload = {
                        "id": "cmpl-1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "m"),
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": step[1]}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
                    }
                    self.send_json(200, json.dumps(payload).encode())
                elif kind == "status":
                    self.send_json(step[1], json.dumps(step[3] if len(step) > 3 else {"error": {"message": "scripted"}}).encode(), step[2])
                elif kind == "empty":
                    payload = {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
                    self.send_json(200, json.dumps(payload).encode())
                elif kind == "garbage":
                    self.send_json(200, b"<html>bad gateway</html>")
                elif kind == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True

        self.httpd = LocalServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.base_url = self.httpd.url

    def script(self, *steps: tuple[Any, ...]) -> None:
        self.steps.extend(steps)

    def __enter__(self) -> ScriptedOpenAIServer:
        self.httpd.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
