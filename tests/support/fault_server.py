"""An OpenAI-compatible server on 127.0.0.1 that plays every role of a MultiWOZ dialogue and injects
the faults real model endpoints produce, at seeded, configurable rates.

Replies come from `shared.local_servers.scripted_reply` (agent Talk, simulated user, helper/judge JSON).
Each request draws at most one fault kind (see `KINDS`) from a seeded `random.Random`:

  rate_limit      429 with `Retry-After`
  http_500        500
  http_503        503
  timeout         holds the request longer than the client's call timeout, then answers
  drop            closes the connection without a response
  empty_choices   200 with `"choices": []`
  empty_content   200 with a choice whose content is "" or null
  truncated_json  200 whose JSON body is cut in half
  non_json        200 with prose where JSON was asked (`response_format` or `tools` in the body, or the
                  last user message asks for a JSON object); other requests never draw it

Faults are bounded per logical call: requests with the same body (a structured call's re-asks
count as the same body) receive at most `max_faults_per_call` faults over the server's life, so a
client with more retries than that always gets through; which requests get faults still depends
on arrival order (`cover_every_kind` makes the first faults one of each kind). Requests whose text
contains `fail_marker` always get 503 (every call of that dialogue fails), with the caller's
Authorization header echoed in the body, as careless proxies do.

The server runs in its own process (`FaultServerProcess`) so its threads do not compete with the
runner for the GIL. `GET /stats` returns the counters (requests, injected faults per kind and per
role, forced failures); `POST /control` replaces the rates and the marker (e.g. to heal it).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import random
import socket
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from shared.local_servers import JsonHandler, LocalServer, completion, scripted_reply

KINDS = (
    "rate_limit",
    "http_500",
    "http_503",
    "timeout",
    "drop",
    "empty_choices",
    "empty_content",
    "truncated_json",
    "non_json",
)
# Faults the model layer retries itself (one retry each); `non_json` is re-asked by `structured()`.
TRANSPORT_KINDS = tuple(k for k in KINDS if k != "non_json")
REASK = "That reply was not valid"  # how shared.llm.base.BaseChatModel.structured re-asks
NON_JSON_TEXT = "I am sorry, but I would rather explain this in plain words than in any particular format."


@dataclass
class FaultConfig:
    rates: dict[str, float] = field(default_factory=dict)  # kind -> probability per request
    seed: int = 0
    retry_after: str = "1"  # seconds, as the 429's Retry-After header says it
    hold_seconds: float = 3.0  # how long a `timeout` fault holds the request
    max_faults_per_call: int = 2
    fail_marker: str | None = None
    # Until every kind with a rate has been injected once, a drawn fault becomes the first kind
    # still missing that the request can take: a short run covers every kind for sure.
    cover_every_kind: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.rates) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}: choose from {KINDS}")
        if sum(self.rates.values()) > 1:
            raise ValueError("fault rates add up to more than 1")


def role_of(body: dict[str, Any]) -> str:
    """Which dialogue role sent the request (the same test `scripted_reply` uses)."""
    messages = body.get("messages", [])
    system = messages[0].get("content", "") if messages and messages[0].get("role") == "system" else ""
    if "# Dialogue history:" in system:
        return "agent"
    if "Instruction:" in system:
        return "user"
    return "helper"  # the simulator's helpers and the judge


def asks_json(body: dict[str, Any]) -> bool:
    if "response_format" in body or "tools" in body:  # a forced tool call (paper mode) wants JSON arguments
        return True
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return bool(users) and "JSON object" in str(users[-1].get("content", ""))


def call_key(body: dict[str, Any]) -> str:
    """The same for a request, its transport retries and its structured re-asks."""
    messages = list(body.get("messages", []))
    while len(messages) >= 2 and messages[-1].get("role") == "user" and str(messages[-1].get("content", "")).startswith(REASK):
        messages = messages[:-2]
    text = json.dumps({"model": body.get("model"), "messages": messages}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class FaultServer:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.lock = threading.Lock()
        self.requests = 0
        self.injected: Counter[str] = Counter()
        self.injected_by_role: dict[str, Counter[str]] = {}
        self.forced = 0
        self.faults_per_call: Counter[str] = Counter()
        server = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                self.send_json(200, json.dumps(server.stats()).encode())

            def do_POST(self) -> None:
                body = self.read_json()
                if self.path.endswith("/control"):
                    server.control(body)
                    self.send_json(200, b'{"ok": true}')
                    return
                kind = server.decide(body)
                try:
                    self._answer(kind, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (timeout faults)

            def _answer(self, kind: str | None, body: dict[str, Any]) -> None:
                error = {"error": {"message": f"injected {kind}", "type": "server_error"}}
                if kind == "forced":
                    echoed = {"error": {"message": f"overloaded (request carried {self.headers.get('Authorization')})"}}
                    self.send_json(503, json.dumps(echoed).encode())
                elif kind == "rate_limit":
                    self.send_json(429, json.dumps(error).encode(), {"Retry-After": server.config.retry_after})
                elif kind in ("http_500", "http_503"):
                    self.send_json(int(kind[-3:]), json.dumps(error).encode())
                elif kind == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                else:
                    if kind == "timeout":
                        time.sleep(server.config.hold_seconds)
                    text = NON_JSON_TEXT if kind == "non_json" else scripted_reply(body)
                    payload = completion(text, body.get("model", "fault"))
                    if kind == "empty_choices":
                        payload["choices"] = []
                    elif kind == "empty_content":
                        payload["choices"][0]["message"]["content"] = server.pick_empty()
                    data = json.dumps(payload).encode()
                    self.send_json(200, data[: len(data) // 2] if kind == "truncated_json" else data)

        self.httpd = LocalServer(("127.0.0.1", 0), Handler)
        self.url = self.httpd.start()

    def decide(self, body: dict[str, Any]) -> str | None:
        """The fault this request gets (None: a good answer), counted."""
        config = self.config
        role = role_of(body)
        with self.lock:
            self.requests += 1
            marker = config.fail_marker
            if marker and any(marker in str(m.get("content", "")) for m in body.get("messages", [])):
                self.forced += 1
                return "forced"
            key = call_key(body)
            if self.faults_per_call[key] >= config.max_faults_per_call:
                return None
            draw = self.rng.random()
            eligible = [k for k in KINDS if k != "non_json" or asks_json(body)]
            for kind in eligible:
                draw -= config.rates.get(kind, 0.0)
                if draw < 0:
                    missing = [k for k in eligible if config.rates.get(k) and not self.injected[k]]
                    if config.cover_every_kind and missing:
                        kind = missing[0]
                    self.faults_per_call[key] += 1
                    self.injected[kind] += 1
                    self.injected_by_role.setdefault(role, Counter())[kind] += 1
                    return kind
            return None

    def pick_empty(self) -> str | None:
        with self.lock:
            return self.rng.choice(["", None])

    def control(self, change: dict[str, Any]) -> None:
        with self.lock:
            current = asdict(self.config)
            current.update({k: v for k, v in change.items() if k in current})
            self.config = FaultConfig(**current)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "injected": {kind: self.injected[kind] for kind in KINDS},
                "injected_by_role": {role: dict(c) for role, c in self.injected_by_role.items()},
                "forced": self.forced,
            }

    def close(self) -> None:
        self.httpd.close()


def _serve(config: FaultConfig, url_out: Any) -> None:
    server = FaultServer(config)
    url_out.send(server.url)
    threading.Event().wait()


class FaultServerProcess:
    """The fault server in a process of its own; `stats()` and `control()` talk to it over HTTP."""

    def __init__(self, config: FaultConfig) -> None:
        parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("fork").Process(target=_serve, args=(config, child), daemon=True)
        self.process.start()
        if not parent.poll(30):
            self.process.kill()
            raise RuntimeError("the fault server did not start")
        self.url: str = parent.recv()

    def spec(self, model: str = "fault") -> str:
        return f"{self.url}#{model}"

    def _request(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.url + path, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            result: dict[str, Any] = json.loads(response.read())
        return result

    def stats(self) -> dict[str, Any]:
        return self._request("/stats")

    def control(self, **change: Any) -> None:
        self._request("/control", change)

    def close(self) -> None:
        self.process.terminate()
        self.process.join(5)

    def __enter__(self) -> FaultServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
