"""Replays of published dialogues, sandbox construction and grader perturbations vs the oracle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from multiwoz_env import protocol
from multiwoz_env.grader import GraderOptions, grade_folder, passed
from multiwoz_env.sandbox import Sandbox
from shared.paths import data_path
from tests.fidelity import golden_multiwoz as gm


def copy_world(source: Path, target: Path, goal_dict: dict[str, Any] | None = None) -> Path:
    """A fresh folder with the source's db/, domains.json and goal_dict.json and no reservations yet."""
    target.mkdir(parents=True)
    shutil.copytree(source / "db", target / "db")
    shutil.copy(source / "domains.json", target / "domains.json")
    if goal_dict is None:
        shutil.copy(source / "goal_dict.json", target / "goal_dict.json")
    else:
        (target / "goal_dict.json").write_text(json.dumps(goal_dict, indent=4))
    return target


def write_reservations(folder: Path, tables: dict[str, list[dict[str, Any]]]) -> None:
    (folder / "reservation").mkdir(exist_ok=True)
    for name, records in tables.items():
        (folder / "reservation" / name).write_text(json.dumps(records, indent=4))


def test_replays_reproduce_observations_reservations_and_grades(
    golden: Path, reference_folders: Path, data_home: Path, tmp_path: Path
) -> None:
    replays = gm.load(golden)["replays"]
    calls = observations = reservations = grades = 0
    failures = []
    for replay in replays:
        folder = copy_world(reference_folders / replay["folder"], tmp_path / replay["folder"])
        sandbox = Sandbox.from_folder(folder)
        sandbox.folder = folder
        write_reservations(folder, gm.reservations_by_file(sandbox))
        for index, call in enumerate(replay["calls"]):
            calls += 1
            step = protocol.interpret("- Action: API call" + call["call_log"], sandbox)
            if "observation_is" in call:
                expected = "Observation: " + str(call["result"])
            else:
                expected = call["observation"]
            if gm.mask(step.observation) == gm.mask(expected):
                observations += 1
            else:
                failures.append(f"{replay['folder']}[{index}]: {gm.mask(step.observation)!r} != {expected!r}")
        if gm.mask(gm.reservations_by_file(sandbox)) == gm.mask(replay["reservations_after"]):
            reservations += 1
        else:
            failures.append(f"{replay['folder']}: reservations differ")
        grade = grade_folder(folder)
        if grade == replay["grade"]["grade"] == replay["recorded_grading_result"]:
            grades += 1
        else:
            failures.append(f"{replay['folder']}: grade {grade} != {replay['grade']['grade']}")
    assert failures == [], "\n".join(failures[:20])
    assert (len(replays), calls, observations, reservations, grades) == (80, 1223, 1223, 80, 80)


def test_sandbox_construction_matches_published_db_files(golden: Path, reference_folders: Path, data_home: Path, tmp_path: Path) -> None:
    cases = gm.load(golden)["sandbox_construction"]
    identical = 0
    for case in cases:
        source = reference_folders / case["folder"]
        goal = json.loads(data_path(case["goal_list_entry"]).read_text())
        built = tmp_path / case["folder"]
        Sandbox.build(built, goal["goal_dict"], json.loads((source / "domains.json").read_text()), rng=__import__("random").Random(0))
        ours = sorted(p.name for p in (built / "db").iterdir())
        assert ours == case["db_files_built"] == sorted(p.name for p in (source / "db").iterdir()), case["folder"]
        for name in ours:
            assert (built / "db" / name).read_bytes() == (source / "db" / name).read_bytes(), f"{case['folder']}/db/{name}"
            identical += 1
        assert json.loads((built / "goal_dict.json").read_text()) == json.loads((source / "goal_dict.json").read_text())
        assert json.loads((built / "domains.json").read_text()) == json.loads((source / "domains.json").read_text())
        for table in (built / "reservation").iterdir():
            assert json.loads(table.read_text()) == []
    assert len(cases) == 24 and identical >= 24


def perturbation_world(entry: dict[str, Any], reference_folders: Path, work: Path) -> Path:
    if entry["source"] == "folder":
        return copy_world(reference_folders / entry["folder"], work)
    if entry["source"] == "goal":
        goal = json.loads(data_path(entry["goal_file"]).read_text())
        goal_dict, domains = goal["goal_dict"], goal["domains"]
    else:
        goal_dict, domains = entry["goal_dict"], entry["domains"]
    Sandbox.build(work, goal_dict, domains, rng=__import__("random").Random(0))
    return work


def test_perturbations_grade_as_the_original(golden: Path, reference_folders: Path, data_home: Path, tmp_path: Path) -> None:
    sets = gm.load(golden)["perturbations"]
    same = crashed_now_false = total = 0
    for index, entry in enumerate(sets):
        for k, pert in enumerate(entry["perturbations"]):
            total += 1
            folder = perturbation_world(entry, reference_folders, tmp_path / f"{index}-{k}")
            if "goal_modified" in pert:
                goal = json.loads((folder / "goal_dict.json").read_text())
                for dotted, value in pert["goal_modified"].items():
                    node = goal
                    *path, last = dotted.split(".")
                    for part in path:
                        node = node[part]
                    node[last] = value
                (folder / "goal_dict.json").write_text(json.dumps(goal, indent=4))
            write_reservations(folder, pert["reservations_after_perturbation"])
            grade = grade_folder(folder)
            if "grading_raised" in pert:
                # The original crashed (the dialogue vanished); we grade the domain False (FIDELITY.md).
                assert grade[pert["target_domain"]] == {"book": False}, pert["name"]
                crashed_now_false += 1
                continue
            assert grade == pert["grade"], f"{entry.get('folder', entry['source'])} {pert['name']}: {grade} != {pert['grade']}"
            if pert["pass_or_fail"] in ("PASS", "FAIL"):
                assert ("PASS" if passed(grade) else "FAIL") == pert["pass_or_fail"]
            same += 1
    assert (total, same, crashed_now_false) == (256, 255, 1)


SHOULD_FAIL = ("drop", "book_twice", "people+1", "day+1", "stay+1", "time+60min")


def test_perturbations_against_expectations(golden: Path, reference_folders: Path, data_home: Path, tmp_path: Path) -> None:
    """Broken bookings fail; the optional fixes make the known defects (taxi time, PMUL4756) meet expectations."""
    sets = gm.load(golden)["perturbations"]
    broken = 0
    meets = {GraderOptions(): 0, GraderOptions(strict_taxi_time=True, fix_apostrophe_names=True): 0}
    for index, entry in enumerate(sets):
        for k, pert in enumerate(entry["perturbations"]):
            if pert["name"].startswith("DIAGNOSTIC_"):
                continue
            folder = perturbation_world(entry, reference_folders, tmp_path / f"{index}-{k}")
            write_reservations(folder, pert["reservations_after_perturbation"])
            for options in meets:
                target = grade_folder(folder, options)[pert["target_domain"]].get("book")
                meets[options] += target == pert["expected_target_book"]
            if pert["name"].split(":")[0] in SHOULD_FAIL:
                assert grade_folder(folder)[pert["target_domain"]] == {"book": False}, pert["name"]
                broken += 1
    assert broken == 161
    faithful, fixed = meets.values()
    # 255 perturbations: the original met 243 of them; ours also grades its one crash False (244).
    # The fixes add the 8 taxi-time and 2 apostrophe cases; only the taxi-to-another-restaurant
    # defect (D2, not fixable without changing the task) remains.
    assert (faithful, fixed) == (244, 254)
