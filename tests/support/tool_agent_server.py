"""A real OpenAI-compatible server on 127.0.0.1 whose agent answers with tool calls.

It plays every role of a run. A request that offers `tools` is the agent's: with no tool result
since the user's last message it calls two tools in parallel, the first offered tool with `{}`
and the same tool with arguments that are not JSON (the environment must answer that with its
own error observation); after tool results it writes a message to the user. Any other request is
the simulator's or the judge's, answered as the bench's in-process model answers them
(`shared.bench_suites.user_reply`): the user states a need and ends on its second turn with the
environment's stop token (the one its prompt names); helpers and the judge get one JSON object that satisfies all of them.
"""

from __future__ import annotations

import threading
from typing import Any

from shared.bench_suites import user_reply
from shared.local_servers import JsonHandler, LocalServer, completion

AGENT_TEXT = "I have checked that for you. Is there anything else I can do?"


def stop_token_of(messages: list[dict[str, Any]]) -> str:
    """The stop token the simulated user's prompt tells it to end with (Tau's or MultiWOZ's)."""
    system = messages[0]["content"] if messages and messages[0].get("role") == "system" else ""
    return "###STOP###" if "###STOP###" in system else "<END>"


def tool_call_reply(body: dict[str, Any], count: int) -> dict[str, Any]:
    messages = body.get("messages", [])
    since_user = []
    for message in reversed(messages):
        if message.get("role") == "user":
            break
        since_user.append(message)
    if any(m.get("role") == "tool" for m in since_user):
        return completion(AGENT_TEXT)
    name = body["tools"][0]["function"]["name"]
    calls = [
        {"id": f"call_{count}_a", "type": "function", "function": {"name": name, "arguments": "{}"}},
        {"id": f"call_{count}_b", "type": "function", "function": {"name": name, "arguments": "{not json"}},
    ]
    reply = completion(None)
    reply["choices"][0]["message"]["tool_calls"] = calls
    reply["choices"][0]["finish_reason"] = "tool_calls"
    return reply


class ToolAgentServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        lock = threading.Lock()
        server = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = self.read_json()
                with lock:
                    server.requests.append(body)
                    count = len(server.requests)
                messages = body.get("messages", [])
                if body.get("tools") and body.get("tool_choice") == "auto":
                    self.send_json(200, tool_call_reply(body, count))
                else:
                    self.send_json(200, completion(user_reply(messages, stop_token_of(messages))))

        self.httpd = LocalServer(("127.0.0.1", 0), Handler)
        self.base_url = self.httpd.url

    def __enter__(self) -> ToolAgentServer:
        self.httpd.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.close()
