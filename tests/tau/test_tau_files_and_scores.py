"""Tau dialogue folders in the original's shape, the unavailable-service prompt, the Tau score
block and re-grading folders that hold only the original's files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shared import environment
from shared.scoring import score_tree
from shared.usersim.templates import Templates
from tau_env import tasks as task_data
from tau_env.environment import TauEnvironment
from tests.support import scripts, tau_runs
from tests.support.tau_runs import react

STOP_USER = ["I need help with my booking.", "Thanks, that is all. ###STOP###"]


def run(
    tmp: Path,
    ids: list[str],
    agent: list[str],
    behavior: str = "normal",
    n: int = 1,
    max_steps: int | None = None,
    select: list[int] | None = None,
) -> Path:
    return tau_runs.run(
        tmp / "results",
        agent=scripts.write(tmp / "agent.json", agent * 40),
        user=scripts.write(tmp / "user.json", STOP_USER * 200),
        helpers=scripts.helpers(tmp / "helpers.json", select=select),
        scenario_ids=ids,
        n=n,
        behavior=behavior,
        max_steps=max_steps,
    )


def gt_replies(domain: str, index: int, said: str = "Done.") -> list[str]:
    task = task_data.tasks(domain)[index]
    return [react(a["name"], a["kwargs"]) for a in task.actions] + [react("respond", {"content": said})]


def test_folder_has_the_original_tau_files(data_home: Path, tmp_path: Path) -> None:
    root = run(tmp_path, ["airline_0"], gt_replies("airline", 0))
    folder = root / "ours" / "agent.json" / "normal" / "airline_0_0"
    for name in ("prompt.txt", "goal_list.json", "non_coll_config.json", "tangential_config.json", "reasoning_trajectory.json",
                 "dial_hist_system_list.json", "dialogue_history.json", "dialogue_history.txt", "eval_result.json",
                 "dialogue_state_list.json", "goal_align_result.json"):  # fmt: skip
        assert (folder / name).is_file(), name
    config = json.loads((folder / "non_coll_config.json").read_text())
    assert config["model_name"].startswith("scripted:") and config["tangential"] is False and config["is_pbus"] is False
    goal = json.loads((folder / "goal_list.json").read_text())
    assert goal["dial_idx"] == "airline_0" and not goal["instruction"].startswith("<FLIGHT>")
    assert goal["instruction"] == task_data.tasks("airline")[0].instruction.removeprefix("<FLIGHT>")
    prompt = (folder / "prompt.txt").read_text()
    assert goal["instruction"] in prompt and "###STOP###" in prompt
    trajectory = json.loads((folder / "reasoning_trajectory.json").read_text())
    assert trajectory == json.loads((folder / "dial_hist_system_list.json").read_text())
    assert trajectory[0]["role"] == "system" and "n_reasoning" not in trajectory[1]
    replies = [m for m in trajectory[2:] if m["role"] == "user" and not m["content"].startswith("API output: ")]
    assert replies and all(m["n_reasoning"] == 0 for m in replies) and "###STOP###" in replies[-1]["content"]
    messages = json.loads((folder / "dialogue_history.json").read_text())
    assert messages[1] == {"role": "user", "content": "Hi! How can I help you today?"}
    assert [m["role"] for m in messages[2:]] == ["assistant", "user", "assistant"]
    assert all("dialogue_state" in m for m in messages[2:] if m["role"] == "assistant")
    text = (folder / "dialogue_history.txt").read_text()
    assert text == "User: I need help with my booking.\n\nAgent: Done.\n\nUser: Thanks, that is all. ###STOP###"
    state = json.loads((folder / "dialogue_state_list.json").read_text())
    assert state["initial_dialogue_state_list"] == task_data.goal_items("airline", 0)
    assert state["all_info_provided"] is True and state["remaining_dialogue_state_list"] == []
    grade = json.loads((folder / "eval_result.json").read_text())
    assert set(grade) == {"task_id", "reward", "info", "trial"} and grade["reward"] == 1.0
    assert set(grade["info"]) == {"task", "source", "user_cost", "reward_info"}
    assert grade["info"]["task"]["instruction"].startswith("<FLIGHT>") and grade["info"]["source"] == "user"
    assert grade["info"]["user_cost"] == 0.0 and grade["info"]["reward_info"]["info"]["r_actions"] == 1.0
    assert grade["info"]["reward_info"]["actions"] == [dict(a) for a in task_data.tasks("airline")[0].actions]


def test_unavailable_service_prompt_lists_the_papers_tools() -> None:
    env = TauEnvironment()
    prompt_dir = env.user_profile.prompt_dir
    assert prompt_dir is not None  # Tau always names its prompt folder
    templates = Templates([prompt_dir / "user"])
    shown = {}
    for domain in ("airline", "retail"):
        scenario = env.scenario(domain, task_data.test_indexes(domain)[0])
        context = env.service_context(scenario)
        prompt = templates.render("unavailable_service", goal_text=scenario.goal_text, **context)
        names = [tool["function"]["name"] for tool in json.loads(context["api_catalogue"])]
        shown[domain] = names
        assert scenario.goal_text in prompt and "{" + "extra_rule" + "}" not in prompt and context["api_catalogue"] in prompt
        assert ("replace an existing one" in prompt) == (domain == "airline")
    assert len(shown["airline"]) == 13 and "think" not in shown["airline"] and "transfer_to_human_agents" in shown["airline"]
    assert len(shown["retail"]) == 16 and {"think", "transfer_to_human_agents"} <= set(shown["retail"])


def test_unavailable_service_goals_join_the_goal_but_not_the_judged_items(data_home: Path, tmp_path: Path) -> None:
    items = task_data.goal_items("retail", 0)
    # Judge and tracker pick exactly the task's own items: with the extras counted, 3 would be unmatched.
    agent = [react("respond", {"content": "How can I help?"})]
    root = run(tmp_path, ["retail_0"], agent, behavior="unavailable_service", select=list(range(1, len(items) + 1)))
    folder = root / "ours" / "agent.json" / "unavailable_service" / "retail_0_0"
    extras = scripts.UNION["unavailable_user_goals"]
    goal = json.loads((folder / "goal_list.json").read_text())
    assert goal["instruction"].endswith(f"also include the conditions from {extras!r}.\n\n")
    assert repr(extras) in (folder / "prompt.txt").read_text()
    state = json.loads((folder / "dialogue_state_list.json").read_text())
    assert state["initial_dialogue_state_list"] == items and state["all_info_provided"] is False
    alignment = json.loads((folder / "goal_align_result.json").read_text())
    assert alignment["result"] is True and alignment["dialogue_state"] == []


def test_tau_score_block_pools_domains_per_trial(data_home: Path, tmp_path: Path) -> None:
    # Trial 0 and 1 of airline_0 (agent replays the ground truth: reward 1) and retail_0 (only talks: 0).
    root = run(tmp_path, ["airline_0", "retail_0"], gt_replies("airline", 0), n=2)
    experiment = root / "ours" / "agent.json" / "normal"
    rewards = {f.name: json.loads((f / "eval_result.json").read_text())["reward"] for f in experiment.iterdir() if f.is_dir()}
    assert rewards == {"airline_0_0": 1.0, "airline_0_1": 1.0, "retail_0_0": 0.0, "retail_0_1": 0.0}
    text = (root / "score_list" / "ours_agent.json_normal.txt").read_text()
    assert text == (
        "Attempt 1\n  total_graded_cnt: 4\n  success_rate_mean: 50.000\n  success_rate_values: [50.0, 50.0]\n"
        "  pass_rate_mean: 50.000\n  pass_rate_values: [50.0, 50.0]\n  goal_align_mean: 100.000\n  goal_align_values: [100, 100]\n"
    )
    tree = score_tree(environment.get("tau"), root, regrade=False)
    block = tree.blocks[experiment]
    assert block.groups["airline"].values["success_rate"] == [100.0, 100.0]
    assert block.groups["retail"].values["success_rate"] == [0.0, 0.0]
    assert "airline: success_rate_mean 100.000, success_rate_values [100.0, 100.0], graded 2" in block.lines()


def test_step_budget_gives_zero_without_reward_info(data_home: Path, tmp_path: Path) -> None:
    root = run(tmp_path, ["airline_0"], [react("list_all_airports", {})], max_steps=3)
    grade = json.loads((root / "ours" / "agent.json" / "normal" / "airline_0_0" / "eval_result.json").read_text())
    assert grade["reward"] == 0.0 and grade["info"]["reward_info"] is None and grade["info"]["user_cost"] is None
    assert grade["info"]["source"] == "list_all_airports"


def test_a_respond_on_the_last_step_is_answered_and_a_stop_reply_is_graded(data_home: Path, tmp_path: Path) -> None:
    # v1's solve(): the 30th step's respond still goes to user.step, and "###STOP###" in the reply
    # computes the reward (chat_react_agent.py, base.py). Here the budget is the GT actions + 1.
    replies = gt_replies("airline", 0)
    root = run(tmp_path, ["airline_0"], replies, max_steps=len(replies))
    folder = root / "ours" / "agent.json" / "normal" / "airline_0_0"
    trajectory = json.loads((folder / "reasoning_trajectory.json").read_text())
    assert trajectory[-1]["role"] == "user" and "###STOP###" in trajectory[-1]["content"]
    grade = json.loads((folder / "eval_result.json").read_text())
    assert grade["reward"] == 1.0 and grade["info"]["source"] == "user" and grade["info"]["reward_info"] is not None


def test_an_answer_without_stop_on_the_last_step_ends_the_dialogue_ungraded(data_home: Path, tmp_path: Path) -> None:
    replies = gt_replies("airline", 0)
    root = tau_runs.run(
        tmp_path / "results",
        agent=scripts.write(tmp_path / "agent.json", replies * 40),
        user=scripts.write(tmp_path / "user.json", ["I need help with my booking.", "And one more thing."] * 200),
        helpers=scripts.helpers(tmp_path / "helpers.json"),
        scenario_ids=["airline_0"],
        n=1,
        max_steps=len(replies),
    )
    folder = root / "ours" / "agent.json" / "normal" / "airline_0_0"
    trajectory = json.loads((folder / "reasoning_trajectory.json").read_text())
    assert trajectory[-1] == {**trajectory[-1], "role": "user", "content": "And one more thing."}
    assert json.loads((folder / "eval_result.json").read_text())["reward"] == 0.0


def test_regrade_folders_with_only_the_original_files(data_home: Path, tmp_path: Path) -> None:
    root = run(tmp_path, ["airline_0", "retail_0"], gt_replies("airline", 0))
    experiment = root / "ours" / "agent.json" / "normal"
    published = tmp_path / "published" / "experiment_result" / "ours" / "gpt-4.1-nano" / "normal"
    keep = ("reasoning_trajectory.json", "eval_result.json", "goal_align_result.json", "dialogue_history.txt")
    for folder in experiment.iterdir():
        if folder.is_dir():
            (published / folder.name).mkdir(parents=True)
            for name in keep:
                shutil.copy(folder / name, published / folder.name / name)
    recorded = {f.name: (f / "eval_result.json").read_text() for f in published.iterdir()}
    # A folder whose original run crashed (not an AssertionError) stays out, as success_eval.py left it.
    crashed = published / "airline_0_1"
    shutil.copytree(published / "airline_0_0", crashed)
    (crashed / "eval_result.json").write_text(json.dumps({"task_id": 0, "reward": 0.0, "info": {"error": "x", "traceback": "KeyError"}}))
    tree = score_tree(environment.get("tau"), published.parent.parent, regrade=True)
    assert tree.graded == 2 and [(f.name, "errored" in reason) for f, reason in tree.failures] == [("airline_0_1", True)]
    assert {f: (published / f / "eval_result.json").read_text() for f in recorded} == recorded
    block = tree.blocks[published]
    assert block.values["success_rate"] == [50.0] and block.total_graded == 2


@pytest.mark.parametrize("bad", ["airline_x_0", "hotel_1_0"])
def test_folders_not_named_like_tau_are_not_dialogues(tmp_path: Path, bad: str) -> None:
    (tmp_path / bad).mkdir()
    (tmp_path / bad / "reasoning_trajectory.json").write_text("[]")
    assert not TauEnvironment().is_dialogue_folder(tmp_path / bad)
