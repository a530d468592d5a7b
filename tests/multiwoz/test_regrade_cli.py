"""`ncusim score --env multiwoz --regrade PATH` on copies of published folders."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from shared import scoring


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def run_score(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", "score", "--env", "multiwoz", *args], capture_output=True, text=True, env=env
    )


def test_regrade_changes_only_grade_files(data_home: Path, reference_folders: Path, tmp_path: Path) -> None:
    tree = tmp_path / "experiment_result" / "ours" / "gpt-4.1-mini" / "normal"
    names = ["MUL0001.json_0", "MUL0008.json_0", "MUL0022.json_0"]
    for name in names:
        shutil.copytree(
            reference_folders / "multiwoz_train_dataset" / name,
            tree / name.replace("_0", "_1") if name == "MUL0022.json_0" else tree / name,
        )
    # Break one dialogue: drop its restaurant booking.
    (tree / "MUL0001.json_0" / "reservation" / "restaurant_book_db.json").write_text("[]")
    before = digests(tmp_path)
    out = run_score("--regrade", str(tmp_path))
    assert out.returncode == 0, out.stderr
    after = digests(tmp_path)
    changed = sorted(k for k in after if before.get(k) != after[k])
    assert changed == [
        "experiment_result/ours/gpt-4.1-mini/normal/MUL0001.json_0/grading_result.json",
        "experiment_result/ours/gpt-4.1-mini/normal/MUL0001.json_0/pass_or_fail.txt",
    ]
    assert set(after) == set(before)
    grade = json.loads((tree / "MUL0001.json_0" / "grading_result.json").read_text())
    assert grade == {"restaurant": {"book": False}, "accommodation": {"book": True}}
    assert (tree / "MUL0001.json_0" / "pass_or_fail.txt").read_text() == "FAIL"
    assert f"Result of {tree}" in out.stdout
    assert "success_rate_values: [50.0, 100.0]" in out.stdout and "pass_rate_values: [75.0, 100.0]" in out.stdout
    assert "total_graded_cnt: 3" in out.stdout and "re-graded 3 dialogue folders" in out.stdout


def test_garbage_folder_is_reported_and_others_still_graded(data_home: Path, reference_folders: Path, tmp_path: Path) -> None:
    shutil.copytree(reference_folders / "multiwoz_train_dataset" / "MUL0001.json_0", tmp_path / "MUL0001.json_0")
    bad = tmp_path / "BAD.json_0"
    shutil.copytree(reference_folders / "multiwoz_train_dataset" / "MUL0008.json_0", bad)
    (bad / "goal_dict.json").write_text("{not json")
    before = (bad / "grading_result.json").read_bytes()
    out = run_score("--regrade", str(tmp_path))
    assert out.returncode == 2
    assert "re-graded 1 dialogue folders" in out.stdout
    assert out.stderr.count("\n") == 1 and f"{bad}: cannot be graded: JSONDecodeError" in out.stderr and "Traceback" not in out.stderr
    assert (bad / "grading_result.json").read_bytes() == before


def test_nothing_to_score(tmp_path: Path) -> None:
    out = run_score(str(tmp_path))
    assert out.returncode == 2 and out.stderr.strip() == f"ncusim: error: no multiwoz dialogue folders under {tmp_path}"


def test_score_list_block_format(tmp_path: Path) -> None:
    block = scoring.ScoreBlock(
        values={"success_rate": [50.0, 100.0], "pass_rate": [75.0, 100.0], "goal_align": [100.0, 100.0]}, total_graded=4
    )
    path = tmp_path / "score.txt"
    scoring.append_score_block(path, block, 1)
    text = scoring.append_score_block(path, block, 2)
    assert text.startswith("Attempt 1:\nsuccess_rate_mean: 75.000\nsuccess_rate_values: [50.0, 100.0]\npass_rate_mean: 87.500\n")
    assert "total_graded_cnt: 4\n\n\nAttempt 2:\nsuccess_rate_mean: 75.000\n" in text
    assert text.endswith("total_graded_cnt: 4\n")
    assert block.lines()[:3] == ["success_rate_values: [50.0, 100.0]", "success_rate_mean: 75.000", "success_rate_std: 25.000"]
    assert scoring.run_index("PMUL0095.json_12") == 12 and scoring.run_index("x") is None
