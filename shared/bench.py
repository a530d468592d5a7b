"""`make bench`: throughput of the runner against a model server that answers after a fixed delay.

A local OpenAI-compatible server on 127.0.0.1 plays every role (agent, user, helpers, judge) with
deterministic replies after `delay` seconds. Every call of a dialogue waits for the previous one,
so with unbounded concurrency the ideal wall time is the longest dialogue's chain of calls times
the delay; the report gives dialogues per second and wall time / ideal (1.0 is perfect overlap).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from shared.files import read_json, write_json_atomic
from shared.paths import results_dir

HELPER_REPLY = json.dumps({"result": True, "thought": "t", "utterance": "ok", "reasoning": "r", "selected_numbers": list(range(1, 31))})
AGENT_REPLY = '- Thought: the user is served\n- Action: Talk("Everything is booked.")'


def scripted_reply(body: dict[str, Any]) -> str:
    messages = body.get("messages", [])
    system = messages[0]["content"] if messages and messages[0].get("role") == "system" else ""
    if "# Dialogue history:" in system:
        return AGENT_REPLY
    if "Instruction:" in system:  # the simulated user: give the goal, then end
        said = sum(1 for m in messages if m.get("role") == "assistant")
        return "I need a hotel and a restaurant, please." if said == 0 else "Thank you, that is all. <END>"
    return HELPER_REPLY


class DelayedServer:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.requests = 0
        lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with lock:
                    server.requests += 1
                time.sleep(server.delay)
                payload = {
                    "id": "bench",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model", "bench"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": scripted_reply(body)}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                }
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 1024
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _serve(delay: float, port_out: Any) -> None:
    server = DelayedServer(delay)
    port_out.send(server.url)
    threading.Event().wait()


class ServerProcess:
    """The delayed server in its own process, so its threads do not compete with the runner for the GIL."""

    def __init__(self, delay: float) -> None:
        import multiprocessing

        parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("fork").Process(target=_serve, args=(delay, child), daemon=True)
        self.process.start()
        self.url = parent.recv()

    def close(self) -> None:
        self.process.terminate()
        self.process.join(5)


def run_bench(dialogues: int = 40, delay: float = 0.2, out: Path | None = None) -> dict[str, Any]:
    from shared.runner import Runner, RunPlan
    from shared.usersim import Behaviors

    out = out or results_dir() / "bench"
    work = out / "runner-dialogues"
    if work.exists():
        import shutil

        shutil.rmtree(work)
    server = ServerProcess(delay)
    os.environ["NCUSIM_ENDPOINT_CONCURRENCY"] = str(4 * dialogues)  # "unbounded" for the ideal
    os.environ["NCUSIM_LLM_CACHE"] = "0"
    spec = f"{server.url}#bench"
    n = 4
    plan = RunPlan(
        env="multiwoz",
        models=[spec],
        behaviors=[Behaviors.parse("normal")],
        n=n,
        limit=max(1, dialogues // n),
        user_model=spec,
        judge_model=spec,
        attempts=1,
        concurrency=dialogues,
        results=work,
    )
    runner = Runner(plan, echo=lambda line: None)
    started = time.monotonic()
    asyncio.run(runner.run())
    wall = time.monotonic() - started
    chains = [read_json(p)["total"]["calls"] for p in work.rglob("usage.json")]
    server.close()
    ideal = max(chains) * delay
    report = {
        "dialogues": len(chains),
        "delay_s": delay,
        "requests": sum(chains),
        "calls_per_dialogue": {"min": min(chains), "max": max(chains)},
        "wall_s": round(wall, 3),
        "ideal_s": round(ideal, 3),
        "wall_over_ideal": round(wall / ideal, 3),
        "dialogues_per_s": round(len(chains) / wall, 2),
    }
    write_json_atomic(out / "runner.json", report)
    return report
