"""Faults from model endpoints: every role of a MultiWOZ run talks to a fault-injecting server.

`tests.support.fault_server` answers agent, user, helper and judge calls on 127.0.0.1 and injects,
at seeded rates, 429 with Retry-After, 500, 503, timeouts, dropped connections, empty choices,
empty content, truncated JSON bodies and prose where JSON was asked. The model layer must absorb
them all: each transport fault costs one retry (`retries` in usage.json and run.json), each
non-JSON answer one re-ask inside `structured()` (counted in `retries` and in `invalid_replies`),
and no dialogue may be lost, corrupted or graded twice. A dialogue whose every call fails exhausts
its fault budget: it is recorded as failed with its reason and retried by the next invocation,
and the run itself finishes normally.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared import environment
from shared.runner import Runner, RunPlan, is_complete, summary_lines
from shared.usersim import Behaviors
from tests.support.consistency import check_dialogue, check_run, dialogue_folders, fingerprint
from tests.support.fault_server import KINDS, TRANSPORT_KINDS, FaultConfig, FaultServerProcess

RETRY_ATTEMPTS = 6
FAST_RETRIES = {
    "NCUSIM_RETRY_ATTEMPTS": str(RETRY_ATTEMPTS),
    "NCUSIM_RETRY_BASE_DELAY": "0.05",
    "NCUSIM_CALL_TIMEOUT": "2",  # the server holds a `timeout` fault for 3 s
    "NCUSIM_ENDPOINT_CONCURRENCY": "64",
}
ROLES = ("agent", "user", "helper", "judge")


def by_role_usage(experiment: Path) -> dict[str, dict[str, int]]:
    run = json.loads((experiment / "run.json").read_text())
    usage: dict[str, dict[str, int]] = run["invocations"][-1]["usage"]["by_role"]
    return usage


def test_forty_dialogues_complete_through_every_kind_of_endpoint_fault(
    data_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in FAST_RETRIES.items():
        monkeypatch.setenv(name, value)
    # About one request in three gets a transport fault, one JSON request in seven prose; at most
    # two faults per logical call (FaultConfig.max_faults_per_call), fewer than the six tries.
    rates = {kind: 0.04 for kind in TRANSPORT_KINDS} | {"non_json": 0.15}
    started = time.monotonic()
    config = FaultConfig(rates=rates, seed=7, retry_after="1", hold_seconds=3.0, cover_every_kind=True)
    with FaultServerProcess(config) as server:
        spec = server.spec("faulty")
        plan = RunPlan(
            env="multiwoz",
            models=[spec],
            behaviors=[Behaviors.parse("normal")],
            n=4,
            limit=10,
            user_model=spec,
            judge_model=spec,
            concurrency=40,
            results=tmp_path / "results",
        )  # default attempts (5): a fault that flipped a verdict to "unaligned" would show as a regeneration
        runner = Runner(plan, echo=lambda line: None)
        asyncio.run(runner.run())
        stats = server.stats()
    seconds = time.monotonic() - started
    injected = stats["injected"]
    assert all(injected[kind] >= 1 for kind in KINDS), injected
    experiment = plan.root / "ours" / "faulty" / "normal"
    env = environment.get("multiwoz")
    folders = dialogue_folders(plan.root)
    assert len(folders) == 40 and all(f.parent == experiment for f in folders)
    assert check_run(plan.root, env, plan.max_attempts) == {}
    # Each dialogue graded exactly once: one attempt, no error, one pass.
    log = json.loads((experiment / "regeneration_log.json").read_text())
    assert sorted(log) == sorted(f.name for f in folders)
    assert all(len(entries) == 1 and "error" not in entries[0] and entries[0]["aligned"] is True for entries in log.values())
    assert runner.passes == 1 and not any(f.joinpath("failure.json").exists() for f in folders)
    # Retries: recorded per role in run.json, equal to the sum of the dialogues' usage.json.
    usage = by_role_usage(experiment)
    assert set(usage) == set(ROLES)
    run = json.loads((experiment / "run.json").read_text())["invocations"][-1]
    assert run["dialogues_failed"] == 0 and run["failures"] == {}
    retries = sum(u["retries"] for u in usage.values())
    invalid = sum(u["invalid_replies"] for u in usage.values())
    per_folder = [json.loads((f / "usage.json").read_text())["total"] for f in folders]
    assert retries == sum(t["retries"] for t in per_folder) and invalid == sum(t["invalid_replies"] for t in per_folder)
    transport = sum(injected[kind] for kind in TRANSPORT_KINDS)
    # Every non-JSON answer was re-asked once by structured(); every transport fault retried once
    # by the model layer (a call that overran the client timeout on a slow machine adds a retry).
    assert invalid == injected["non_json"] > 0
    assert retries - invalid >= transport > 0
    role_faults = stats["injected_by_role"]

    def transport_faults(role: str) -> int:
        return sum(n for kind, n in role_faults.get(role, {}).items() if kind != "non_json")

    assert usage["agent"]["retries"] >= transport_faults("agent")
    assert usage["user"]["retries"] >= transport_faults("user")
    # The server tells helper and judge requests apart only by their text: both count as "helper".
    json_roles = sum(usage[role]["retries"] - usage[role]["invalid_replies"] for role in ("helper", "judge"))
    assert json_roles >= transport_faults("helper")
    summary = "\n".join(summary_lines(runner, runner.score(runner.dialogues())))
    assert f"{usage['judge']['retries']} retries" in summary
    print(
        f"\n40 dialogues through faults in {seconds:.1f}s; injected {injected} ({transport} transport) in "
        f"{stats['requests']} requests; run.json retries {retries} (invalid replies {invalid}): "
        + ", ".join(f"{role} {usage[role]['retries']}/{usage[role]['invalid_replies']}" for role in ROLES)
    )


def test_a_dialogue_whose_every_call_fails_is_marked_failed_then_finished_by_the_next_run(data_home: Path, tmp_path: Path) -> None:
    env = environment.get("multiwoz")
    scenarios = env.scenarios("test", 0, ["PMUL0095", "PMUL3625", "MUL2281"])
    doomed = scenarios[1]
    secret = "sk-fault-budget-secret-0123456789"
    results = tmp_path / "results"
    with FaultServerProcess(FaultConfig(fail_marker=doomed.goal_text)) as server:
        spec = server.spec("faulty")
        command = [
            sys.executable, "-m", "shared.cli", "simulate", "--env", "multiwoz", "--models", spec,
            "--user-model", spec, "--judge-model", spec, "--behaviors", "normal", "--n", "2",
            "--scenarios", ",".join(s.id.removesuffix(".json") for s in scenarios), "--concurrency", "6", "--results", str(results),
        ]  # fmt: skip
        # The server echoes the caller's Authorization header in its 503 bodies: the key must not leak.
        # No timeout faults here: a long call timeout keeps a slow machine from adding retries.
        environ = {**os.environ, **FAST_RETRIES, "NCUSIM_CALL_TIMEOUT": "30", "NCUSIM_HTTP_API_KEY": secret}
        first = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=300)
        assert first.returncode == 1, first.stderr[-2000:]  # two dialogues failed
        forced = server.stats()["forced"]
        experiment = results / "multiwoz" / "ours" / "faulty" / "normal"
        failed = [experiment / f"{doomed.id}_{n}" for n in range(2)]
        others = [f for f in dialogue_folders(results) if f not in failed]
        assert len(others) == 4 and all(is_complete(f) for f in others)
        for folder in failed:
            assert not is_complete(folder)
            failure = json.loads((folder / "failure.json").read_text())
            assert failure["attempt"] == 1
            assert f"kept failing (HTTP 503) after {RETRY_ATTEMPTS} attempts" in failure["error"]
        # Each failed dialogue's first call was tried RETRY_ATTEMPTS times, once: not rerun in later passes.
        assert forced == 2 * RETRY_ATTEMPTS
        assert "2 dialogue(s) failed" in first.stdout and f"{doomed.id}_0: ModelError" in first.stdout
        run = json.loads((experiment / "run.json").read_text())["invocations"][-1]
        assert run["dialogues_failed"] == 2 and sorted(run["failures"]) == sorted(f.name for f in failed)
        assert run["usage"]["by_role"]["user"]["retries"] == 2 * (RETRY_ATTEMPTS - 1)
        log = json.loads((experiment / "regeneration_log.json").read_text())
        assert all(len(log[f.name]) == 1 and log[f.name][0]["aligned"] is None and "error" in log[f.name][0] for f in failed)
        assert not any(secret in p.read_text(errors="replace") for p in results.rglob("*") if p.is_file())
        assert secret not in first.stdout + first.stderr
        before = fingerprint(others)

        server.control(fail_marker=None)  # the endpoint recovers
        second = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr[-2000:]
        assert "pass 1: 2 of 6 dialogues to simulate" in second.stdout and "dialogue(s) failed" not in second.stdout
        assert server.stats()["forced"] == forced
    assert fingerprint(others) == before  # the dialogues that had finished were not rerun
    assert check_run(results, env, 5) == {}
    log = json.loads((experiment / "regeneration_log.json").read_text())
    for folder in failed:
        assert not (folder / "failure.json").exists()
        entries = log[folder.name]
        assert [("error" in e, e["aligned"] is not None, e["attempt"]) for e in entries] == [(True, False, 1), (False, True, 1)]
        assert check_dialogue(folder, env, entries, 5) == []
