"""Bring your own agent: the README's example through `make simulate`, the three ways to name a
plug-in (file, module, installed entry point), and one clear line for each way it can be wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.agent_plugins import load_factory
from shared.errors import ConfigError
from shared.runner import RunPlan
from shared.usersim import Behaviors
from tests.support.tool_agent_server import ToolAgentServer

KIT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/lookup_agent.py:LookupThenAnswer"
pytestmark = pytest.mark.cli


def test_the_example_plug_in_runs_through_make_simulate(data_home: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    with ToolAgentServer() as server:
        spec = f"{server.base_url}#toolbot"
        command = [
            "make", "-s", "-C", str(KIT), "simulate", "ENV=multiwoz", f"MODELS={spec}", f"USER_MODEL={spec}",
            f"JUDGE_MODEL={spec}", "BEHAVIORS=normal,tangential", "N=1", "SCENARIOS=PMUL0095", "ATTEMPTS=1",
            f"AGENT={EXAMPLE}", f"EXTRA=--results {results}",
        ]  # fmt: skip
        env = {**os.environ, "NCUSIM_HOME": str(data_home), "NCUSIM_LLM_CACHE": "0"}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    for behaviour in ("normal", "tangential"):
        folder = results / "multiwoz" / "ours" / "toolbot+LookupThenAnswer" / behaviour / "PMUL0095.json_0"
        assert json.loads((folder / "grading_result.json").read_text()) is not None
        chat = json.loads((folder / "dial_hist_system_list.json").read_text())
        user_turns = sum(1 for m in chat if m["role"] == "user")
        looked_up = [m for m in chat if m.get("tool_calls")]
        assert len(looked_up) >= 1 and all(m["tool_calls"][0]["function"]["name"] == "attraction_retrieve" for m in looked_up)
        assert len(json.loads((folder / "api_call_log.json").read_text())) == len(looked_up) <= user_turns
        assert json.loads((folder / "usage.json").read_text())["by_role"]["agent"]["calls"] >= 1  # the plug-in's own model calls
    assert "toolbot+LookupThenAnswer/normal" in done.stdout


def test_a_plug_in_installed_as_an_entry_point_is_found_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    (site / "my_agents").mkdir(parents=True)
    (site / "my_agents" / "__init__.py").write_text("class Mine:\n    def __init__(self, model):\n        self.model = model\n")
    info = site / "my_agents-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-agents\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[ncusim.agents]\nmine = my_agents:Mine\n")
    monkeypatch.syspath_prepend(str(site))
    factory = load_factory("mine")
    assert factory.__name__ == "Mine" and factory.__module__ == "my_agents"
    with pytest.raises(ConfigError, match=r"unknown agent 'yours': .* or an installed plug-in \(mine\)"):
        load_factory("yours")


@pytest.mark.parametrize(
    ("reference", "line"),
    [
        ("examples/nothing_here.py:Agent", "agent plug-in file examples/nothing_here.py does not exist"),
        ("examples/lookup_agent.py:Missing", "agent plug-in 'examples/lookup_agent.py:Missing' names nothing callable"),
        ("no_such_module_here:Agent", "agent plug-in 'no_such_module_here:Agent': cannot import no_such_module_here"),
        ("telepathy", "unknown agent 'telepathy': choose paper, tool-calling, module:attr, path/to/file.py:attr"),
    ],
)
def test_a_plug_in_that_cannot_be_had_stops_the_plan(reference: str, line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(KIT)
    plan = RunPlan(env="multiwoz", models=["m"], behaviors=[Behaviors.parse("normal")], agent=reference)
    with pytest.raises(ConfigError) as caught:
        plan.validate()
    assert str(caught.value).startswith(line)


def test_the_cli_names_a_bad_plug_in_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", "simulate", "--models", "m", "--agent", "telepathy"],
        cwd=KIT, capture_output=True, text=True, env={**os.environ, "NCUSIM_RESULTS": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "unknown agent 'telepathy'" in done.stderr
