"""`ncusim simulate` end to end against `transformers serve` (embedded model) on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.usersim.models import DEFAULTS
from tests.support import scripts

# One xdist worker runs every test of the served model, so one `transformers serve` serves them all.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("served-embedded")]


def test_simulate_two_behaviours_twice_and_nothing_is_redone(served_embedded: str, data_home: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    helpers = scripts.helpers(tmp_path / "helpers.json")  # structured helpers and judge scripted: the tiny model is not a judge
    command = [
        sys.executable, "-m", "shared.cli", "simulate", "--env", "multiwoz",
        "--models", served_embedded, "--user-model", served_embedded, "--judge-model", helpers,
        *[arg for call in DEFAULTS if call not in ("user", "judge") for arg in ("--helper", f"{call}={helpers}")],
        "--behaviors", "normal,tangential", "--n", "1", "--scenarios", "PMUL0095", "--attempts", "1",
        "--max-steps", "3", "--agent-max-tokens", "48", "--user-max-tokens", "40", "--results", str(results),
    ]  # fmt: skip
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "pass 1: 2 of 2 dialogues to simulate" in first.stdout
    folders = sorted(p.parent for p in results.rglob("grading_result.json"))
    assert len(folders) == 2
    for folder in folders:
        assert (folder / "goal_align_result.json").is_file() and (folder / "pass_or_fail.txt").read_text() in ("PASS", "FAIL")
        stats = json.loads((folder / "dialogue_stats.json").read_text())
        assert 1 <= stats["n_reasoning"] <= 3 and stats["n_turn"] >= 2
        agent_chat = json.loads((folder / "dial_hist_system_list.json").read_text())
        assert agent_chat[0]["role"] == "system" and agent_chat[1]["role"] == "user"
        usage = json.loads((folder / "usage.json").read_text())["by_role"]
        assert usage["agent"]["calls"] == stats["n_reasoning"] and usage["user"]["completion_tokens"] > 0
    assert "Result of" in first.stdout and first.stdout.count("total_graded_cnt: 1") == 2
    stamps = {f: (f / "grading_result.json").stat().st_mtime_ns for f in folders}
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "dialogues to simulate" not in second.stdout
    assert stamps == {f: (f / "grading_result.json").stat().st_mtime_ns for f in folders}
    for log in results.rglob("regeneration_log.json"):
        assert all(len(entries) == 1 for entries in json.loads(log.read_text()).values())
