"""Published-style archives served through NCUSIM_RESULTS_MIRROR: fetch, verify, unpack, re-grade
in memory (the published files stay as they were) and the paper tables."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from shared.analysis.published import fetch_published
from shared.errors import DataError
from tau_env import tasks as task_data
from tests.support import scripts, tau_runs
from tests.support.tau_runs import react


def zip_tree(source: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(source.rglob("*")):
            zipped.write(path, path.relative_to(source.parent))


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def tau_tree(tmp: Path) -> Path:
    """Our scripted Tau dialogues (trials 0 and 1 of airline_0 solved, retail_0 not), as published."""
    replies = [react(a["name"], a["kwargs"]) for a in task_data.tasks("airline")[0].actions] + [react("respond", {"content": "Done."})]
    root = tau_runs.run(
        tmp / "tau-run",
        agent=scripts.write(tmp / "agent.json", replies * 40),
        user=scripts.write(tmp / "user.json", ["Help me.", "Thanks. ###STOP###"] * 50),
        helpers=scripts.helpers(tmp / "helpers.json"),
        scenario_ids=["airline_0", "retail_0"],
        n=2,
        concurrency=1,  # the scripted replies are one list: dialogues in parallel would take each other's
    )
    tree = tmp / "tau-src" / "experiment_result"
    shutil.copytree(root / "ours" / "agent.json" / "normal", tree / "ours" / "gpt-4.1-mini" / "normal")
    return tree


@pytest.fixture
def results_mirror(reference_folders: Path, tmp_path: Path, data_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "mirror"
    folder.mkdir()
    multiwoz = tmp_path / "mw-src" / "experiment_result"
    shutil.copytree(reference_folders / "multiwoz_train_dataset", multiwoz / "ours" / "gpt-4.1-mini" / "normal")
    shutil.copytree(reference_folders / "multiwoz_train_dataset_528_195", multiwoz / "ours" / "gpt-4.1-mini" / "tangential")
    zip_tree(multiwoz, folder / "experiment_result_multiwoz.zip")
    zip_tree(tau_tree(tmp_path), folder / "experiment_result_tau.zip")
    monkeypatch.setenv("NCUSIM_RESULTS_MIRROR", str(folder))
    return folder


def test_fetch_regrade_and_paper_tables(results_mirror: Path, tmp_path: Path) -> None:
    reports = fetch_published(["multiwoz", "tau"], echo=lambda line: None)
    assert [(r.env, r.status, r.dialogues) for r in reports] == [("multiwoz", "fetched", 46), ("tau", "fetched", 4)]
    published = tmp_path / "results" / "published"
    source = json.loads((published / "multiwoz" / "SOURCE.json").read_text())
    assert source["archive"] == "experiment_result_multiwoz.zip" and len(source["sha256"]) == 64
    assert [r.status for r in fetch_published(["multiwoz"], echo=lambda line: None)] == ["present"]
    before = snapshot(published)
    out = tmp_path / "paper"
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", "reproduce-paper", "--out", str(out)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert snapshot(published) == before  # re-graded in memory only
    assert "multiwoz: 46 dialogues in 2 experiments, 46/46 grades equal to the recorded ones; 0 not gradable" in done.stdout
    assert "tau: 4 dialogues in 1 experiments, 4/4 grades equal to the recorded ones; 0 not gradable" in done.stdout
    with open(out / "sr_tau_ours.csv") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["model"] == "gpt-4.1-mini" and row["SR paper"] == "45.5"
    assert row["SR ours (± std over runs [95% CI over scenarios])"].startswith("50.0 ± 0.0 [0.0, 100.0]")
    assert row["per domain"].startswith("airline 100.0 ± 0.0") and "retail 0.0 ± 0.0" in row["per domain"]
    with open(out / "relative_sr_multiwoz.csv") as handle:
        assert list(csv.DictReader(handle)) == [
            {"model": "gpt-4.1-mini", "behaviour": "tangential", "ours": "100.0", "paper (derived)": "96.3"}
        ]
    for name in ("tables.md", "experiments.json", "sr_by_behaviour_multiwoz.png", "relative_sr_multiwoz.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 200, name
    with open(out / "failures_tau.csv") as handle:
        (failures,) = list(csv.DictReader(handle))
    assert failures["failed"] == "2" and failures["parse_errors"] == "0"  # retail_0, both trials
    report = subprocess.run(
        [sys.executable, "-m", "shared.cli", "report", str(published), "--out", str(tmp_path / "report")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report.returncode == 0, report.stderr[-2000:]
    assert "50 dialogues (multiwoz, tau), 3 experiments, 0 not gradable" in report.stdout
    assert (tmp_path / "report" / "index.html").stat().st_size > 10_000 and snapshot(published) == before


def test_bad_archives_leave_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_home: Path) -> None:
    folder = tmp_path / "mirror"
    folder.mkdir()
    monkeypatch.setenv("NCUSIM_RESULTS_MIRROR", str(folder))
    (folder / "experiment_result_multiwoz.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="not a readable zip archive"):
        fetch_published(["multiwoz"], echo=lambda line: None)
    with zipfile.ZipFile(folder / "experiment_result_multiwoz.zip", "w") as zipped:
        zipped.writestr("../escape.txt", "x")
    with pytest.raises(DataError, match="unsafe path"):
        fetch_published(["multiwoz"], echo=lambda line: None)
    with zipfile.ZipFile(folder / "experiment_result_multiwoz.zip", "w") as zipped:
        zipped.writestr("experiment_result/ours/m/normal/readme.txt", "no dialogues")
    with pytest.raises(DataError, match="holds no multiwoz dialogue folders"):
        fetch_published(["multiwoz"], echo=lambda line: None)
    with pytest.raises(DataError, match="has no experiment_result_tau.zip"):
        fetch_published(["tau"], echo=lambda line: None)
    published = tmp_path / "results" / "published"
    assert not (tmp_path / "escape.txt").exists() and (not published.exists() or list(published.iterdir()) == [])
    done = subprocess.run([sys.executable, "-m", "shared.cli", "reproduce-paper"], capture_output=True, text=True)
    assert done.returncode == 2 and "run `make fetch-results`" in done.stderr and "Traceback" not in done.stderr


def test_tables_from_our_runs_carry_iga(tmp_path: Path, data_home: Path) -> None:
    from shared.analysis.paper import collect, pass_align_table

    tau_tree(tmp_path)
    collected = collect("tau", tmp_path / "tau-run" / "tau", regrade=False)
    (stats,) = collected.experiments
    assert (stats.model, stats.behaviour, stats.graded, stats.iga) == ("agent.json", "normal", 4, 100.0)
    assert stats.success.mean == 50.0 and stats.domains["airline"].mean == 100.0
    assert pass_align_table(collected).rows[0][-1] == "100.0"
