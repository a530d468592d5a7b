"""The benchmark suites run end to end at toy sizes (the real sizes are `make bench`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from multiwoz_env.bench import api_call_ratio, regrade_throughput
from shared import bench_suites
from shared.paths import data_path
from shared.usersim.config import PAPER_BEHAVIORS


def test_harness_and_subprocess_ratio(data_home: Path) -> None:
    report = bench_suites.bench_harness(n=1, envs=("multiwoz", "tau"), limit=3)
    for env in ("multiwoz", "tau"):
        assert report[env]["dialogues"] == 3 and report[env]["model_calls"] > 3 * 3
        assert report[env]["cpu_s"] > 0 and report[env]["peak_rss_mb"] > 50
    call = api_call_ratio(calls=50, spawns=5)
    assert call["subprocess_ms"] > call["in_process_ms"] > 0 and call["ratio"] > 10


def test_environments_add_their_suites_and_name_their_data() -> None:
    added = bench_suites.environment_suites()
    assert added == {
        "multiwoz-api": ("multiwoz", "multiwoz_env.bench:api_call_ratio"),
        "regrade": ("multiwoz", "multiwoz_env.bench:regrade_throughput"),
        "tau-db": ("tau", "tau_env.db_bench:bench"),
    }
    assert bench_suites.suite_names() == ["harness", "latency", "http", "economy", "multiwoz-api", "regrade", "tau-db"]
    assert [bench_suites.data_needed(s) for s in ("harness", "http", "tau-db", "regrade")] == [
        ["multiwoz", "tau"],
        [],
        ["tau"],
        ["multiwoz"],
    ]


def test_tau_reward_cost_and_exactness_at_toy_size(data_home: Path) -> None:
    from tau_env.db_bench import exactness_grid, reward_cost

    cost = reward_cost("retail", count=2)
    assert cost["tasks"] == 2 and cost["v1_reward_ms_median"] > cost["reward_ms_median"] > 0
    grid = exactness_grid(per_domain=2)
    assert grid["trajectories"] == 16 and grid["same_hash"] == grid["same_reward"] == 16 and grid["reward_1"] >= 4


def test_http_clients_side_by_side_at_toy_size() -> None:
    report = bench_suites.bench_http(requests=64, concurrency=8, delay=0.05)
    rows = {row["client"].split()[0]: row for row in report["clients"]}
    assert {"aiohttp", "httpx"} <= set(rows)
    assert all(row["cpu_ms_per_request"] > 0 and row["wall_over_ideal"] >= 0.9 for row in rows.values())


def test_latency_levels_are_bounded_by_the_ideal(data_home: Path) -> None:
    report = bench_suites.bench_latency(delay=0.05, dialogues=8, levels=(1, None))
    one, unbounded = report["levels"]
    assert (one["concurrency"], one["dialogues"], unbounded["concurrency"]) == (1, 8, "unbounded")
    assert one["wall_over_ideal"] >= 0.95 and unbounded["wall_over_ideal"] >= 0.95
    assert one["ideal_s"] > unbounded["ideal_s"] * 4  # one at a time: eight chains end to end


def test_regrade_throughput_on_replicated_reference_folders(data_home: Path, mirror: Path) -> None:
    shutil.copytree(mirror / "NCUser" / "multiwoz_env" / "train_datasets", data_path("multiwoz_env/train_datasets"), dirs_exist_ok=True)
    report = regrade_throughput(folders=120)
    assert report["folders"] == report["graded"] == report["same_as_recorded"] == 120 and report["folders_per_s"] > 0


def test_economy_per_behaviour_and_cache_on_resume(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCUSIM_LLM_CACHE", "1")
    report = bench_suites.bench_economy(scenarios=2)
    assert set(report["per_behaviour"]) == set(PAPER_BEHAVIORS)
    assert all(row["failed_dialogues"] == 0 and row["user"]["calls_per_user_turn"] > 0 for row in report["per_behaviour"].values())
    tangential, normal = report["per_behaviour"]["tangential"], report["per_behaviour"]["normal"]
    assert tangential["helper"]["calls_per_user_turn"] > normal["helper"]["calls_per_user_turn"]
    resume = report["resume"]
    assert resume["dialogues_rerun"] == 2 and 0 < resume["cached_calls"] <= resume["calls"]
