"""`make bench`: the kit's own costs, measured as ratios in one run (absolute times are noisy).

The kit's suites (each writes `results/bench/<suite>.json`):
- `harness`: the full test grids of the kit's environments (N runs of every test scenario) with
  zero-latency in-process models: wall time, CPU time and peak memory per dialogue, i.e. what the
  runner, simulator, environment and grader cost on their own.
- `latency`: a local server answering every call after a fixed delay, with dialogues as long as the
  published ones (8 user turns), at concurrency 1, 8, 64 and unbounded: wall time / ideal (the
  ideal is the longest chain of calls times the delay per wave) and the event-loop CPU per call.
- `http`: the HTTP clients side by side (the kit's aiohttp transport, httpx, the openai SDK where
  installed) against one local server: CPU per request and wall / ideal at 64 in flight.
- `economy`: model calls and tokens per user turn for each behaviour (helpers included) and the
  disk-cache hit rate when a run is resumed after losing half of its dialogues.
Environments add their own (`Environment.bench_suites`): MultiWOZ's `multiwoz-api` (an API call
in process against the original's subprocess per call) and `regrade`, Tau's `tau-db`.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from shared.files import read_json, write_json_atomic
from shared.llm.base import BaseChatModel, Completion, Message
from shared.local_servers import ServerProcess
from shared.paths import results_dir
from shared.usersim.config import PAPER_BEHAVIORS

# One JSON answer that satisfies every structured helper and the judge (extra keys are ignored).
HELPER_REPLY = json.dumps(
    {
        "result": True,
        "thought": "t",
        "reasoning": "r",
        "utterance": "By the way, I love sailing.",
        "utterances": ["You ignored what I said about sailing."] * 5,
        "selected_numbers": list(range(1, 31)),
        "unavailable_user_goals": ["You want a sea view.", "You want a parrot.", "You want a helipad."],
    }
)


def user_reply(messages: Sequence[Message], stop_token: str) -> str:
    """The simulated user's (its prompt has an `Instruction:` section) or a helper's answer: the user
    states a need, then ends with `stop_token`; helpers and the judge get HELPER_REPLY."""
    system = messages[0]["content"] if messages and messages[0].get("role") == "system" else ""
    if "Instruction:" in system:
        said = sum(1 for m in messages if m.get("role") == "assistant")
        return "I need help with my booking, please." if said == 0 else f"Thank you, that is all. {stop_token}"
    return HELPER_REPLY


class RuleModel(BaseChatModel):
    """Zero-latency in-process model (cacheable, so the cache can be measured): the agent's answers
    with `reply(messages)`."""

    backend = "rule"

    def __init__(self, spec: str, reply: Callable[[Sequence[Message]], str], **kw: Any) -> None:
        super().__init__(spec, "rule", "rule:in-process", **kw)
        self.reply = reply

    async def _complete(self, messages: list[Message], params: dict[str, Any]) -> Completion:
        text = self.reply(messages)
        return Completion(text, sum(len(str(m.get("content", "")).split()) for m in messages), len(text.split()), "stop")


def _plan(env: str, work: Path, n: int, behaviors: Sequence[str] = ("normal",), limit: int | None = None, concurrency: int = 64) -> Any:
    from shared.runner import RunPlan
    from shared.usersim import Behaviors

    return RunPlan(
        env=env,
        models=["rule:agent"],
        behaviors=[Behaviors.parse(b) for b in behaviors],
        n=n,
        limit=limit,
        user_model="rule:user",
        judge_model="rule:judge",
        attempts=1,
        concurrency=concurrency,
        results=work,
    )


def _run(plan: Any, cache: Any = None) -> Any:
    from shared import environment
    from shared.runner import Runner

    env = environment.get(plan.env)
    agent_reply, stop = env.scripted_agent_reply, env.user_profile.stop_token
    runner = Runner(plan, echo=lambda line: None)
    replies: dict[str, Callable[[Sequence[Message]], str]] = {
        "rule:agent": lambda messages: agent_reply,
        "rule:user": lambda messages: user_reply(messages, stop),
        "rule:judge": lambda messages: HELPER_REPLY,
    }
    for spec, reply in replies.items():
        runner._models[spec] = RuleModel(spec, reply, cache=cache)  # in-process models; resolve() never sees `rule:`
    asyncio.run(runner.run())
    return runner


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_harness(n: int = 4, envs: Sequence[str] | None = None, limit: int | None = None) -> dict[str, Any]:
    from shared import environment

    out: dict[str, Any] = {"n": n}
    for env in envs or environment.BUILTIN:
        work = results_dir() / "bench" / f"harness-{env}"
        shutil.rmtree(work, ignore_errors=True)
        plan = _plan(env, work, n, limit=limit)
        wall, cpu = time.monotonic(), time.process_time()
        runner = _run(plan)
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        dialogues = sum(p.done for p in runner.progress.values())
        out[env] = {
            "dialogues": dialogues,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "wall_ms_per_dialogue": round(wall / max(dialogues, 1) * 1000, 1),
            "cpu_ms_per_dialogue": round(cpu / max(dialogues, 1) * 1000, 1),
            "peak_rss_mb": round(_peak_rss_mb(), 1),
            "model_calls": runner.ledger.total().calls,
        }
        shutil.rmtree(work, ignore_errors=True)
    return out


def bench_latency(
    delay: float = 0.5,
    dialogues: int = 64,
    levels: Sequence[int | None] = (1, 8, 64, None),
    user_turns: int = 8,
    serial_dialogues: int = 8,
) -> dict[str, Any]:
    """Wall / ideal at each concurrency; ideal = sum over waves of the wave's longest chain x delay.

    Concurrency 1 runs `serial_dialogues` of them (its ratio does not depend on how many, and all
    64 end to end would take most of an hour). `loop_ms_per_call` is the event loop's CPU time (the
    main thread's) per model call: what a wave of concurrent replies queues behind.
    `process_ms_per_call` adds the worker threads (dialogue setup, grading, file writes: mostly
    the kernel's file creation, which runs without the GIL, beside the loop).
    """
    from shared import environment

    env = environment.get(environment.DEFAULT)
    server = ServerProcess(delay, user_turns, env.scripted_agent_reply, env.user_profile.stop_token)
    os.environ["NCUSIM_ENDPOINT_CONCURRENCY"] = str(4 * dialogues)
    os.environ["NCUSIM_LLM_CACHE"] = "0"
    agent, spec = f"{server.url}#agent", f"{server.url}#bench"  # the server tells the agent by its model name
    rows = []
    try:
        for level in levels:
            count = min(dialogues, serial_dialogues) if level == 1 else dialogues
            work = results_dir() / "bench" / f"latency-{level or 'unbounded'}"
            shutil.rmtree(work, ignore_errors=True)
            from shared.runner import Runner, RunPlan
            from shared.usersim import Behaviors

            plan = RunPlan(
                env=environment.DEFAULT,
                models=[agent],
                behaviors=[Behaviors.parse("normal")],
                n=4,
                limit=max(1, math.ceil(count / 4)),
                user_model=spec,
                judge_model=spec,
                attempts=1,
                concurrency=level or count,
                results=work,
            )
            started, cpu, loop = time.monotonic(), time.process_time(), time.thread_time()
            asyncio.run(Runner(plan, echo=lambda line: None).run())
            wall, cpu, loop = time.monotonic() - started, time.process_time() - cpu, time.thread_time() - loop
            chains = sorted((read_json(p)["total"]["calls"] for p in work.rglob("usage.json")), reverse=True)
            width = level or len(chains)
            ideal = sum(max(chains[i : i + width]) for i in range(0, len(chains), width)) * delay
            rows.append({"concurrency": level or "unbounded", "dialogues": len(chains),
                         "calls_per_dialogue": round(sum(chains) / len(chains), 1), "wall_s": round(wall, 2),
                         "ideal_s": round(ideal, 2), "wall_over_ideal": round(wall / ideal, 3),
                         "loop_ms_per_call": round(1000 * loop / sum(chains), 2),
                         "process_ms_per_call": round(1000 * cpu / sum(chains), 2)})  # fmt: skip
            shutil.rmtree(work, ignore_errors=True)
    finally:
        server.close()
    return {"delay_s": delay, "user_turns": user_turns, "levels": rows}


BENCH_BODY = json.dumps(
    {
        "model": "bench",
        "messages": [{"role": "system", "content": "Instruction: " + "a long prompt " * 300}, {"role": "user", "content": "hi"}],
    }
).encode()


def _http_clients() -> dict[str, Callable[[str], Any]]:
    """Client name -> factory of (post(body) coroutine function, close coroutine function)."""
    import httpx

    from shared.llm.http_transport import HttpTransport

    def kit(url: str) -> Any:
        transport = HttpTransport()
        return (lambda: transport.post(f"{url}/chat/completions", BENCH_BODY, {"Content-Type": "application/json"}), transport.aclose)

    def plain_httpx(url: str) -> Any:
        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100))

        async def post() -> bytes:
            response = await client.post(f"{url}/chat/completions", content=BENCH_BODY, headers={"Content-Type": "application/json"})
            return response.content

        return post, client.aclose

    clients: dict[str, Callable[[str], Any]] = {"aiohttp (the kit's http_transport)": kit, "httpx": plain_httpx}
    try:
        import openai
    except ImportError:  # not a dependency of the kit; measured where installed (transformers[serving] brings it)
        return clients

    def sdk(url: str) -> Any:
        client = openai.AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)
        messages = json.loads(BENCH_BODY)["messages"]
        return (lambda: client.chat.completions.create(model="bench", messages=messages), client.close)

    return clients | {f"openai SDK {openai.__version__}": sdk}


def bench_http(requests: int = 1920, concurrency: int = 64, delay: float = 0.5) -> dict[str, Any]:
    """The HTTP clients side by side against one local server: CPU per request with instant replies
    (what a wave of replies queues behind on the event loop) and wall / ideal with `delay` per reply."""

    async def drive(make: Callable[[str], Any], url: str, count: int) -> tuple[float, float]:
        post, close = make(url)
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                await post()

        await asyncio.gather(*(one() for _ in range(concurrency)))  # connections opened, outside the numbers
        started, cpu = time.monotonic(), time.process_time()
        await asyncio.gather(*(one() for _ in range(count)))
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
        await close()
        return wall, cpu

    rows = []
    instant, delayed = ServerProcess(0.0), ServerProcess(delay)
    try:
        for name, make in _http_clients().items():
            _, cpu = asyncio.run(drive(make, instant.url, requests))
            waves = 10
            wall, _ = asyncio.run(drive(make, delayed.url, waves * concurrency))
            rows.append({"client": name, "cpu_ms_per_request": round(1000 * cpu / requests, 3),
                         "wall_over_ideal": round(wall / (waves * delay), 3)})  # fmt: skip
    finally:
        instant.close()
        delayed.close()
    return {"requests": requests, "concurrency": concurrency, "delay_s": delay, "clients": rows}


def bench_economy(scenarios: int = 10) -> dict[str, Any]:
    from shared import environment
    from shared.llm.cache import DiskCache

    rows = {}
    for behaviour in PAPER_BEHAVIORS:
        work = results_dir() / "bench" / f"economy-{behaviour}"
        shutil.rmtree(work, ignore_errors=True)
        runner = _run(_plan(environment.DEFAULT, work, 1, [behaviour], limit=scenarios))
        # A user turn is every other turn; a failed dialogue would leave no stats and be missed.
        turns = max(sum(read_json(p)["n_turn"] for p in work.rglob("dialogue_stats.json")) / 2, 1)
        failed = sum(p.failed for p in runner.progress.values())
        by_role = runner.ledger.to_dict()["by_role"]
        rows[behaviour] = {"failed_dialogues": failed} | {
            role: {"calls_per_user_turn": round(u["calls"] / turns, 2), "tokens_per_user_turn": round(
                (u["prompt_tokens"] + u["completion_tokens"]) / turns, 1)} for role, u in by_role.items()
        }  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)
    # Cache on a resumed run: lose half the dialogues (as a kill would), rerun, count cache hits.
    work = results_dir() / "bench" / "economy-resume"
    shutil.rmtree(work, ignore_errors=True)
    cache = DiskCache(work / "cache")
    plan = _plan(environment.DEFAULT, work / "runs", 2, ["tangential"], limit=scenarios)
    _run(plan, cache=cache)
    lost = sorted(p.parent for p in (work / "runs").rglob("grading_result.json"))[::2]
    for folder in lost:
        shutil.rmtree(folder)
    resumed = _run(plan, cache=cache)
    total = resumed.ledger.total()
    shutil.rmtree(work, ignore_errors=True)
    return {"per_behaviour": rows, "resume": {"dialogues_rerun": len(lost), "calls": total.calls, "cached_calls": total.cached_calls,
                                              "hit_rate": round(total.cached_calls / max(total.calls, 1), 3)}}  # fmt: skip


SUITES: dict[str, Callable[[], dict[str, Any]]] = {
    "harness": bench_harness,
    "latency": bench_latency,
    "http": bench_http,
    "economy": bench_economy,
}


def environment_suites() -> dict[str, tuple[str, str]]:
    """Suite name -> (environment, `module:function`) for the suites the environments add."""
    from shared import environment

    out: dict[str, tuple[str, str]] = {}
    for name in environment.names():
        for suite, target in environment.get(name).bench_suites.items():
            out.setdefault(suite, (name, target))
    return out


def suite_names() -> list[str]:
    return [*SUITES, *environment_suites()]


def data_needed(suite: str) -> list[str]:
    """The environments whose fetched data a suite reads (`ncusim bench` checks them first)."""
    from shared import environment

    if suite == "harness":
        return list(environment.BUILTIN)
    if suite in ("latency", "economy"):
        return [environment.DEFAULT]
    added = environment_suites().get(suite)
    return [added[0]] if added else []


def run_suites(
    names: Sequence[str], echo: Callable[[str], None] = print, overrides: dict[str, Callable[[], dict[str, Any]]] | None = None
) -> dict[str, Any]:
    from shared import environment

    added = {name: environment.load_target(target, f"bench suite {name!r}") for name, (_env, target) in environment_suites().items()}
    suites: dict[str, Callable[[], dict[str, Any]]] = {**SUITES, **added, **(overrides or {})}
    reports = {}
    for name in names:
        started = time.monotonic()
        report = suites[name]()
        report["bench_seconds"] = round(time.monotonic() - started, 1)
        write_json_atomic(results_dir() / "bench" / f"{name}.json", report)
        echo(f"{name}: {json.dumps(report)}")
        reports[name] = report
    return reports
