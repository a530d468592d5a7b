"""A behaviour from outside the kit's tree (`tests/support/toy_behaviour.py`), with no edit to shared
code: joined to a paper behaviour by `+` as `module:attr`, run through `simulate` (its stage after
the paper's, on the turns they run), then `score`, `analyze` and `report` over its folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.usersim import Behaviors
from shared.usersim.models import DEFAULTS
from tests.support import scripts

KIT = Path(__file__).resolve().parents[2]
PLUGIN = "tests.support.toy_behaviour:Shouting"
TALK = '- Thought: the user needs an answer\n- Action: Talk("I can help with that.")'
pytestmark = pytest.mark.cli


def ncusim(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], cwd=KIT, env=env, capture_output=True, text=True, timeout=300)


def test_a_toy_behaviour_runs_after_the_paper_stages(data_home: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    agent = scripts.write(tmp_path / "agent.json", [TALK] * 40)
    user = scripts.write(tmp_path / "user.json", ["I need a cheap hotel in the north, please.", "Thank you, that is all. <END>"] * 20)
    helpers = scripts.helpers(tmp_path / "helpers.json")
    env = {**os.environ, "NCUSIM_HOME": str(data_home), "NCUSIM_LLM_CACHE": "0"}
    done = ncusim(
        "simulate", "--env", "multiwoz", "--models", agent, "--user-model", user, "--judge-model", helpers, "--prompts", "ncusim",
        "--behaviors", f"normal,tangential+{PLUGIN}", "--n", "1", "--scenarios", "PMUL0095", "--attempts", "1",
        "--concurrency", "1", "--results", str(results), *[f"--helper={c}={helpers}" for c in DEFAULTS if c not in ("user", "judge")],
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ours = results / "multiwoz" / "ours" / "agent.json"
    assert sorted(p.name for p in ours.iterdir()) == ["normal", "tangential+shouting"]
    shouted = ours / "tangential+shouting" / "PMUL0095.json_0"
    said = [m["content"] for m in json.loads((shouted / "user_message_list.json").read_text()) if m["role"] == "assistant"]
    events = json.loads((shouted / "user_turn_events.json").read_text())
    assert said[0].endswith("!!") and said[0] == said[0].upper()  # after the tangent stage, before tracking
    assert "<END>" in said[-1] and not said[-1].endswith("!!")  # the stop turn is left alone, as the paper's stages do
    assert [e["event"] for e in events[0]["events"]][-1] == "shouted"
    assert json.loads((shouted / "non_coll_config.json").read_text())["plugins"] == [PLUGIN]
    plain = ours / "normal" / "PMUL0095.json_0"
    assert "plugins" not in json.loads((plain / "non_coll_config.json").read_text())  # the original's file otherwise
    assert not any(m["content"].endswith("!!") for m in json.loads((plain / "user_message_list.json").read_text()))
    scored = ncusim("score", "--env", "multiwoz", "--regrade", str(results / "multiwoz"), env=env)
    assert scored.returncode == 0 and "re-graded 2 dialogue folders" in scored.stdout
    analysed = ncusim("analyze", str(results / "multiwoz"), "--env", "multiwoz", "--out", str(tmp_path / "analysis"), env=env)
    assert analysed.returncode == 0 and "tangential+shouting" in (tmp_path / "analysis" / "analysis.md").read_text()
    reported = ncusim("report", str(results), "--out", str(tmp_path / "report"), env=env)
    assert reported.returncode == 0 and "shouted" in (tmp_path / "report" / "index.html").read_text()


def test_a_behaviour_that_cannot_be_had_is_one_line() -> None:
    with pytest.raises(ConfigError, match="unknown behaviour 'no_such_module:Mood'"):
        Behaviors.parse("tangential+no_such_module:Mood")
    with pytest.raises(ConfigError, match="unknown behaviour 'grumpy'"):
        Behaviors.parse("grumpy")
