"""Scenario selection (split, per-shard cap, ids) and goal items against published folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from multiwoz_env import goal_items, scenarios
from shared import environment
from shared.errors import ConfigError


@pytest.mark.parametrize(
    ("split", "subset", "count"),
    [("test", 0, 89), ("test", 2, 80), ("test", 1, 40), ("test", 3, 89), ("train", 0, 883), ("train", 1, 40), ("train", 3, 120)],
)
def test_split_sizes(data_home: Path, split: str, subset: int, count: int) -> None:
    chosen = scenarios.scenarios(split, subset)
    assert len(chosen) == count
    assert len({s.id for s in chosen}) == count
    assert all(s.split == split and s.goal_text and s.domains for s in chosen)


def test_test_split_matches_the_spec(data_home: Path) -> None:
    chosen = scenarios.scenarios("test")
    assert [s.id for s in scenarios.scenarios("test", 1)][:3] == ["PMUL0095.json", "PMUL0129.json", "PMUL4034.json"]
    assert sum(s.id.startswith("MUL") for s in chosen) == 42 and sum(s.id.startswith("PMUL") for s in chosen) == 47
    combos: dict[str, int] = {}
    for s in chosen:
        key = "+".join(sorted(s.domains))
        combos[key] = combos.get(key, 0) + 1
    assert combos == {
        "restaurant+train": 37,
        "accommodation+train": 23,
        "accommodation+restaurant": 17,
        "accommodation+restaurant+taxi": 12,
    }
    assert not set(s.id for s in chosen) & set(s.id for s in scenarios.scenarios("train"))


def test_pick_by_id_and_errors(data_home: Path) -> None:
    picked = scenarios.scenarios("test", ids=["PMUL0410", "PMUL0095.json"])
    assert [s.id for s in picked] == ["PMUL0410.json", "PMUL0095.json"]
    assert picked[1].goal["accommodation"]["info"]
    with pytest.raises(ConfigError, match="not in the test split: MUL9999.json"):
        scenarios.scenarios("test", ids=["MUL9999"])
    with pytest.raises(ConfigError, match="subset must be 0"):
        scenarios.scenarios("test", -1)
    with pytest.raises(ConfigError, match="unknown split"):
        scenarios.scenarios("dev")


def test_goal_items_match_published_folders(data_home: Path, reference_folders: Path) -> None:
    """Without unavailable-service extras, our items equal the simulator's recorded initial items."""
    compared = 0
    for folder in sorted(reference_folders.glob("*/*")):
        config = json.loads((folder / "non_coll_config.json").read_text())
        if config.get("unavailable_service"):
            continue
        recorded = json.loads((folder / "dialogue_state_list.json").read_text())["initial_dialogue_state_list"]
        ours = goal_items.goal_items(json.loads((folder / "goal_dict.json").read_text()), json.loads((folder / "domains.json").read_text()))
        assert sorted(ours) == sorted(recorded), folder.name
        compared += 1
    assert compared >= 60


def test_environment_registry_builds_multiwoz(data_home: Path) -> None:
    env = environment.get("multiwoz")
    assert env.user_profile.stop_token == "<END>" and env.user_profile.greeting == "Hi! How can I help you today?"
    scenario = env.scenarios(ids=["PMUL4756"])[0]
    assert env.goal_items(scenario)[:1] == ["restaurant-food-british"]
    with pytest.raises(ConfigError, match="does not take these options"):
        environment.get("multiwoz", nonsense=True)
