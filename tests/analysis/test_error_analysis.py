"""Error analysis and appendix metrics on crafted folders, against hand-computed counts; the
analysed folders are never changed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from shared import environment
from shared.analysis.core import analyze_tree
from tau_env import tasks as task_data
from tests.support import scripts, tau_runs
from tests.support.tau_runs import react


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def reference_folder(reference_folders: Path, domains: list[str]) -> Path:
    for folder in sorted(reference_folders.glob("*/*")):
        if json.loads((folder / "domains.json").read_text()) == domains:
            return folder
    raise AssertionError(f"no reference folder with domains {domains}")


CALLS = [
    "{'api_name':'show_app_description','input_parameters':{}}",
    "{'api_name':'show_app_description','input_parameters':{}}",  # a repeated helper call
    "not a call at all",  # format error
    "{'api_name':'restaurant_retrieve'}",  # format error: no input_parameters
    "{'api_name':'hotel_book','input_parameters':{}}",  # unknown API
    "{'api_name':'restaurant_retrieve','input_parameters':{'colour':'red','area':'downtown'}}",  # extra key; check stops there
    "{'api_name':'restaurant_retrieve','input_parameters':{'area':'downtown','food':'thai'}}",  # constraint
    "{'api_name':'restaurant_retrieve','input_parameters':{'food':'thai','area':'downtown'}}",  # same call, keys reordered
    "{'api_name':'restaurant_book','input_parameters':{'id':'7','people':2,'day':'monday','time':'18:00'}}",  # type (id)
    "{'api_name':'restaurant_book','input_parameters':{'id':7,'people':True,'day':'monday','time':'18:00'}}",  # a bool passes as int
]


def test_multiwoz_api_misuse_and_failures_by_hand(reference_folders: Path, tmp_path: Path, data_home: Path) -> None:
    source = reference_folder(reference_folders, ["restaurant", "train"])
    experiment = tmp_path / "tree" / "ours" / "m" / "normal"
    good, none, two, wrong = (experiment / f"{source.name.split('.json')[0]}_{k}.json_{n}" for k, n in zip("abcd", range(4), strict=True))
    for folder in (good, none, two, wrong):
        shutil.copytree(source, folder)
    (good / "api_call_log.json").write_text(json.dumps([{"call_log": c} for c in CALLS]))
    booking_file = "reservation/restaurant_book_db.json"
    record = json.loads((source / booking_file).read_text())[0]
    (none / booking_file).write_text("[]")
    (two / booking_file).write_text(json.dumps([record, record]))
    (wrong / booking_file).write_text(json.dumps([{**record, "people": str(int(record["people"]) + 1)}]))
    for folder in (none, two, wrong):
        (folder / "pass_or_fail.txt").write_text("FAIL")
    before = snapshot(tmp_path / "tree")
    tree = analyze_tree(environment.get("multiwoz"), tmp_path / "tree")
    assert snapshot(tmp_path / "tree") == before and tree.failures == []
    records = {r["folder"]: r for r in tree.experiments[experiment].records}
    mine = records[good.name]
    assert (mine["total_api_calls"], mine["format_errors"], mine["api_name_hallucinations"]) == (10, 2, 1)
    assert (mine["input_param_hallucinations"], mine["constraint_violations"]) == (1, 3)
    assert (mine["duplicate_calls"], mine["helper_calls"], mine["duplicate_helper_calls"]) == (1 + 1, 2, 1)
    assert {k: records[none.name][k] for k in ("no_book", "multi_book", "wrong_book")} == {"no_book": 1, "multi_book": 0, "wrong_book": 0}
    assert {k: records[two.name][k] for k in ("no_book", "multi_book", "wrong_book")} == {"no_book": 0, "multi_book": 1, "wrong_book": 0}
    assert {k: records[wrong.name][k] for k in ("no_book", "multi_book", "wrong_book")} == {"no_book": 0, "multi_book": 0, "wrong_book": 1}
    summary = tree.experiments[experiment].summary
    assert summary["failed"] == 3 and summary["wrong_total"] == 3
    assert summary["input_param_hallucinations_per_dialogue"] == (1 + 3 * records[none.name]["input_param_hallucinations"]) / 4


def test_multiwoz_appendix_metrics_by_hand(reference_folders: Path, tmp_path: Path, data_home: Path) -> None:
    source = reference_folder(reference_folders, ["restaurant", "train"])
    folder = tmp_path / "tree" / "ours" / "m" / "emotional_acts" / "X.json_0"
    shutil.copytree(source, folder)
    chat = [
        {"role": "system", "content": "prompt"},
        {"role": "user", "content": " hi"},
        {"role": "assistant", "content": 'Thought: the user is upset.\nAction: Talk("I am so sorry about that.")'},
        {"role": "assistant", "content": "Thought: Talk later, search now. Sorry.\nAction: API call{'api_name':'x'}"},  # Talk in thought
        {"role": "assistant", "content": 'Thought: ok\nAction: Talk("Booked. My apologies for the wait.")'},  # not a keyword
        {"role": "user", "content": " thanks <END>"},
        {"role": "assistant", "content": 'Action: Talk("Sorry, bye")'},  # the last message is not walked
    ]
    (folder / "dial_hist_system_list.json").write_text(json.dumps(chat))
    (folder / "agent_response_list.json").write_text(json.dumps(["Observation: made up", "fine", "Observation x Observation"]))
    (folder / "tangential_config.json").write_text(json.dumps({"n_tangential": 4, "n_complain": 3, "utterance_pair": []}))
    record = environment.get("multiwoz").analyze_dialogue(folder)
    assert (record["agent_turns"], record["apology_turns"]) == (3, 1)
    assert record["invented_observations"] == 3 and record["n_complain"] == 3


def run_tau(tmp: Path, task: str, agent: list[str]) -> Path:
    root = tau_runs.run(
        tmp / "results",
        agent=scripts.write(tmp / f"agent-{task}.json", agent),
        user=scripts.write(tmp / f"user-{task}.json", ["Help me please.", "Sorry to hear that. Thanks. ###STOP###"] * 20),
        helpers=scripts.helpers(tmp / f"helpers-{task}.json"),
        scenario_ids=[task],
    )
    return root / "ours" / f"agent-{task}.json" / "normal" / f"{task}_0"


def test_tau_failure_categories_and_misuse_by_hand(tmp_path: Path, data_home: Path) -> None:
    gt = task_data.tasks("airline")[0].actions  # one book_reservation
    booking = next(a for a in gt if a["name"] == "book_reservation")
    wrong_booking = {**booking["kwargs"], "cabin": "business" if booking["kwargs"]["cabin"] != "business" else "economy"}
    # airline_0: the right write API with a wrong argument, an unknown tool, an extra key, a wrong type, a repeat.
    agent = [
        react("get_user_details", {"user_id": booking["kwargs"]["user_id"]}),
        react("get_user_details", {"user_id": booking["kwargs"]["user_id"]}),
        react("book_reservation", wrong_booking),
        react("fly_me_to_the_moon", {}),
        react("get_reservation_details", {"reservation_id": "X", "colour": "red"}),
        react("list_all_airports", {"verbose": True}),
        react("search_direct_flight", {"origin": "JFK", "destination": "LAX", "date": 20240501}),
        react("cancel_reservation", {"reservation_id": "ZZZZZZ"}),  # a write API the task does not need
        react("respond", {"content": "I am sorry, it is done."}),
    ]
    first = run_tau(tmp_path, "airline_0", agent)
    # retail_0 (reward 0): the agent only talks.
    second = run_tau(tmp_path, "retail_0", [react("respond", {"content": "How can I help?"})] * 30)
    tree_root = tmp_path / "tree"
    for folder in (first, second):
        shutil.copytree(folder, tree_root / "ours" / "m" / "normal" / folder.name)
    before = snapshot(tree_root)
    tree = analyze_tree(environment.get("tau"), tree_root)
    assert snapshot(tree_root) == before and tree.failures == []
    experiment = tree.experiments[tree_root / "ours" / "m" / "normal"]
    records = {r["folder"]: r for r in experiment.records}
    one = records["airline_0_0"]
    assert one["reward"] == 0.0 and one["total_api_calls"] == 8
    assert (one["no_gt_api"], one["gt_api_parameter_error"], one["invalid_write_api"]) == (False, True, True)
    assert (one["api_name_hallucinations"], one["input_param_hallucinations"], one["type_errors"]) == (1, 2, 1)
    assert one["duplicate_calls"] == 1 and one["shallow_duplicates"] == 1
    assert (one["agent_turns"], one["apology_turns"]) == (1, 1)  # the greeting is not an agent turn here
    other = records["retail_0_0"]
    gt_writes = {a["name"] for a in task_data.tasks("retail")[0].actions} & {
        "exchange_delivered_order_items", "modify_pending_order_items", "return_delivered_order_items", "cancel_pending_order",
        "modify_pending_order_address", "modify_pending_order_payment", "modify_user_address",
    }  # fmt: skip
    assert other["no_gt_api"] is bool(gt_writes) and other["total_api_calls"] == 0
    summary = experiment.summary
    assert summary["failed"] == 2 and summary["analysed_failures"] == 2 and summary["parse_errors"] == 0
    assert summary["gt_api_parameter_error"] == 1 and summary["invalid_write_api"] == 1
    assert summary["gt_api_parameter_error_ratio"] == 0.5
    assert summary["input_param_hallucinations_per_dialogue"] == 1.0  # 2 over 2 dialogues


def test_analyze_cli_writes_only_its_output(reference_folders: Path, tmp_path: Path, data_home: Path) -> None:
    tree = tmp_path / "published"
    shutil.copytree(reference_folders / "multiwoz_train_dataset_528_195", tree / "experiment_result" / "ours" / "gpt-4.1-mini" / "mixed")
    before = snapshot(tree)
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", "analyze", str(tree), "--env", "multiwoz", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert snapshot(tree) == before
    assert "Input Parameter Hallucination Error" in done.stdout and "analysed 35 dialogue folders in 1 experiments" in done.stdout
    payload = json.loads((out / "analysis.json").read_text())
    summary = payload["experiments"]["experiment_result/ours/gpt-4.1-mini/mixed"]["summary"]
    assert summary["dialogues"] == 35 and summary["failed"] == 0
    assert (out / "dialogues.csv").read_text().count("\n") == 36
    empty = subprocess.run([sys.executable, "-m", "shared.cli", "analyze", str(tmp_path), "--env", "tau"], capture_output=True, text=True)
    assert empty.returncode == 2 and empty.stderr.startswith("ncusim: error: no tau dialogue folders") and "Traceback" not in empty.stderr


def test_anger_judge_counts_are_aggregated_and_written_outside_the_folders(
    reference_folders: Path, tmp_path: Path, data_home: Path
) -> None:
    tree = tmp_path / "tree" / "ours" / "m" / "emotional_acts"
    for folder in sorted(reference_folders.glob("multiwoz_train_dataset/*"))[:2]:
        shutil.copytree(folder, tree / folder.name)
    answers = [
        json.dumps({"reasoning": "r", "anger_count": 2, "failure_notify_count": 0}),
        json.dumps({"anger_count": 0, "failure_notify_count": 1}),
    ]
    judge = scripts.write(tmp_path / "judge.json", answers)
    before = snapshot(tmp_path / "tree")
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "shared.cli",
        "analyze",
        str(tmp_path / "tree"),
        "--env",
        "multiwoz",
        "--out",
        str(out),
        "--anger-judge",
        judge,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert snapshot(tmp_path / "tree") == before
    summary = json.loads((out / "analysis.json").read_text())["experiments"]["ours/m/emotional_acts"]["summary"]
    assert (summary["judged"], summary["anger_per_dialogue"], summary["failure_notices_per_dialogue"]) == (2, 1.0, 0.5)
    assert (summary["dialogues_with_anger"], summary["dialogues_with_failure_notice"]) == (0.5, 0.5)
    judged = json.loads((out / "anger_failure.json").read_text())["experiments"]["ours/m/emotional_acts"]
    assert sorted(a["anger_count"] for a in judged) == [0, 2]
