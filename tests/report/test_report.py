"""The report page (`ncusim report`): score rows with spreads, plots, and the transcript viewer
checked in headless Chromium (Debian's `chromium`, driven by playwright without a browser download)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import pytest

from multiwoz_env.viewer import parse_reply as parse_multiwoz_reply
from shared.analysis.report import build_report, experiment_rows, pick_transcripts
from shared.analysis.report_data import Dialogue, collect
from shared.analysis.report_rows import Section
from shared.analysis.stats import bootstrap_ci, group_means, spread
from shared.errors import ConfigError
from shared.runner import Runner, RunPlan
from shared.usersim import Behaviors
from shared.usersim.models import DEFAULTS
from tau_env.viewer import parse_reply as parse_tau_reply
from tests.runner.test_runner_scripted import TALK, USER, booking_calls
from tests.support import scripts
from tests.tau.test_tau_files_and_scores import STOP_USER, gt_replies

if TYPE_CHECKING:
    from playwright.sync_api import Dialog

KIT = Path(__file__).resolve().parents[2]
SCREENSHOT = KIT / "results" / "reports" / "test-screenshot.png"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REFERENCE_COUNT = 80
XSS = "<script>alert(1)</script>"


# --- statistics ------------------------------------------------------------------------------


def test_bootstrap_ci_is_seeded_and_honest() -> None:
    assert bootstrap_ci([42.0] * 30) == (42.0, 42.0)  # identical values: zero width
    assert bootstrap_ci([7.0]) == (7.0, 7.0)
    assert all(math.isnan(x) for x in bootstrap_ci([]))
    data = [0.0, 100.0] * 20 + [50.0] * 10
    low, high = bootstrap_ci(data)
    assert bootstrap_ci(data) == (low, high)  # fixed seed: the same interval every time
    assert bootstrap_ci(data, seed=1) != (low, high)
    assert 0.0 < low < sum(data) / len(data) < high < 100.0
    # Half-width close to the normal approximation 1.96 * sd / sqrt(n) (sd = 44.7, n = 50: 12.4).
    assert 9.0 < (high - low) / 2 < 15.0
    assert group_means([("a", 100.0), ("b", 0.0), ("a", 0.0)]) == [50.0, 0.0]
    s = spread([100.0, 50.0], [100.0, 50.0, 75.0])
    assert (s.mean, s.std, s.runs, s.scenarios) == (75.0, 25.0, 2, 3)
    assert s.ci_low <= 75.0 <= s.ci_high and s.text().startswith("75.0 ± 25.0 [")


def test_agent_replies_are_parsed_not_executed() -> None:
    call = parse_multiwoz_reply("- Thought: look\n- Action: API call{'api_name':'train_retrieve','input_parameters':{'day':'monday'}}")
    assert call == {
        "thought": "look",
        "kind": "call",
        "name": "train_retrieve",
        "action": "{'api_name':'train_retrieve','input_parameters':{'day':'monday'}}",
    }
    talk = parse_multiwoz_reply('- Thought: ask\n- Action: Talk("Which day (Monday)?")')
    assert (talk["kind"], talk["action"], talk["thought"]) == ("talk", "Which day (Monday)?", "ask")
    assert parse_multiwoz_reply("no format at all")["kind"] == "raw"
    tool = parse_tau_reply('Thought:\nfind\nAction:\n{"name": "get_user_details", "arguments": {"user_id": "x"}}')
    assert (tool["kind"], tool["name"], tool["thought"]) == ("call", "get_user_details", "find") and '"user_id": "x"' in tool["action"]
    respond = parse_tau_reply('Thought:\nok\nAction:\n{"name": "respond", "arguments": {"content": "Done."}}')
    assert (respond["kind"], respond["action"]) == ("talk", "Done.")
    assert parse_tau_reply("Thought:\nx\nAction:\n__import__('os').system('true')")["kind"] == "raw"


def test_transcripts_past_the_limit_are_spread_over_experiments() -> None:
    def dialogue(i: int, experiment: str, run: int) -> Dialogue:
        folder = Path("/r") / experiment / f"S{i}.json_{run}"
        return Dialogue(
            i, "multiwoz", folder, "", "ours", "m", experiment, f"S{i}.json", run, True, True, 1.0, "PASS", True, 2, None, [], True
        )

    dialogues = [dialogue(i, "a", i % 2) for i in range(10)] + [dialogue(10 + i, "b", 0) for i in range(2)]
    assert pick_transcripts(dialogues, None) == pick_transcripts(dialogues, 12) == set(range(12))
    picked = pick_transcripts(dialogues, 5)
    assert len(picked) == 5 and {10, 11} <= picked  # the small experiment is not crowded out
    assert pick_transcripts(dialogues, 5) == picked


def test_no_dialogue_folders_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no dialogue folders"):
        build_report(tmp_path / "empty", tmp_path / "out")
    done = subprocess.run([sys.executable, "-m", "shared.cli", "report", str(tmp_path / "empty")], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"ncusim: error: no dialogue folders (multiwoz or tau) under {tmp_path / 'empty'}"
    ]


# --- trees -----------------------------------------------------------------------------------


def copy_writable(source: Path, target: Path) -> None:
    """The mirror is read-only: copy contents without modes so the copy can be edited and removed."""
    shutil.copytree(source, target, copy_function=shutil.copyfile)
    for folder, _, _ in os.walk(target):
        os.chmod(folder, 0o755)


def reference_tree(reference_folders: Path, experiment: Path) -> None:
    """The 80 published folders as one experiment; 20 names repeat across the three sets."""
    listed = (reference_folders / "REFERENCE_FOLDERS.txt").read_text().split()
    for entry in listed:
        source = reference_folders / entry
        name = source.name if not (experiment / source.name).exists() else f"{source.parent.name.rsplit('_', 1)[-1]}-{source.name}"
        copy_writable(source, experiment / name)
    assert len(listed) == REFERENCE_COUNT


class CommonPlan(TypedDict):
    """The RunPlan arguments both scripted runs share."""

    helper_models: dict[str, str]
    judge_model: str
    attempts: int
    concurrency: int
    results: Path


def scripted_runs(tmp: Path, root: Path) -> None:
    """Ours: one MultiWOZ scenario, normal and tangential, N=2; one Tau task, N=1."""
    hotel, food = booking_calls()
    helpers = scripts.helpers(tmp / "helpers.json")
    common: CommonPlan = {
        "helper_models": {call: helpers for call in DEFAULTS if call not in ("user", "judge")},
        "judge_model": helpers,
        "attempts": 1,
        "concurrency": 1,
        "results": root,
    }
    multiwoz = RunPlan(
        env="multiwoz",
        models=[scripts.write(tmp / "agent.json", [hotel, food, TALK, hotel, TALK] * 20)],
        behaviors=[Behaviors.parse("normal"), Behaviors.parse("tangential")],
        n=2,
        scenario_ids=["MUL1274"],
        user_model=scripts.write(tmp / "user.json", USER * 40),
        **common,
    )
    tau = RunPlan(
        env="tau",
        models=[scripts.write(tmp / "tau-agent.json", gt_replies("airline", 0) * 40)],
        behaviors=[Behaviors.parse("normal")],
        n=1,
        scenario_ids=["airline_0"],
        user_model=scripts.write(tmp / "tau-user.json", STOP_USER * 200),
        **common,
    )
    for plan in (multiwoz, tau):
        asyncio.run(Runner(plan, echo=lambda line: None).run())


@pytest.fixture
def tree(data_home: Path, reference_folders: Path, tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    reference_tree(reference_folders, root / "experiment_result" / "ours" / "gpt-4.1-mini" / "normal")
    scripted_runs(tmp_path, root)
    return root


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


# --- the page --------------------------------------------------------------------------------


def test_report_rows_scores_and_viewer_in_chromium(tree: Path, tmp_path: Path, browser) -> None:
    data = collect(tree)
    assert len(data.dialogues) == REFERENCE_COUNT + 4 + 1 and not data.failures
    rows = experiment_rows(data)
    pooled = {(r.env, r.tree, r.behaviour): r for r in rows if r.group is None}
    assert set(pooled) == {
        ("multiwoz", "experiment_result/ours", "normal"),
        ("multiwoz", "multiwoz/ours", "normal"),
        ("multiwoz", "multiwoz/ours", "tangential"),
        ("tau", "tau/ours", "normal"),
    }
    for env_name, scores in data.scores.items():  # the same numbers as `ncusim score`
        for experiment, block in scores.blocks.items():
            row = next(r for r in rows if r.folder == experiment and r.group is None and r.env == env_name)
            assert row.success.mean == pytest.approx(sum(block.values["success_rate"]) / len(block.runs))
            assert row.graded == block.total_graded
    published = pooled[("multiwoz", "experiment_result/ours", "normal")]
    assert published.graded == REFERENCE_COUNT and published.cost is None
    assert published.success.ci_low <= published.success.mean <= published.success.ci_high
    tau = pooled[("tau", "tau/ours", "normal")]
    assert tau.success.mean == 100.0 and tau.cost is not None and (tau.success.ci_low, tau.success.ci_high) == (100.0, 100.0)
    assert [r.group for r in rows if r.env == "tau"] == [None, "airline"]
    ours = (pooled[("multiwoz", "multiwoz/ours", "normal")], pooled[("multiwoz", "multiwoz/ours", "tangential")])
    if ours[0].success.mean > 0:
        assert ours[1].relative_sr == pytest.approx(ours[1].success.mean / ours[0].success.mean * 100)

    # The CLI: default output folder under results/reports/<name of PATH>/, counts printed.
    done = subprocess.run([sys.executable, "-m", "shared.cli", "report", str(tree)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    page = tmp_path / "results" / "reports" / "tree" / "index.html"
    assert (
        done.stdout.startswith(f"{page} (")
        and "85 dialogues (multiwoz, tau), 4 experiments, 0 not gradable, 85 transcripts embedded" in done.stdout
    )
    text = page.read_text()
    assert text.count("<script") == 2 and "data:image/png;base64," in text and "http://" not in text.split("<body>")[1].split("<script")[0]

    errors: list[str] = []
    view = browser.new_page(viewport={"width": 1500, "height": 1100})
    view.on("pageerror", lambda error: errors.append(str(error)))
    view.goto(page.as_uri())
    table_rows = view.locator("#dlg-table tbody tr")
    visible = view.locator("#dlg-table tbody tr:not([hidden])")
    assert table_rows.count() == 85 and visible.count() == 85
    assert view.locator("#scores table.scores tbody tr").count() == len(rows)
    assert view.locator("#plots img").count() >= 3  # SR bars for each (env, tree)
    view.select_option("#f-env", "tau")
    assert visible.count() == 1 and view.text_content("#dlg-count") == "1 of 85 dialogues"
    visible.first.click()
    assert "call book_reservation" in view.inner_text("#transcript .agent-action >> nth=0")
    assert view.locator("#transcript details.observation").count() >= 1
    view.select_option("#f-env", "")
    view.select_option("#f-behaviour", "tangential")
    assert visible.count() == 2
    view.select_option("#f-behaviour", "")
    view.fill("#f-text", "MUL0087_tangential")  # a published folder: tangents derived from tangential_config.json
    assert visible.count() == 1
    visible.first.click()
    assert view.locator("#transcript .turn-user .badge.ev-tangent.derived").count() >= 1
    assert "not recorded" in view.inner_text("#transcript")
    view.fill("#f-text", "")
    view.select_option("#f-tree", "multiwoz/ours")
    view.select_option("#f-behaviour", "tangential")
    assert visible.count() == 2
    visible.first.click()
    transcript = view.locator("#transcript")
    assert transcript.locator(".turn-user").count() >= 2
    assert transcript.locator(".turn-user").first.locator(".badge.ev-tangent").count() == 1
    assert "goal items conveyed: restaurant-" in transcript.locator(".turn-user").first.inner_text()
    assert "call accommodation_book" in transcript.locator(".agent-action").first.inner_text()
    observation = transcript.locator("details.observation").first
    assert "Booking Success" in observation.locator("summary").inner_text()
    observation.locator("summary").click()
    assert observation.locator("pre").is_visible()
    assert "FAIL" in view.inner_text("#transcript .grade") or "PASS" in view.inner_text("#transcript .grade")
    assert not errors, errors
    shot = tmp_path / "screenshot.png"
    view.screenshot(path=str(shot), full_page=False)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT)
    width, height = png_size(SCREENSHOT)
    assert (width, height) == (1500, 1100) and SCREENSHOT.stat().st_size > 20_000


def test_dialogue_text_is_shown_as_text(reference_folders: Path, tmp_path: Path, browser) -> None:
    folder = tmp_path / "tree" / "experiment_result" / "ours" / "gpt-4.1-mini" / "tangential" / "MUL0087.json_0"
    copy_writable(reference_folders / "multiwoz_train_dataset_4010101030" / "MUL0087_tangential.json_0", folder)
    chat = json.loads((folder / "dial_hist_system_list.json").read_text())
    first_user = next(m for m in chat if m["role"] == "user")
    first_user["content"] = f" {XSS} I need a hotel </script><b>bold</b>"
    first_agent = next(m for m in chat if m["role"] == "assistant")
    first_agent["content"] = '- Thought: <img src=x onerror="alert(2)">\n- Action: Talk("<iframe src=javascript:alert(3)>")'
    (folder / "dial_hist_system_list.json").write_text(json.dumps(chat))
    section = Section("Error analysis", ["kind", "count"], [["<i>format</i>", 3], ["share", 0.25]], note="<b>note</b>")
    page = build_report(tmp_path / "tree", tmp_path / "out", title="<t>", extra_sections=[section])
    text = page.read_text()
    assert XSS not in text and "<b>bold</b>" not in text and "<i>format</i>" not in text and text.count("<script") == 2
    assert "&lt;i&gt;format&lt;/i&gt;" in text and "<td>0.25</td>" in text and "&lt;b&gt;note&lt;/b&gt;" in text

    dialogs: list[str] = []
    view = browser.new_page()

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    view.on("dialog", on_dialog)
    view.goto(page.as_uri())
    assert view.locator("#dlg-table tbody tr").count() == 1
    view.locator("#dlg-table tbody tr").first.click()
    user = view.locator("#transcript .turn-user").first.inner_text()
    assert XSS in user and "</script><b>bold</b>" in user
    assert view.locator("#transcript script, #transcript b, #transcript img, #transcript iframe").count() == 0
    assert "<iframe src=javascript:alert(3)>" in view.locator("#transcript .agent-action").first.inner_text()
    assert view.title() == "<t>" and not dialogs
