"""A real OpenAI-compatible server on 127.0.0.1 that answers from a recording of the original code.

The recording (`golden/usersim/original_requests_*.jsonl` in the data mirror) holds every request
the original simulator sent to a deterministic stub, and the stub's reply. This server answers a
request with the reply recorded for the same request; where the kit's request has no twin (the
random draws differ: persona, dialogue act, an outburst at p=0.5), with the reply recorded for the
closest request of the same kind (same function name for structured calls), so the dialogue goes
on the way the stub would have let it.

`canonical` removes the one difference that is not ours to remove: the original builds goal items
with `list(set(...))`, so their order follows the process's string-hash seed; numbered item lists
and Python lists of strings are compared as sets.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import threading
from pathlib import Path
from typing import Any

from shared.local_servers import JsonHandler, LocalServer, completion

_NUMBERED = re.compile(r"(?:^\s*\d+\. .*\n?)+", re.MULTILINE)
_STRINGS = re.compile(r"\[(?:'[^'\n]*'(?:, )?)+\]")


def canonical(text: str) -> str:
    text = _NUMBERED.sub(lambda m: "".join(sorted(re.sub(r"^\s*\d+\. ", "", line) + "\n" for line in m.group(0).splitlines())), text)
    return _STRINGS.sub(lambda m: repr(sorted(ast.literal_eval(m.group(0)))), text)


def function_of(body: dict[str, Any]) -> dict[str, Any] | None:
    """The function spec a request forces: legacy `functions` (the original) or `tools` (the kit)."""
    if body.get("functions"):
        return dict(body["functions"][0])
    if body.get("tools"):
        return dict(body["tools"][0]["function"])
    return None


def request_key(body: dict[str, Any]) -> str:
    """What must be byte-identical (after `canonical`): messages (role, content), model, temperature, function spec."""
    messages = [{"role": m["role"], "content": canonical(m["content"])} for m in body["messages"]]
    temperature = body.get("temperature")  # the original wrote 1 and 0, the kit 1.0 and 0.0: the same value
    return json.dumps([messages, body.get("model"), None if temperature is None else float(temperature), function_of(body)], sort_keys=True)


def dialogues(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split a log into dialogues: each starts with its first user-simulator request (the base user
    call with only the system prompt and the greeting), or with the set-up call before it."""
    out: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for row in rows:
        first_user = row["kind"] == "user" and len(row["body"]["messages"]) == 2
        setup = row["kind"] in ("unavailable_service", "pbus_topic")
        after_setup = bool(current) and current[-1]["kind"] in ("unavailable_service", "pbus_topic")
        if (setup or (first_user and not after_setup)) and current:
            out.append(current)
            current = []
        current.append(row)
    if current:
        out.append(current)
    return out


class GoldenReplayServer:
    def __init__(self, recording: Path) -> None:
        self.rows = [json.loads(line) for line in recording.read_text().splitlines() if line.strip()]
        self.exact = {request_key(r["body"]): r for r in self.rows}
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                self.send_json(200, {"data": [{"id": "golden", "object": "model"}]})

            def do_POST(self) -> None:
                body = self.read_json()
                row = server.answer_for(body)
                with server.lock:
                    server.requests.append({"kind": row["kind"], "body": body})
                payload = completion(None, body.get("model"))
                message = dict(row["reply"])
                if function_of(body) is not None and "function_call" in message:  # recorded as a legacy call
                    call = message.pop("function_call")
                    message["tool_calls"] = [{"id": "call_golden", "type": "function", "function": call}]
                payload["choices"][0]["message"] = message
                self.send_json(200, payload)

        self.server = LocalServer(("127.0.0.1", 0), Handler)

    def answer_for(self, body: dict[str, Any]) -> dict[str, Any]:
        hit = self.exact.get(request_key(body))
        if hit is not None:
            return hit
        function = function_of(body)
        if function is not None:
            same = [r for r in self.rows if (function_of(r["body"]) or {}).get("name") == function["name"]]
            if same:
                return same[0]
        text = json.dumps(body["messages"])
        shape = [r for r in self.rows if function_of(r["body"]) is None and len(r["body"]["messages"]) == len(body["messages"])]
        candidates = shape or [r for r in self.rows if function_of(r["body"]) is None]
        return max(candidates, key=lambda r: difflib.SequenceMatcher(None, json.dumps(r["body"]["messages"]), text).quick_ratio())

    def __enter__(self) -> GoldenReplayServer:
        self.url = self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()
