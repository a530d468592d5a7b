"""`make simulate ENV=tau` end to end: the embedded model behind `transformers serve` as agent and user."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from shared.data import load_manifest
from shared.usersim.models import DEFAULTS
from tests.support import scripts

# One xdist worker runs every test of the served model, so one `transformers serve` serves them all.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("served-embedded")]
KIT = Path(__file__).resolve().parents[2]


def test_make_simulate_tau_on_the_embedded_model(served_embedded: str, data_home: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    helpers = scripts.helpers(tmp_path / "helpers.json")  # structured helpers and judge scripted: the tiny model is not a judge
    extra = " ".join(
        [f"--helper {call}={helpers}" for call in DEFAULTS if call not in ("user", "judge")]
        + ["--agent-max-tokens 48", "--user-max-tokens 40", f"--results {results}"]
    )
    command = [
        "make", "-s", "-C", str(KIT), "simulate", "ENV=tau", "DOMAINS=retail", f"MODELS={served_embedded}",
        f"USER_MODEL={served_embedded}", f"JUDGE_MODEL={helpers}", "BEHAVIORS=normal", "N=1", "SCENARIOS=retail_0",
        "ATTEMPTS=1", "MAX_STEPS=3", f"EXTRA={extra}",
    ]  # fmt: skip
    env = {**os.environ, "NCUSIM_HOME": str(data_home)}
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert (
        f"tau: {len(load_manifest('tau').files)} files verified" in first.stdout and "pass 1: 1 of 1 dialogues to simulate" in first.stdout
    )
    model = served_embedded.rsplit("/", 1)[-1]
    folder = results / "tau" / "ours" / model / "normal" / "retail_0_0"
    grade = json.loads((folder / "eval_result.json").read_text())
    assert grade["task_id"] == 0 and grade["trial"] == 0 and grade["reward"] in (0.0, 1.0)
    trajectory = json.loads((folder / "reasoning_trajectory.json").read_text())
    assert trajectory[0]["role"] == "system" and "#Available tools" in trajectory[0]["content"]
    assert 1 <= sum(m["role"] == "assistant" for m in trajectory) <= 3
    config = json.loads((folder / "non_coll_config.json").read_text())
    assert config["model_name"] == served_embedded
    assert (folder / "dialogue_history.txt").read_text().startswith("User: ")
    usage = json.loads((folder / "usage.json").read_text())["by_role"]
    assert usage["agent"]["calls"] >= 1 and usage["user"]["completion_tokens"] > 0
    block = (results / "tau" / "score_list" / f"ours_{model}_normal.txt").read_text()
    assert block.startswith("Attempt 1\n  total_graded_cnt: 1\n  success_rate_mean: ")
    assert "retail: success_rate_mean" in first.stdout
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and "dialogues to simulate" not in second.stdout
