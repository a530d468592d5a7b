"""The Tau environment through the runner with scripted models: ChatReAct actions, reward, regrade."""

from __future__ import annotations

import json
from pathlib import Path

from shared import environment
from shared.scoring import score_tree
from tau_env import tasks as task_data
from tau_env.environment import parse_action
from tests.support import scripts, tau_runs
from tests.support.tau_runs import react


def test_parse_action_like_v1() -> None:
    assert parse_action(react("get_user_details", {"user_id": "u"})) == ("get_user_details", {"user_id": "u"})
    assert parse_action("Thought: hi\nAction: ```json\n{}\n```") == ("respond", {"content": "```json\n{}\n```"})
    assert parse_action("Hello there") == ("respond", {"content": "Hello there"})
    assert parse_action('Action: {"name": "x"}') == ("respond", {"content": '{"name": "x"}'})


def run_task(tmp: Path, task_id: str, agent_replies: list[str]) -> Path:
    agent = scripts.write(tmp / "agent.json", agent_replies * 3)
    user = scripts.write(tmp / "user.json", ["I need help with my booking.", "Thanks, that is all. ###STOP###"] * 6)
    helpers = scripts.helpers(tmp / "helpers.json")
    root = tau_runs.run(tmp / "results", agent=agent, user=user, helpers=helpers, scenario_ids=[task_id])
    return root / "ours" / "agent.json" / "normal" / f"{task_id}_0"


def test_ground_truth_agent_earns_reward_one(data_home: Path, tmp_path: Path) -> None:
    task = task_data.tasks("airline")[0]
    replies = [react(a["name"], a["kwargs"]) for a in task.actions] + [react("respond", {"content": "Your flight is booked."})]
    folder = run_task(tmp_path, "airline_0", replies)
    grade = json.loads((folder / "eval_result.json").read_text())
    assert grade["reward"] == 1.0 and grade["trial"] == 0
    assert grade["info"]["reward_info"]["info"]["r_actions"] == 1.0
    chat = json.loads((folder / "dial_hist_system_list.json").read_text())
    assert (
        chat[0]["content"].count("\n#Available tools\n") == 1
        and "transfer_to_human_agents" not in chat[0]["content"].split("#Available tools")[1]
    )
    assert chat[1] == {"role": "user", "content": "I need help with my booking."}
    assert chat[3]["role"] == "user" and chat[3]["content"].startswith("API output: ")
    assert json.loads((folder / "goal_align_result.json").read_text())["result"] is True
    # Re-grading from the folder's own files gives the same reward and changes nothing else.
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    tree = score_tree(environment.get("tau"), folder.parent, regrade=True)
    assert tree.graded == 1 and tree.failures == []
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_wrong_booking_earns_zero_and_hidden_transfer_ends(data_home: Path, tmp_path: Path) -> None:
    replies = [react("transfer_to_human_agents", {"summary": "user wants a human"})]
    folder = run_task(tmp_path, "airline_0", replies)
    grade = json.loads((folder / "eval_result.json").read_text())
    assert grade["reward"] == 0.0 and grade["info"]["source"] == "transfer_to_human_agents"
    stats = json.loads((folder / "dialogue_stats.json").read_text())
    assert stats["n_reasoning"] == 1
