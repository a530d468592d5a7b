"""`make bench`: the kit's own costs, measured as ratios in one run (absolute times are noisy).

Suites (each writes `results/bench/<suite>.json`):
- `harness`: the full test grids (MultiWOZ 89 x N, Tau 157 x N) with zero-latency in-process
  models: wall time, CPU time and peak memory per dialogue, i.e. what the runner, simulator,
  sandbox and graders cost on their own; plus one MultiWOZ API call in process versus the
  original's design of one Python subprocess per call (the ratio).
- `latency`: a local server answering every call after a fixed delay, with dialogues as long as the
  published ones (8 user turns), at concurrency 1, 8, 64 and unbounded: wall time / ideal (the
  ideal is the longest chain of calls times the delay per wave) and the event-loop CPU per call.
- `http`: the HTTP clients side by side (the kit's aiohttp transport, httpx, the openai SDK where
  installed) against one local server: CPU per request and wall / ideal at 64 in flight.
- `regrade`: re-grading throughput over the reference dialogues replicated (hard links) to many folders.
- `tau-db`: Tau's reward with the episode DB's incremental hash against v1's whole-DB way (CPU per
  reward, as a ratio), and both hashes and rewards compared on 628 scripted trajectories.
- `economy`: model calls and tokens per user turn for each behaviour (helpers included) and the
  disk-cache hit rate when a run is resumed after losing half of its dialogues.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from shared.errors import ConfigError
from shared.files import read_json, write_json_atomic
from shared.llm.base import BaseChatModel, Completion, Message
from shared.local_servers import ServerProcess
from shared.paths import results_dir

MULTIWOZ_AGENT = '- Thought: the user is served\n- Action: Talk("Everything is booked.")'
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
TAU_AGENT = 'Thought:\nI can answer.\nAction:\n{"name": "respond", "arguments": {"content": "Everything is done."}}'


def rule_reply(messages: Sequence[Message]) -> str:
    """A deterministic answer for every role of both environments, chosen from the prompt alone."""
    system = messages[0]["content"] if messages and messages[0].get("role") == "system" else ""
    if "# Dialogue history:" in system:
        return MULTIWOZ_AGENT
    if "#Available tools" in system:
        return TAU_AGENT
    if "Instruction:" in system:  # the simulated user: state the need, then end
        stop = "###STOP###" if "###STOP###" in system else "<END>"
        said = sum(1 for m in messages if m.get("role") == "assistant")
        return "I need help with my booking, please." if said == 0 else f"Thank you, that is all. {stop}"
    return HELPER_REPLY


class RuleModel(BaseChatModel):
    """Zero-latency in-process model for every role (cacheable, so the cache can be measured)."""

    backend = "rule"

    def __init__(self, spec: str = "rule:bench", **kw: Any) -> None:
        super().__init__(spec, "rule", "rule:in-process", **kw)

    async def _complete(self, messages: list[Message], params: dict[str, Any]) -> Completion:
        text = rule_reply(messages)
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
    from shared.runner import Runner

    runner = Runner(plan, echo=lambda line: None)
    for spec in ("rule:agent", "rule:user", "rule:judge"):
        runner._models[spec] = RuleModel(spec, cache=cache)  # in-process models; resolve() never sees `rule:`
    asyncio.run(runner.run())
    return runner


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def subprocess_call_ratio(calls: int = 200, spawns: int = 20) -> dict[str, Any]:
    """One `restaurant_retrieve` in process vs a fresh interpreter doing the same (the original's design)."""
    from multiwoz_env.sandbox import Sandbox

    work = results_dir() / "bench" / "sandbox-ratio"
    shutil.rmtree(work, ignore_errors=True)
    import random

    goal = {"restaurant": {"info": {"area": "centre"}, "book": {}, "fail_info": {}, "fail_book": {}, "reqt": []}}
    sandbox = Sandbox.build(work, goal, ["restaurant"], rng=random.Random(0))
    params = {"area": "centre", "pricerange": "cheap"}
    started = time.perf_counter()
    for _ in range(calls):
        sandbox.call("restaurant_retrieve", params)
    in_process = (time.perf_counter() - started) / calls
    code = (
        "import json,sys; db=json.load(open(sys.argv[1])); "
        "print([e for e in db if all(str(e.get(k))==v for k,v in json.loads(sys.argv[2]).items())][:7])"
    )
    db_file = next((work / "db").glob("restaurant*.json"))
    started = time.perf_counter()
    for _ in range(spawns):
        subprocess.run([sys.executable, "-c", code, str(db_file), json.dumps(params)], check=True, capture_output=True)
    spawned = (time.perf_counter() - started) / spawns
    shutil.rmtree(work, ignore_errors=True)
    return {
        "in_process_ms": round(in_process * 1000, 4),
        "subprocess_ms": round(spawned * 1000, 2),
        "ratio": round(spawned / in_process, 1),
    }


def bench_harness(n: int = 4, envs: Sequence[str] = ("multiwoz", "tau"), limit: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"n": n}
    for env in envs:
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
    out["multiwoz_api_call"] = subprocess_call_ratio()
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
    server = ServerProcess(delay, user_turns)
    os.environ["NCUSIM_ENDPOINT_CONCURRENCY"] = str(4 * dialogues)
    os.environ["NCUSIM_LLM_CACHE"] = "0"
    spec = f"{server.url}#bench"
    rows = []
    try:
        for level in levels:
            count = min(dialogues, serial_dialogues) if level == 1 else dialogues
            work = results_dir() / "bench" / f"latency-{level or 'unbounded'}"
            shutil.rmtree(work, ignore_errors=True)
            from shared.runner import Runner, RunPlan
            from shared.usersim import Behaviors

            plan = RunPlan(
                env="multiwoz",
                models=[spec],
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


def _reference_root() -> Path:
    from shared.paths import data_path

    return data_path("multiwoz_env/train_datasets")


def bench_regrade(folders: int = 10_000) -> dict[str, Any]:
    """Re-grade (in memory, nothing written) the reference dialogues replicated by hard links."""
    from shared import environment
    from shared.scoring import score_tree

    source = _reference_root()
    originals = sorted(p for p in source.glob("*/*") if (p / "goal_dict.json").is_file())
    if not originals:
        raise ConfigError("no reference dialogues to replicate: run `make data-reference` first")
    work = results_dir() / "bench" / "regrade-tree"
    shutil.rmtree(work, ignore_errors=True)
    copies = math.ceil(folders / len(originals))
    made = 0
    for k in range(copies):
        for original in originals:
            if made >= folders:
                break
            target = work / "ours" / original.parent.name / f"b{k}" / original.name  # names repeat across sets
            shutil.copytree(original, target, copy_function=os.link)
            made += 1
    env = environment.get("multiwoz")
    started = time.monotonic()
    tree = score_tree(env, work, regrade=True, write=False)
    seconds = time.monotonic() - started
    shutil.rmtree(work, ignore_errors=True)
    return {"folders": made, "graded": tree.graded, "same_as_recorded": tree.agreeing, "seconds": round(seconds, 2),
            "folders_per_s": round(tree.graded / seconds, 1)}  # fmt: skip


BEHAVIOURS = ("normal", "unavailable_service", "tangential", "emotional_acts", "fragment_dumping")


def bench_economy(scenarios: int = 10) -> dict[str, Any]:
    from shared.llm.cache import DiskCache

    rows = {}
    for behaviour in BEHAVIOURS:
        work = results_dir() / "bench" / f"economy-{behaviour}"
        shutil.rmtree(work, ignore_errors=True)
        runner = _run(_plan("multiwoz", work, 1, [behaviour], limit=scenarios))
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
    plan = _plan("multiwoz", work / "runs", 2, ["tangential"], limit=scenarios)
    _run(plan, cache=cache)
    lost = sorted(p.parent for p in (work / "runs").rglob("grading_result.json"))[::2]
    for folder in lost:
        shutil.rmtree(folder)
    resumed = _run(plan, cache=cache)
    total = resumed.ledger.total()
    shutil.rmtree(work, ignore_errors=True)
    return {"per_behaviour": rows, "resume": {"dialogues_rerun": len(lost), "calls": total.calls, "cached_calls": total.cached_calls,
                                              "hit_rate": round(total.cached_calls / max(total.calls, 1), 3)}}  # fmt: skip


def bench_tau_db() -> dict[str, Any]:
    from tau_env.db_bench import exactness_grid, reward_cost

    return {"reward": [reward_cost("airline"), reward_cost("retail")], "exactness": exactness_grid()}


SUITES: dict[str, Callable[[], dict[str, Any]]] = {
    "harness": bench_harness,
    "tau-db": bench_tau_db,
    "latency": bench_latency,
    "http": bench_http,
    "regrade": bench_regrade,
    "economy": bench_economy,
}


def run_suites(
    names: Sequence[str], echo: Callable[[str], None] = print, overrides: dict[str, Callable[[], dict[str, Any]]] | None = None
) -> dict[str, Any]:
    suites = {**SUITES, **(overrides or {})}
    reports = {}
    for name in names:
        started = time.monotonic()
        report = suites[name]()
        report["bench_seconds"] = round(time.monotonic() - started, 1)
        write_json_atomic(results_dir() / "bench" / f"{name}.json", report)
        echo(f"{name}: {json.dumps(report)}")
        reports[name] = report
    return reports
