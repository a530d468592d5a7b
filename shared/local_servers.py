"""The fixed-delay model server of `make bench` (latency suite) and of the reliability tests.

A local OpenAI-compatible server on 127.0.0.1 plays every role (agent, user, helpers, judge) with
deterministic replies after `delay` seconds. The simulated user talks for `user_turns` turns and
then ends, so a dialogue's chain of calls can be as long as the published dialogues' (about 8
user turns); the server runs in its own process so that its threads do not compete with the
runner for the GIL.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HELPER_REPLY = json.dumps({"result": True, "thought": "t", "utterance": "ok", "reasoning": "r", "selected_numbers": list(range(1, 31))})
AGENT_REPLY = '- Thought: the user is served\n- Action: Talk("Everything is booked.")'


def scripted_reply(body: dict[str, Any], user_turns: int = 1, agent_reply: str = AGENT_REPLY, stop_token: str = "<END>") -> str:
    """The reply for one request. The agent is the request for model `agent`, or, for servers whose
    clients name no roles, one with the MultiWOZ agent's prompt; the simulated user's prompt has an
    `Instruction:` section; anything else is a helper or the judge."""
    messages = body.get("messages", [])
    system = messages[0]["content"] if messages and messages[0].get("role") == "system" else ""
    if body.get("model") == "agent" or "# Dialogue history:" in system:
        return agent_reply
    if "Instruction:" in system:  # the simulated user: give the goal (user_turns - 1 times), then end
        said = sum(1 for m in messages if m.get("role") == "assistant")
        if said == 0:
            return "I need a hotel and a restaurant, please."
        return f"Could you also check option {said + 1}, please?" if said < user_turns - 1 else f"Thank you, that is all. {stop_token}"
    return HELPER_REPLY


class LocalServer(ThreadingHTTPServer):
    """The kit's local test and bench servers. The listen backlog is read when the socket starts
    listening (in the constructor), hence a class attribute: the default 5 dropped connections of a
    64-dialogue wave, and each drop cost a 1 s SYN retransmit."""

    request_queue_size = 1024
    daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def start(self) -> str:
        """Serve from a daemon thread; returns the /v1 base URL."""
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self.url

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class JsonHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive JSON handler: no request log, and no Nagle (headers and body are two
    writes, and Nagle + delayed ACK made every reply wait 40 ms)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        """A health answer (what preflight checks and `/health` polls see); servers override it."""
        self.send_json(200, b'{"status":"ok"}')

    def read_json(self) -> Any:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

    def send_json(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        """`payload` as JSON, or as it is when it is bytes already."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def completion(text: str | None, model: Any = "bench") -> dict[str, Any]:
    """A chat.completion body with one choice."""
    return {
        "id": "bench",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


class DelayedServer:
    def __init__(self, delay: float, user_turns: int = 1, agent_reply: str = AGENT_REPLY, stop_token: str = "<END>") -> None:
        self.delay = delay
        self.user_turns = user_turns
        self.requests = 0
        lock = threading.Lock()
        server = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = self.read_json()
                with lock:
                    server.requests += 1
                time.sleep(server.delay)
                reply = scripted_reply(body, server.user_turns, agent_reply, stop_token)
                self.send_json(200, completion(reply, body.get("model", "bench")))

        self.httpd = LocalServer(("127.0.0.1", 0), Handler)
        self.url = self.httpd.start()

    def close(self) -> None:
        self.httpd.close()


def _serve(delay: float, user_turns: int, agent_reply: str, stop_token: str, port_out: Any) -> None:
    server = DelayedServer(delay, user_turns, agent_reply, stop_token)
    port_out.send(server.url)
    threading.Event().wait()


class ServerProcess:
    """The delayed server in its own process, so its threads do not compete with the runner for the GIL."""

    def __init__(self, delay: float, user_turns: int = 1, agent_reply: str = AGENT_REPLY, stop_token: str = "<END>") -> None:
        import multiprocessing

        parent, child = multiprocessing.Pipe()
        args = (delay, user_turns, agent_reply, stop_token, child)
        self.process = multiprocessing.get_context("fork").Process(target=_serve, args=args, daemon=True)
        self.process.start()
        self.url = parent.recv()

    def close(self) -> None:
        self.process.terminate()
        self.process.join(5)
