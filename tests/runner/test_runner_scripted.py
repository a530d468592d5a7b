"""The runner with scripted models: regeneration and score_list, resume, and a SIGKILL mid-run."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

from multiwoz_env import resources
from shared.runner import Runner, RunPlan, is_complete
from shared.usersim import Behaviors
from shared.usersim.models import DEFAULTS
from tests.support import scripts

SCENARIO = "MUL1274"  # restaurant (british, expensive) + accommodation (cityroomz), 7 people, saturday


def booking_calls() -> tuple[str, str]:
    hotel = next(e for e in resources.db("accommodation") if e["name"] == "cityroomz")
    food = next(e for e in resources.db("restaurant") if e["food"] == "british" and e["pricerange"] == "expensive")
    book_hotel = (
        f"- Thought: book\n- Action: API call{{'api_name':'accommodation_book','input_parameters':"
        f"{{'id':{hotel['id']},'day':'saturday','people':7,'stay':2}}}}"
    )
    book_food = (
        f"- Thought: book\n- Action: API call{{'api_name':'restaurant_book','input_parameters':"
        f"{{'id':{food['id']},'day':'saturday','people':7,'time':'15:45'}}}}"
    )
    return book_hotel, book_food


TALK = '- Thought: done\n- Action: Talk("All booked for you.")'
USER = ["Hello, I need a hotel and a restaurant.", "Thank you, that is all. <END>"]


def plan_for(tmp: Path, judge_select: list[int] | None, attempts: int = 3, n: int = 2) -> RunPlan:
    hotel, food = booking_calls()
    # n=0 books both (PASS); n=1 books only the hotel (pass fraction 0.5, FAIL). Concurrency 1
    # keeps the scripted replies in dialogue order.
    agent = scripts.write(tmp / "agent.json", [hotel, food, TALK, hotel, TALK] * 20)
    user = scripts.write(tmp / "user.json", USER * 40)
    helpers = scripts.helpers(tmp / "helpers.json")
    judge = scripts.helpers(tmp / "judge.json", select=judge_select)
    return RunPlan(
        env="multiwoz",
        models=[agent],
        behaviors=[Behaviors.parse("normal")],
        n=n,
        scenario_ids=[SCENARIO],
        user_model=user,
        helper_models={call: helpers for call in DEFAULTS if call not in ("user", "judge")},
        judge_model=judge,
        attempts=attempts,
        concurrency=1,
        results=tmp / "results",
    )


def experiment_dir(plan: RunPlan) -> Path:
    return plan.root / "ours" / "agent.json" / "normal"


def test_unaligned_dialogues_are_regenerated_and_scored_each_attempt(data_home: Path, tmp_path: Path) -> None:
    plan = plan_for(tmp_path, judge_select=[])
    runner = Runner(plan, echo=lambda line: None)
    blocks = asyncio.run(runner.run())
    experiment = experiment_dir(plan)
    log = json.loads((experiment / "regeneration_log.json").read_text())
    assert sorted(log) == ["MUL1274.json_0", "MUL1274.json_1"]
    assert [len(v) for v in log.values()] == [3, 3]
    assert all(e["aligned"] is False for v in log.values() for e in v)
    assert len({e["seed"] for v in log.values() for e in v}) == 6  # a fresh seed per attempt
    # Hand computation from the folders: n=0 passes both domains, n=1 only the hotel.
    grades = {n: json.loads((experiment / f"MUL1274.json_{n}" / "grading_result.json").read_text()) for n in (0, 1)}
    assert grades[0] == {"restaurant": {"book": True}, "accommodation": {"book": True}}
    assert grades[1] == {"restaurant": {"book": False}, "accommodation": {"book": True}}
    score_list = (plan.root / "score_list" / "ours_agent.json_normal.txt").read_text()
    block = (
        "success_rate_mean: 50.000\nsuccess_rate_values: [100.0, 0.0]\npass_rate_mean: 75.000\npass_rate_values: [100.0, 50.0]\n"
        "goal_align_mean: 0.000\ngoal_align_values: [0.0, 0.0]\ntotal_graded_cnt: 2\n"
    )
    assert score_list == f"Attempt 1:\n{block}\n\nAttempt 2:\n{block}\n\nAttempt 3:\n{block}"
    assert blocks[experiment].values["success_rate"] == [100.0, 0.0]
    run = json.loads((experiment / "run.json").read_text())
    assert run["iga"] == 0.0 and run["complete"] == 2 and run["invocations"][0]["passes"] == 3
    assert run["versions"]["httpx"] == version("httpx") and run["versions"]["pyyaml"] == version("pyyaml")
    lock = Path(__file__).resolve().parents[2] / "uv.lock"
    assert run["versions"]["uv_lock_sha256"] == hashlib.sha256(lock.read_bytes()).hexdigest()
    meta = json.loads((experiment / "MUL1274.json_0" / "run_meta.json").read_text())
    assert meta["attempt"] == 3 and meta["seed"] == log["MUL1274.json_0"][-1]["seed"]
    # A rerun has no attempts left: nothing is simulated, nothing is appended.
    again = Runner(plan_for(tmp_path, judge_select=[]), echo=lambda line: None)
    asyncio.run(again.run())
    assert again.passes == 0
    assert (plan.root / "score_list" / "ours_agent.json_normal.txt").read_text() == score_list


def test_aligned_dialogues_stop_after_one_pass_and_resume_skips_them(data_home: Path, tmp_path: Path) -> None:
    plan = plan_for(tmp_path, judge_select=list(range(1, 31)))
    runner = Runner(plan, echo=lambda line: None)
    asyncio.run(runner.run())
    assert runner.passes == 1 and runner.iga(experiment_dir(plan)) == 100.0
    folders = sorted(p.name for p in experiment_dir(plan).iterdir() if p.is_dir())
    assert folders == ["MUL1274.json_0", "MUL1274.json_1"]
    stamps = {f: (experiment_dir(plan) / f / "grading_result.json").stat().st_mtime_ns for f in folders}
    again = Runner(plan_for(tmp_path, judge_select=list(range(1, 31))), echo=lambda line: None)
    asyncio.run(again.run())
    assert again.passes == 0
    assert stamps == {f: (experiment_dir(plan) / f / "grading_result.json").stat().st_mtime_ns for f in folders}
    usage = json.loads((experiment_dir(plan) / "MUL1274.json_0" / "usage.json").read_text())
    assert usage["by_role"]["agent"]["calls"] == 3 and usage["by_role"]["user"]["calls"] == 2 and usage["by_role"]["judge"]["calls"] == 1


def test_sigkill_mid_run_then_resume_finishes_exactly_the_rest(data_home: Path, tmp_path: Path) -> None:
    from tests.support.openai_server import ScriptedOpenAIServer

    results = tmp_path / "results"
    user = scripts.write(tmp_path / "user.json", USER * 400)
    helpers = scripts.helpers(tmp_path / "helpers.json")
    with ScriptedOpenAIServer() as agent_server:
        agent_server.script(*[("sleep", 0.15, TALK)] * 400)
        command = [
            sys.executable, "-m", "shared.cli", "simulate", "--env", "multiwoz",
            "--models", f"{agent_server.base_url}#slow-agent", "--behaviors", "normal,tangential",
            "--n", "3", "--subset", "1", "--limit", "2", "--user-model", user, "--judge-model", helpers,
            *[arg for call in DEFAULTS if call not in ("user", "judge") for arg in ("--helper", f"{call}={helpers}")],
            "--concurrency", "2", "--attempts", "1", "--results", str(results),
        ]  # fmt: skip
        env = {**os.environ, "PATH": "/usr/bin:/bin"}
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(list(results.rglob("grading_result.json"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        folders = sorted(p.parent for p in results.rglob("run_meta.json"))
        done_before = {f for f in folders if is_complete(f)}
        assert 3 <= len(done_before) < 12
        stamps = {f: (f / "grading_result.json").stat().st_mtime_ns for f in done_before}
        rerun = subprocess.run(command, env=env, capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
    experiments = sorted({p.parent for p in results.rglob("regeneration_log.json")})
    assert len(experiments) == 2
    all_folders = sorted(p.parent for p in results.rglob("run_meta.json"))
    assert len(all_folders) == 12 and all(is_complete(f) for f in all_folders)
    for folder in done_before:  # finished before the kill: not redone
        assert (folder / "grading_result.json").stat().st_mtime_ns == stamps[folder]
    redone = 0
    for experiment in experiments:
        log = json.loads((experiment / "regeneration_log.json").read_text())
        for name, entries in log.items():
            completed = [e for e in entries if e["aligned"] is not None]
            assert len(completed) == 1, (name, entries)  # every dialogue completed exactly once
            folder = experiment / name
            assert json.loads((folder / "run_meta.json").read_text())["seed"] == completed[0]["seed"]
            redone += folder not in done_before
            for path in folder.rglob("*.json"):
                json.loads(path.read_text())  # no corrupted file
            assert not list(folder.rglob(".*.tmp"))
    assert redone == 12 - len(done_before)
    assert re.search(r"pass 1: \d+ of 12 dialogues to simulate", rerun.stdout)
