"""`--agent tool-calling` end to end in both environments, every behaviour, against a real server on
127.0.0.1 whose agent answers with parallel tool calls (one of them malformed): the calls run in
the same sandbox, land in the same dialogue files, and the folders are graded, re-graded,
analysed and reported like any other."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from shared import environment
from shared.analysis.report import build_report
from shared.runner import Runner, RunPlan
from shared.scoring import score_tree
from shared.usersim import Behaviors
from tests.support.tool_agent_server import AGENT_TEXT, ToolAgentServer

BEHAVIOURS = ("normal", "unavailable_service", "tangential", "emotional_acts", "fragment_dumping")


def run_tool_calling(env: str, results: Path, spec: str) -> Runner:
    plan = RunPlan(
        env=env,
        models=[spec],
        behaviors=[Behaviors.parse(b) for b in BEHAVIOURS],
        n=1,
        limit=1,
        user_model=spec,
        judge_model=spec,
        attempts=1,
        results=results,
        agent="tool-calling",
    )
    plan.validate()
    runner = Runner(plan, echo=lambda line: None)
    asyncio.run(runner.run())
    return runner


@pytest.mark.parametrize("env", ["multiwoz", "tau"])
def test_tool_calling_runs_are_graded_and_read_like_any_other(env: str, data_home: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    with ToolAgentServer() as server:
        runner = run_tool_calling(env, results, f"{server.base_url}#toolbot")
    assert sum(p.failed for p in runner.progress.values()) == 0, [p.failures for p in runner.progress.values()]
    experiments = sorted((results / env / "ours" / "toolbot+tools").iterdir())
    assert [e.name for e in experiments] == sorted(BEHAVIOURS)
    handler = environment.get(env)
    agent_requests = [r for r in server.requests if r.get("tool_choice") == "auto"]
    offered = {tuple(t["function"]["name"] for t in r["tools"]) for r in agent_requests}
    if env == "multiwoz":
        assert {len(names) for names in offered} == {9} and all("restaurant_book" in names for names in offered)
    else:  # v1's ToolCallingAgent offers every tool, the transfer included
        assert offered and all("transfer_to_human_agents" in names for names in offered)
    for experiment in experiments:
        (folder,) = [f for f in experiment.iterdir() if f.is_dir()]
        chat = json.loads((folder / ("dial_hist_system_list.json" if env == "multiwoz" else "reasoning_trajectory.json")).read_text())
        calls = [m for m in chat if m.get("tool_calls")]
        results_of_calls = [m for m in chat if m["role"] == "tool"]
        assert calls and len(calls[0]["tool_calls"]) == 2 and len(results_of_calls) == 2 * len(calls)
        malformed = [m["content"] for m in results_of_calls if m["tool_call_id"].endswith("_b")]
        assert malformed and all("not valid" in text or "not a valid" in text for text in malformed)
        assert any(m["role"] == "assistant" and m.get("content") == AGENT_TEXT for m in chat)
        assert json.loads((folder / "run_meta.json").read_text())["agent"] == "tool-calling"
        if env == "multiwoz":
            logged = json.loads((folder / "api_call_log.json").read_text())
            assert len(logged) == 2 * len(calls)  # both calls logged, as the text protocol logs its payloads
        grade = handler.read_grade(folder)
        assert handler.grade(folder, write=False) == grade  # re-grading from the files gives the recorded grade
    tree = score_tree(handler, results / env, regrade=True, write=False)
    assert tree.graded == len(BEHAVIOURS) and tree.agreeing == tree.compared == len(BEHAVIOURS)
    page = build_report(results / env, tmp_path / "report").read_text()
    assert "toolbot+tools" in page and AGENT_TEXT in page
