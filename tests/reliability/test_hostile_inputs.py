"""Hostile and broken inputs, second round (part): links in results trees, unbounded sizes, and
what reaches the terminal or the file system from names and model text.

Each case runs the real command (or the real HTTP path) and asserts the outcome: the right count,
or one `ncusim: error:` line and a non-zero exit, and nothing written outside the tree.
"""

from __future__ import annotations

import asyncio
import os
import random
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from shared.errors import ModelError, printable
from shared.llm import resolve
from shared.llm.retry import RetryPolicy
from shared.runner import model_dir
from shared.writer_lock import WriterLock
from tests.support import scripts
from tests.support.cli_env import isolated_env
from tests.support.openai_server import ScriptedOpenAIServer

NCUSIM = [sys.executable, "-m", "shared.cli"]
FOLDERS = ("MUL0001.json_0", "MUL0008.json_0", "MUL0022.json_0")


def tree_of(reference_folders: Path, root: Path, names: tuple[str, ...] = FOLDERS, experiment: str = "normal") -> Path:
    target = root / "ours" / "m" / experiment
    for name in names:
        shutil.copytree(reference_folders / "multiwoz_train_dataset" / name, target / name)
    return target


def ncusim(tmp_path: Path, data_home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = isolated_env(tmp_path, data_home)
    return subprocess.run([*NCUSIM, *args], env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- links in results trees -----------------------------------------------------------------


def test_a_link_loop_in_a_tree_is_skipped_and_counted(reference_folders: Path, data_home: Path, tmp_path: Path) -> None:
    experiment = tree_of(reference_folders, tmp_path / "tree")
    (experiment / "again").symlink_to(experiment.parent.parent, target_is_directory=True)  # experiment/again -> ours
    (experiment.parent / "self").symlink_to(".", target_is_directory=True)
    started = time.monotonic()
    done = ncusim(tmp_path, data_home, "score", "--env", "multiwoz", str(tmp_path / "tree"))
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60
    assert "scored 3 dialogue folders" in done.stdout and "skipped 2 symbolic links in the tree (not followed)" in done.stdout


def test_a_dialogue_folder_linked_out_of_the_tree_is_not_written_through(reference_folders: Path, data_home: Path, tmp_path: Path) -> None:
    outside = tree_of(reference_folders, tmp_path / "outside", names=("MUL0022.json_0",))
    (outside / "MUL0022.json_0" / "grading_result.json").unlink()
    before = snapshot(outside)
    experiment = tree_of(reference_folders, tmp_path / "tree", names=FOLDERS[:2])
    (experiment / "MUL0022.json_0").symlink_to(outside / "MUL0022.json_0", target_is_directory=True)
    done = ncusim(tmp_path, data_home, "score", "--env", "multiwoz", "--regrade", str(tmp_path / "tree"))
    assert done.returncode == 0, done.stderr
    assert "re-graded 2 dialogue folders" in done.stdout and "skipped 1 symbolic links" in done.stdout
    assert snapshot(outside) == before  # nothing written through the link


def test_a_tree_deeper_than_the_interpreters_stack_is_walked(reference_folders: Path, data_home: Path, tmp_path: Path) -> None:
    deep = tmp_path / "tree"
    deep.mkdir()
    for _ in range(1400):  # 1,400 levels: past Python's recursion limit, under PATH_MAX (mkdir -p recurses)
        deep /= "d"
        deep.mkdir()
    (deep / "normal").mkdir()
    try:
        shutil.copytree(reference_folders / "multiwoz_train_dataset" / FOLDERS[0], deep / "normal" / FOLDERS[0])
        for args in (("score", "--env", "multiwoz"), ("report", "--out", str(tmp_path / "report"))):
            done = ncusim(tmp_path, data_home, args[0], str(tmp_path / "tree"), *args[1:])
            assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
        score = ncusim(tmp_path, data_home, "score", "--env", "multiwoz", str(tmp_path / "tree"))
        assert "scored 1 dialogue folders" in score.stdout
    finally:  # pytest's own clean-up (shutil.rmtree, recursive) would hit the limit; GNU rm does not
        subprocess.run(["rm", "-rf", str(tmp_path / "tree")], check=True)


def test_analyze_counts_each_folder_once_beside_a_link_to_its_own_tree(reference_folders: Path, data_home: Path, tmp_path: Path) -> None:
    experiment = tree_of(reference_folders, tmp_path / "tree")
    (tmp_path / "tree" / "mirror-of-ours").symlink_to(experiment.parent.parent, target_is_directory=True)
    done = ncusim(tmp_path, data_home, "analyze", str(tmp_path / "tree"), "--env", "multiwoz", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "analysed 3 dialogue folders in 1 experiments" in done.stdout and "skipped 1 symbolic links" in done.stdout


# --- sizes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("--n", "99999999999999999999"), "N must be between 1 and 1,000 simulations per scenario, not 99,999,999,999,999,999,999"),
        (("--max-steps", "0"), "--max-steps must be between 1 and 1000, not 0 (the paper: 30)"),
        (("--max-steps", "-5"), "--max-steps must be between 1 and 1000, not -5 (the paper: 30)"),
    ],
)
def test_out_of_range_sizes_stop_at_once_with_one_line(data_home: Path, tmp_path: Path, args: tuple[str, ...], line: str) -> None:
    started = time.monotonic()
    done = ncusim(tmp_path, data_home, "simulate", "--models", "local", "--user-model", "local", *args, timeout=60)
    assert done.returncode == 2 and done.stderr.strip() == f"ncusim: error: {line}"
    assert time.monotonic() - started < 30 and not (tmp_path / "results").exists()


def test_a_plan_past_the_limit_is_refused_before_it_is_built(data_home: Path, tmp_path: Path) -> None:
    models = ",".join(f"scripted:/nowhere/m{i}.json" for i in range(12))
    done = ncusim(tmp_path, data_home, "simulate", "--models", models, "--user-model", "local", "--n", "1000", "--estimate", timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "ncusim: error: the plan has 1,068,000 dialogues; the limit is 1,000,000: lower N, SUBSET/LIMIT or the lists"
    )


def test_an_endless_answer_is_cut_at_the_body_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every endpoint's answer is read up to MAX_BODY; shrunk here so the test stays small.
    monkeypatch.setattr("shared.llm.http_transport.MAX_BODY", 4096)
    with ScriptedOpenAIServer() as server:
        server.script(("reply", "x" * 20_000))
        model = resolve(f"{server.base_url}#big", retry=RetryPolicy(attempts=3, base_delay=0.01))
        with pytest.raises(ModelError, match="sent an answer too large to be a chat completion"):
            asyncio.run(model.chat([{"role": "user", "content": "hi"}]))
        assert len(server.requests) == 1  # a broken server is not asked again


def bomb_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    return path


def fetch(tmp_path: Path, data_home: Path, mirror: Path) -> subprocess.CompletedProcess[str]:
    env = {**isolated_env(tmp_path, data_home), "NCUSIM_RESULTS_MIRROR": str(mirror)}
    return subprocess.run([*NCUSIM, "fetch-results", "--env", "multiwoz"], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("members", "line"),
    [
        # A bomb beside incompressible data: the whole archive's ratio is low, the member's is not.
        (
            {"experiment_result/noise.bin": random.Random(5).randbytes(20 * 2**20), "experiment_result/x.json": b"\0" * (40 * 2**20)},
            "'experiment_result/x.json' inflates 1,0",
        ),
        ({f"experiment_result/ours/m/normal/{i}.txt": b" " * (2 * 2**20) for i in range(12)}, "would unpack"),
    ],
    ids=["one-member", "many-members"],
)
def test_an_archive_bomb_is_refused_before_a_byte_is_unpacked(
    data_home: Path, tmp_path: Path, members: dict[str, bytes], line: str
) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive = bomb_zip(mirror / "experiment_result_multiwoz.zip", members)
    assert archive.stat().st_size < 24 * 2**20  # a small download ...
    done = fetch(tmp_path, data_home, mirror)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr[-2000:]
    assert line in done.stderr and "an archive bomb or a damaged archive: not unpacking it" in done.stderr
    published = tmp_path / "results" / "published"
    assert not published.exists() or not any(published.rglob("*"))  # ... that left nothing behind


def test_an_archive_larger_than_the_free_space_is_not_started(data_home: Path, tmp_path: Path) -> None:
    mirror, results = tmp_path / "mirror", tmp_path / "results"
    mirror.mkdir()
    results.mkdir()
    text = "".join(f"{i:08x} dialogue turn {i * 7919 % 104729}\n" for i in range(160_000)).encode()  # ~5 MB, deflates ~4x
    bomb_zip(mirror / "experiment_result_multiwoz.zip", {"experiment_result/ours/m/normal/MUL0001.json_0/log.txt": text})
    env = {**isolated_env(tmp_path, data_home), "NCUSIM_RESULTS_MIRROR": str(mirror)}
    command = shlex.join([*NCUSIM, "fetch-results", "--env", "multiwoz"])
    script = f'mount -t tmpfs -o size=3m tmpfs {shlex.quote(str(results))} && {command}; echo "rc=$?" >&2; ls -A {results}'
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    lines = done.stderr.strip().splitlines()
    assert lines[-1] == "rc=2" and len(lines) == 2, done.stderr[-2000:]
    assert "experiment_result_multiwoz.zip unpacks to" in lines[0]
    assert "MiB free (with 256 MiB to spare): free some space and rerun" in lines[0]
    assert done.stdout.splitlines() == ["multiwoz: fetching experiment_result_multiwoz.zip ..."]  # `ls -A` listed nothing left


# --- names and text that reach the terminal or the file system -------------------------------


def test_control_characters_in_folder_names_never_reach_the_terminal(reference_folders: Path, data_home: Path, tmp_path: Path) -> None:
    hostile = "normal\x1b]0;pwned\x07\x1b[2J\x9b31m"
    tree_of(reference_folders, tmp_path / "tree", names=FOLDERS[:1], experiment=hostile)
    for args in (("score", "--env", "multiwoz"), ("analyze", "--env", "multiwoz", "--out", str(tmp_path / "out"))):
        done = ncusim(tmp_path, data_home, args[0], str(tmp_path / "tree"), *args[1:])
        assert done.returncode == 0, done.stderr
        assert "\x1b" not in done.stdout + done.stderr and "\x07" not in done.stdout and "\x9b" not in done.stdout
        assert "normal\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m" in done.stdout


def test_chat_shows_a_models_escape_sequences_instead_of_running_them(data_home: Path, tmp_path: Path) -> None:
    with ScriptedOpenAIServer() as server:
        server.script(("reply", "\x1b[2J\x1b]0;title\x07red\x1b[0m\tdone\nline two"))
        done = ncusim(tmp_path, data_home, "chat", "hello", "--model", f"{server.base_url}#m")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "\\x1b[2J\\x1b]0;title\\x07red\\x1b[0m\tdone\nline two\n"


@pytest.mark.parametrize("name", ["..", ".", "../../etc", "a/../../b", ".hidden", "x\x00y", "a\x1b[2Jb", "/"])
def test_model_names_become_one_safe_folder_name(name: str, tmp_path: Path) -> None:
    for spec in (name, f"http://127.0.0.1:9/v1#{name}", f"vllm:{name}", f"openrouter:{name}"):
        folder = model_dir(spec)
        assert folder and os.sep not in folder and folder not in (".", "..") and not folder.startswith(".")
        assert printable(folder) == folder
        assert (tmp_path / "ours" / folder).resolve().parent == (tmp_path / "ours").resolve()
    assert model_dir("gpt-4.1-nano") == "gpt-4.1-nano" and model_dir("qwen/qwen3-30b-a3b") == "qwen__qwen3-30b-a3b"


def test_printable_keeps_text_and_escapes_only_controls() -> None:
    assert printable("naïve — 日本 ok\tand\nmore") == "naïve — 日本 ok\tand\nmore"
    assert printable("a\x00b\x1bc\x7fd\x85e") == "a\\x00b\\x1bc\\x7fd\\x85e"


# --- two writers, one folder --------------------------------------------------------------------


def scripted_simulate(tmp_path: Path, *extra: str) -> list[str]:
    agent = scripts.write(tmp_path / "agent.json", ['- Thought: t\n- Action: Talk("Done.")'] * 50)
    user = scripts.write(tmp_path / "user.json", ["Thanks. <END>"] * 50)
    helpers = scripts.helpers(tmp_path / "helpers.json")
    return ["simulate", "--models", agent, "--user-model", user, "--helper-model", helpers, "--judge-model", helpers, *extra]


def test_a_second_simulate_on_a_busy_results_folder_stops_naming_the_writer(data_home: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    with WriterLock(results / "multiwoz", "simulate"):
        done = ncusim(tmp_path, data_home, *scripted_simulate(tmp_path, "--scenarios", "PMUL0095", "--n", "1", "--results", str(results)))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"ncusim: error: another ncusim is writing to {results / 'multiwoz'} (pid {os.getpid()} simulate)")
    assert [p.name for p in (results / "multiwoz").iterdir()] == [".ncusim.lock"]  # no dialogue was started
    again = ncusim(tmp_path, data_home, *scripted_simulate(tmp_path, "--scenarios", "PMUL0095", "--n", "1", "--results", str(results)))
    assert again.returncode == 0, again.stderr  # the lock went with its holder


def test_regrading_under_a_running_writer_is_refused_and_changes_nothing(reference_folders: Path, data_home: Path, tmp_path: Path) -> None:
    experiment = tree_of(reference_folders, tmp_path / "results" / "multiwoz")
    before = snapshot(tmp_path / "results")
    with WriterLock(tmp_path / "results" / "multiwoz", "simulate"):
        done = ncusim(tmp_path, data_home, "score", "--env", "multiwoz", "--regrade", str(experiment))
    assert done.returncode == 2 and f"(pid {os.getpid()} simulate)" in done.stderr and done.stderr.count("\n") == 1
    assert {k: v for k, v in snapshot(tmp_path / "results").items() if not k.endswith(".ncusim.lock")} == before


def test_a_scenario_listed_twice_runs_once(data_home: Path, tmp_path: Path) -> None:
    done = ncusim(tmp_path, data_home, *scripted_simulate(tmp_path, "--scenarios", "PMUL0095,MUL1274,PMUL0095", "--n", "1", "--estimate"))
    assert done.returncode == 0, done.stderr
    assert "note: PMUL0095 listed more than once: each runs once" in done.stderr and "for 2 dialogues" in done.stdout
