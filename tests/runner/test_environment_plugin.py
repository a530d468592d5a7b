"""A third environment from outside the kit's tree (`tests/support/toy_env.py`), with no edit to
shared code: named as `module:attr` on the command line, and installed as an `ncusim.environments`
entry point, through `simulate`, `score`, `analyze` and `report` as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.usersim.models import DEFAULTS
from tests.support import scripts

KIT = Path(__file__).resolve().parents[2]
PLUGIN = "tests.support.toy_env:ToyEnvironment"
pytestmark = pytest.mark.cli


def ncusim(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], cwd=KIT, env=env, capture_output=True, text=True, timeout=300)


def installed_as_entry_point(site: Path) -> Path:
    info = site / "toy_museum-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-museum\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[ncusim.environments]\ntoy = {PLUGIN}\n")
    return site


def test_a_toy_environment_runs_through_every_command(tmp_path: Path) -> None:
    # An empty kit home: the toy needs no MultiWOZ or Tau data (its user has no personas).
    home = tmp_path / "home"
    home.mkdir()
    results = tmp_path / "results"
    agent = scripts.write(tmp_path / "agent.json", ["BOOK 2", "Your 2 tickets are booked."] * 20)
    user = scripts.write(tmp_path / "user.json", ["I would like 2 museum tickets, please.", "Thank you, that is all. <END>"] * 20)
    helpers = scripts.helpers(tmp_path / "helpers.json")
    env = {**os.environ, "NCUSIM_HOME": str(home), "NCUSIM_LLM_CACHE": "0",
           "PYTHONPATH": str(installed_as_entry_point(tmp_path / "site"))}  # fmt: skip
    args = ["--models", agent, "--user-model", user, "--judge-model", helpers, "--prompts", "ncusim", "--behaviors", "normal",
            "--n", "1", "--scenarios", "toy_2,toy_3", "--attempts", "1", "--concurrency", "1", "--results", str(results),
            *[f"--helper={call}={helpers}" for call in DEFAULTS if call not in ("user", "judge")]]  # fmt: skip

    first = ncusim("simulate", "--env", PLUGIN, *args, env=env)  # named on the command line
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    experiment = results / "toy" / "ours" / "agent.json" / "normal"
    grades = {p.parent.name: json.loads(p.read_text()) for p in experiment.glob("*/toy_grade.json")}
    assert grades == {"toy_2_0": {"booked": 2, "wanted": 2, "success": True}, "toy_3_0": {"booked": 2, "wanted": 3, "success": False}}
    assert "success_rate_values: [50.0]" in first.stdout and "pass^k: k=1 50.000" in first.stdout
    assert {p.read_text() for p in experiment.glob("*/persona.txt")} == {'""'}  # no user data: no persona

    scored = ncusim("score", "--env", "toy", "--regrade", str(results / "toy"), env=env)  # found by entry point
    assert scored.returncode == 0 and "re-graded 2 dialogue folders" in scored.stdout, scored.stderr
    analysed = ncusim("analyze", str(results / "toy"), "--env", "toy", "--out", str(tmp_path / "analysis"), env=env)
    assert analysed.returncode == 0, analysed.stderr
    summary = json.loads((tmp_path / "analysis" / "analysis.json").read_text())
    assert "wrong_count" in json.dumps(summary) and "analysed 2 dialogue folders" in analysed.stdout
    reported = ncusim("report", str(results), "--out", str(tmp_path / "report"), env=env)
    assert reported.returncode == 0 and "2 dialogues (toy)" in reported.stdout, reported.stdout + reported.stderr
    assert "Toy museum" in (tmp_path / "report" / "index.html").read_text()
    fetched = ncusim("data", "--env", "toy", env=env)
    assert fetched.returncode == 0 and "toy: brings its own data" in fetched.stdout
    listed = ncusim("environments", env=env)
    assert listed.returncode == 0 and "toy: Toy museum" in listed.stdout and "multiwoz: MultiWOZ (default)" in listed.stdout
    unfixable = ncusim("score", "--env", "toy", "--grader-fix", "strict_taxi_time", str(results / "toy"), env=env)
    assert unfixable.returncode == 2 and "the toy grader has no fix 'strict_taxi_time' (it offers: none)" in unfixable.stderr


def test_a_plugin_that_cannot_be_imported_is_one_usage_line(tmp_path: Path) -> None:
    done = ncusim("simulate", "--env", "no_such_module:Env", "--models", "m", env={**os.environ, "NCUSIM_RESULTS": str(tmp_path)})
    shown = " ".join(done.stderr.replace("│", " ").split())  # typer draws usage errors in a box
    assert done.returncode == 2 and "environment plug-in 'no_such_module:Env' is not available" in shown
    assert "Traceback" not in done.stderr
