"""Hostile and broken inputs, second round: damaged state in a results folder, and a full disk.

A dialogue whose files are there but do not hold what the kit writes is redone by the next run
(and counted alike by the progress line and the summary); a damaged run-level file stops the run
with one line before any model is called; a full disk stops it with one line and loses nothing.
Every case runs the real `ncusim simulate` on scripted models and checks the tree afterwards with
the consistency checker.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from multiwoz_env.environment import MultiwozEnvironment
from shared.llm import resolve
from shared.llm.cache import DiskCache
from shared.runner import completed, model_dir
from tests.reliability.test_hostile_inputs import ncusim, scripted_simulate
from tests.support.cli_env import isolated_env
from tests.support.consistency import check_run
from tests.support.openai_server import ScriptedOpenAIServer

SCENARIO = "PMUL0095"


def experiment_of(tmp_path: Path) -> Path:
    return tmp_path / "results" / "multiwoz" / "ours" / model_dir(f"scripted:{tmp_path / 'agent.json'}") / "normal"


def run(tmp_path: Path, data_home: Path, n: int = 1) -> subprocess.CompletedProcess[str]:
    return ncusim(tmp_path, data_home, *scripted_simulate(tmp_path, "--scenarios", SCENARIO, "--n", str(n), "--attempts", "1"))


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def grade_of_another_shape(folder: Path) -> None:
    write(folder / "grading_result.json", json.dumps({"train": {"book": "yes"}}))


def verdict_as_a_number(folder: Path) -> None:
    write(folder / "goal_align_result.json", json.dumps({"result": 1, "dial_idx": folder.name}))


def run_meta_cut_short(folder: Path) -> None:
    write(folder / "run_meta.json", (folder / "run_meta.json").read_text()[:17])


def folder_in_the_verdicts_place(folder: Path) -> None:
    (folder / "goal_align_result.json").unlink()
    (folder / "goal_align_result.json").mkdir()
    write(folder / "goal_align_result.json" / "note.txt", "not a verdict")


@pytest.mark.parametrize(
    "damage", [grade_of_another_shape, verdict_as_a_number, run_meta_cut_short, folder_in_the_verdicts_place], ids=lambda f: f.__name__
)
def test_a_dialogue_whose_files_do_not_validate_is_redone(data_home: Path, tmp_path: Path, damage: Callable[[Path], None]) -> None:
    first = run(tmp_path, data_home)
    assert first.returncode == 0, first.stderr[-2000:]
    folder = experiment_of(tmp_path) / f"{SCENARIO}.json_0"
    damage(folder)
    again = run(tmp_path, data_home)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "pass 1: 1 of 1 dialogues to simulate" in again.stdout
    assert "normal: 1/1 done" in again.stdout  # the progress line ...
    summary = next(line for line in again.stdout.splitlines() if line.startswith("ours/"))
    assert summary.split()[1] == "1/1"  # ... and the summary count the same dialogue
    log = json.loads((folder.parent / "regeneration_log.json").read_text())[folder.name]
    assert [e["attempt"] for e in log] == [1, 2] and log[1].get("redo_of_damaged") is True
    assert check_run(tmp_path / "results", MultiwozEnvironment(), 1) == {}  # sound and whole again
    settled = run(tmp_path, data_home)
    assert settled.returncode == 0 and "pass 1:" not in settled.stdout  # nothing left to redo


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("regeneration_log.json", json.dumps({f"{SCENARIO}.json_0": "done"})),
        ("regeneration_log.json", '{"a": [{"attempt": 1, "aligned": "no"}'),
        ("run.json", json.dumps({"invocations": {"1": "x"}})),
        ("run.json", json.dumps([1, 2, 3])),
    ],
    ids=["log-of-strings", "log-cut-short", "run-invocations-object", "run-as-list"],
)
def test_a_damaged_run_level_file_stops_the_run_before_any_call(data_home: Path, tmp_path: Path, name: str, text: str) -> None:
    experiment = experiment_of(tmp_path)
    experiment.mkdir(parents=True)
    write(experiment / name, text)
    done = run(tmp_path, data_home)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr[-2000:]
    assert done.stderr.startswith(f"ncusim: error: {experiment / name} ") and "move it aside and rerun" in done.stderr
    assert sorted(p.name for p in experiment.iterdir()) == [name]  # no dialogue was started
    (experiment / name).unlink()  # the fix the line names
    assert run(tmp_path, data_home).returncode == 0


def test_a_full_disk_stops_the_run_with_one_line_and_loses_nothing(data_home: Path, tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.fail("util-linux's unshare is needed to give the run a small disk of its own")
    results, out = tmp_path / "results", tmp_path / "out"
    results.mkdir()
    out.mkdir()
    args = scripted_simulate(tmp_path, "--limit", "4", "--n", "2", "--attempts", "1")
    command = shlex.join([sys.executable, "-m", "shared.cli", *args, "--results", str(results), "--concurrency", "2"])
    r, o = shlex.quote(str(results)), shlex.quote(str(out))
    # A file system of its own (tmpfs in a private mount namespace: no root needed), first with room
    # for some of the eight dialogues, not all; then grown, and the same command run again.
    script = f"""
        mount -t tmpfs -o size=600k tmpfs {r} || exit 90
        {command} > {o}/full.out 2> {o}/full.err; echo $? > {o}/full.rc
        cp -a {r} {o}/after_full
        mount -o remount,size=64m {r} || exit 91
        {command} > {o}/again.out 2> {o}/again.err; echo $? > {o}/again.rc
        cp -a {r} {o}/after_rerun
    """
    env = isolated_env(tmp_path, data_home)
    done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script], env=env, cwd=Path.cwd(), timeout=300)
    assert done.returncode == 0

    def read(name: str) -> str:
        return (out / name).read_text()

    assert read("full.rc").strip() == "2", read("full.out")[-2000:] + read("full.err")[-2000:]
    lines = read("full.err").strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"ncusim: error: no space left on the device under {results / 'multiwoz'}: the run stopped; ")
    assert "are complete and kept; free some space and rerun the same command" in lines[0]
    kept = [f for f in (out / "after_full").rglob("run_meta.json") if completed(MultiwozEnvironment(), f.parent)]
    assert read("again.rc").strip() == "0", read("again.err")[-2000:]
    rerun = out / "after_rerun"
    assert check_run(rerun, MultiwozEnvironment(), 1) == {} and len(list(rerun.rglob("run_meta.json"))) == 8
    for meta in kept:  # what was complete when the disk filled was kept, not redone
        folder = meta.parent
        again = rerun / folder.relative_to(out / "after_full")
        assert {p.name: p.read_bytes() for p in folder.glob("*.json")} == {p.name: p.read_bytes() for p in again.glob("*.json")}


def test_a_damaged_cache_entry_is_a_miss_not_an_answer(tmp_path: Path) -> None:
    with ScriptedOpenAIServer() as server:
        server.script(("reply", "first"), ("reply", "second"))
        model = resolve(f"{server.base_url}#m", cache=DiskCache(tmp_path / "llm"))
        messages = [{"role": "user", "content": "hi"}]
        assert asyncio.run(model.chat(messages, temperature=0)).text == "first"
        assert asyncio.run(model.chat(messages, temperature=0)).text == "first"  # from the cache
        for entry in (tmp_path / "llm").rglob("*.json"):
            entry.write_text(json.dumps({"text": ["not", "text"], "prompt_tokens": "11"}))
        assert asyncio.run(model.chat(messages, temperature=0)).text == "second"  # asked again
        assert len(server.requests) == 2


@pytest.mark.parametrize("state", ["[]", '{"servers": [{"name": "m", "port": "8000"}]}', '{"servers": "none"}'])
def test_a_damaged_server_list_gives_one_line(data_home: Path, tmp_path: Path, state: str) -> None:
    serving = tmp_path / "results" / "serving"
    serving.mkdir(parents=True)
    (serving / "servers.json").write_text(state)
    done = ncusim(tmp_path, data_home, "serving-status")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr[-2000:]
    assert f"{serving / 'servers.json'} is not a server list this kit wrote: stop the servers by hand and delete it" in done.stderr
