"""pass^k against a table computed by hand, on a crafted results tree scored by `ncusim score`.

The tree: scenario A passes 3 of 4 trials, B 0 of 4, C 4 of 4, D 1 of 2 (an incomplete run).
By hand, C(c,k)/C(n,k) per scenario and the mean over the scenarios with n >= k:
  k=1: (3/4 + 0 + 1 + 1/2) / 4 = 56.250
  k=2: (3/6 + 0 + 1 + 0/1) / 4 = 37.500
  k=3: (1/4 + 0 + 1) / 3       = 41.667  (D has 2 trials: left out)
  k=4: (0/1 + 0 + 1) / 3       = 33.333
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.pass_hat_k import pass_hat_k, scenario_chance

TRIALS = {"A.json": [True, True, False, True], "B.json": [False] * 4, "C.json": [True] * 4, "D.json": [False, True]}
BY_HAND = {1: 56.25, 2: 37.5, 3: 125 / 3, 4: 100 / 3}


def test_scenario_chance_is_the_hypergeometric_all_success_probability() -> None:
    assert scenario_chance(3, 4, 2) == pytest.approx(0.5)  # 3 of the 6 pairs of trials are both successes
    assert scenario_chance(1, 2, 2) == 0 and scenario_chance(4, 4, 4) == 1


def test_the_table_by_hand() -> None:
    table = pass_hat_k(TRIALS)
    assert [row.k for row in table] == [1, 2, 3, 4]
    assert {row.k: round(row.value, 3) for row in table} == {k: round(v, 3) for k, v in BY_HAND.items()}
    assert [row.scenarios for row in table] == [4, 4, 3, 3]
    assert all(row.low <= row.value <= row.high for row in table)


def crafted_tree(reference_folders: Path, root: Path) -> Path:
    """TRIALS as dialogue folders of one experiment (a reference dialogue with its grade rewritten)."""
    source = reference_folders / "multiwoz_train_dataset" / "MUL0001.json_0"
    experiment = root / "ours" / "m" / "normal"
    for scenario, outcomes in TRIALS.items():
        for run, passed in enumerate(outcomes, start=1):
            folder = experiment / f"{scenario}_{run}"
            shutil.copytree(source, folder)
            grade = {"restaurant": {"book": passed}, "accommodation": {"book": True}}
            (folder / "grading_result.json").write_text(json.dumps(grade))
    return root


def test_score_prints_pass_hat_k_for_a_crafted_tree(data_home: Path, reference_folders: Path, tmp_path: Path) -> None:
    crafted_tree(reference_folders, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", "score", "--env", "multiwoz", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    line = next(text for text in done.stdout.splitlines() if text.startswith("pass^k: "))
    shown = [part.split()[1] for part in line.removeprefix("pass^k: ").split("; ")]
    assert shown == ["56.250", "37.500", "41.667", "33.333"]
    assert "(4 scenarios)" in line and line.endswith("(3 scenarios)")


def test_the_paper_table_and_the_report_show_the_same_values(data_home: Path, reference_folders: Path, tmp_path: Path) -> None:
    from shared.analysis import paper
    from shared.analysis.report import build_report

    root = crafted_tree(reference_folders, tmp_path / "tree")
    table = paper.pass_hat_table(paper.collect("multiwoz", root, regrade=False))
    assert table.columns[3:] == ["pass^1", "pass^2", "pass^3", "pass^4"]
    assert [cell.split()[0] for cell in table.rows[0][3:]] == ["56.2", "37.5", "41.7", "33.3"]
    page = build_report(root, tmp_path / "report").read_text()
    assert "pass^k (k = 1..N)" in page and "56.2 / 37.5 / 41.7 / 33.3 [" in page
