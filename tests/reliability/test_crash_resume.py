"""Crashes: `ncusim simulate` SIGKILLed at seeded random moments, then resumed to completion.

Each of 20 seeded trials (`--crash-trials N` to change) starts the real command as a subprocess (scripted models, so no server
and no cost: 10 dialogues over five behaviours and two scenarios, regeneration on, several in
flight at once), kills it at a moment drawn from the trial's seed (after k dialogues are complete,
k drawn, plus a drawn delay of up to 0.1 s; odd seeds instead at the first moment after that with a
dialogue in flight, so that state is always covered), runs the same command again, and checks
every dialogue folder with `tests.support.consistency`: complete, internally consistent,
simulated once; dialogues already final at the kill keep every file byte for byte and mtime.
Two trials run at a time (two cores). The file costs about 100 s of CPU, three quarters of it the
40 start-ups of `ncusim simulate` (about 1.3 s each: the openai SDK import and the data check), so
about a minute of wall time on two otherwise idle cores, up to two minutes when they are shared.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from multiwoz_env import resources
from shared import environment
from shared.runner import is_complete
from shared.scoring import read_aligned
from shared.usersim.models import DEFAULTS
from tests.support import scripts
from tests.support.consistency import check_dialogue, check_run, dialogue_folders, fingerprint

# pytest-xdist: the module's finished run is made once, on one worker.
pytestmark = pytest.mark.xdist_group("crash-resume")

SCENARIOS = "MUL1274,PMUL0095"
BEHAVIORS = ["normal", "tangential", "emotional_acts", "fragment_dumping", "unavailable_service"]
TOTAL = 2 * len(BEHAVIORS)  # N=1
ATTEMPTS = 2
TALK = '- Thought: done\n- Action: Talk("All booked for you.")'
LOOKUP = "- Thought: look\n- Action: API call{'api_name':'restaurant_retrieve','input_parameters':{'food':'british','area':'west'}}"
USER = ["Hello, I need a hotel and a restaurant.", "Thank you, that is all. <END>"]


@dataclass
class Trial:
    seed: int
    killed_live: bool  # the process was still running when the kill came
    final_before: int  # dialogues final (complete, and aligned or out of attempts) at the kill
    in_flight: int  # dialogue folders present but not complete at the kill
    resumed_todo: int | None  # "pass 1: X of N" of the resume (None: nothing left to do)
    seconds: float


@pytest.fixture(scope="module")
def command(data_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The simulate command without --results: scripted agent, user, helpers and an alternating judge."""
    tmp = tmp_path_factory.mktemp("crash-scripts")
    hotel = next(e for e in resources.db("accommodation") if e["name"] == "cityroomz")
    book = (  # MUL1274's hotel: that domain can pass
        "- Thought: book\n- Action: API call{'api_name':'accommodation_book','input_parameters':"
        f"{{'id':{hotel['id']},'day':'saturday','people':7,'stay':2}}}}"
    )
    agent = scripts.write(tmp / "agent.json", [LOOKUP, TALK, book, TALK, TALK] * 400)
    user = scripts.write(tmp / "user.json", USER * 1000)
    helpers = scripts.helpers(tmp / "helpers.json")
    # Alternating verdicts: depending on the interleaving, some dialogues are judged unaligned and regenerated.
    judge = scripts.write(
        tmp / "judge.json",
        [json.dumps({**scripts.UNION, "selected_numbers": pick}) for pick in (list(range(1, 31)), [])] * 1000,
    )
    yield [
        sys.executable, "-m", "shared.cli", "simulate", "--env", "multiwoz", "--models", agent,
        "--behaviors", ",".join(BEHAVIORS), "--scenarios", SCENARIOS, "--n", "1", "--max-steps", "5",
        "--user-model", user, "--judge-model", judge,
        *[arg for call in DEFAULTS if call not in ("user", "judge") for arg in ("--helper", f"{call}={helpers}")],
        "--concurrency", "3", "--attempts", str(ATTEMPTS),
    ]  # fmt: skip


def experiments(results: Path) -> list[Path]:
    return [results / "multiwoz" / "ours" / "agent.json" / b for b in BEHAVIORS]


def progress(results: Path) -> tuple[int, int]:
    """(dialogue folders, complete ones): a cheap look, taken every 20 ms while the run goes."""
    folders = complete = 0
    for experiment in experiments(results):
        if experiment.is_dir():
            for entry in experiment.iterdir():
                if entry.is_dir():
                    folders += 1
                    complete += (entry / "grading_result.json").is_file()
    return folders, complete


def is_final(folder: Path) -> bool:
    """Nothing left to do for this dialogue: a resume must not touch it."""
    if not is_complete(folder):
        return False
    attempt = json.loads((folder / "run_meta.json").read_text())["attempt"]
    return bool(read_aligned(folder)) or attempt >= ATTEMPTS


def run_trial(command: list[str], results: Path, seed: int) -> Trial:
    rng = random.Random(f"crash-trial-{seed}")
    target = rng.randrange(TOTAL)  # kill once this many dialogues are complete ...
    extra = rng.uniform(0.0, 0.1)  # ... plus this long
    started = time.monotonic()
    proc = subprocess.Popen([*command, "--results", str(results)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = started + 60
    # Odd seeds kill at the first look that finds a dialogue in flight once the target is met (so
    # half the trials surely hit that state); even seeds wait the drawn extra delay, wherever it lands.
    in_flight_kill = seed % 2 == 1
    while proc.poll() is None and time.monotonic() < deadline:
        present, complete = progress(results)
        if present and complete >= target and (not in_flight_kill or present > complete):
            break
        time.sleep(0.005 if in_flight_kill and complete >= target else 0.02)
    time.sleep(0.0 if in_flight_kill else extra)
    killed_live = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    folders = dialogue_folders(results)
    final = [f for f in folders if is_final(f)]
    in_flight = sum(1 for f in folders if not is_complete(f))
    before = fingerprint(final)
    resumed = subprocess.run([*command, "--results", str(results)], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert fingerprint(final) == before, f"trial {seed}: a dialogue final before the kill was touched by the resume"
    todo = re.search(rf"pass 1: (\d+) of {TOTAL} dialogues to simulate", resumed.stdout)
    if todo:
        assert int(todo.group(1)) == TOTAL - len(final), (seed, resumed.stdout[-1500:])  # exactly the unfinished ones
    else:
        assert len(final) == TOTAL, resumed.stdout[-1500:]
    return Trial(seed, killed_live, len(final), in_flight, int(todo.group(1)) if todo else None, time.monotonic() - started)


def test_sigkill_at_random_moments_then_resume_leaves_every_dialogue_whole(
    command: list[str], tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    count = int(pytestconfig.getoption("--crash-trials"))  # 20 unless told (CI runs 20)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        trials = list(pool.map(lambda seed: run_trial(command, tmp_path / f"trial-{seed}", seed), range(count)))
    summary = [(t.seed, t.killed_live, t.final_before, t.in_flight, t.resumed_todo, round(t.seconds, 1)) for t in trials]
    print(f"\n{count} trials in {time.monotonic() - started:.1f}s (seed, live kill, final, in flight, resumed, s): {summary}")
    env = environment.get("multiwoz")
    for trial in trials:
        results = tmp_path / f"trial-{trial.seed}"
        folders = dialogue_folders(results)
        assert len(folders) == TOTAL, f"trial {trial.seed}: {len(folders)} dialogue folders"
        problems = check_run(results, env, ATTEMPTS)
        assert problems == {}, f"trial {trial.seed}: {json.dumps(problems, indent=1)}"
        for experiment in experiments(results):
            log = json.loads((experiment / "regeneration_log.json").read_text())
            assert sorted(log) == sorted(p.name for p in experiment.iterdir() if p.is_dir())
    # The kills landed where they matter: mostly in a live run, often with dialogues in flight,
    # both before anything was final and when some were.
    live = [t for t in trials if t.killed_live]
    assert len(live) >= count * 3 // 4, [(t.seed, t.killed_live) for t in trials]
    assert sum(1 for t in live if t.in_flight > 0) >= count // 2
    assert any(t.final_before == 0 for t in live) and any(0 < t.final_before < TOTAL for t in live)
    regenerated = sum(
        1
        for t in trials
        for f in dialogue_folders(tmp_path / f"trial-{t.seed}")
        if json.loads((f / "run_meta.json").read_text())["attempt"] > 1
    )
    assert regenerated > 0  # the alternating judge made some dialogues go through a second attempt


@pytest.fixture(scope="module")
def finished(command: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted run of the command (tests copy it before changing anything)."""
    results = tmp_path_factory.mktemp("finished") / "results"
    done = subprocess.run([*command, "--results", str(results)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return results


def test_the_checker_finds_what_a_crash_could_break(finished: Path, tmp_path: Path) -> None:
    """The checker is not vacuous: each kind of damage to a sound folder is reported."""
    results = tmp_path / "results"
    shutil.copytree(finished, results)
    env = environment.get("multiwoz")
    assert check_run(results, env, ATTEMPTS) == {}
    folder = dialogue_folders(results)[0]
    log = json.loads((folder.parent / "regeneration_log.json").read_text())
    entries = log[folder.name]

    def problems() -> list[str]:
        return check_dialogue(folder, env, entries, ATTEMPTS)

    transcript = folder / "dial_hist_user.txt"
    original = transcript.read_text()
    transcript.write_text(original + "# You: one more turn\n")
    assert any("dial_hist_user.txt" in p for p in problems())
    transcript.write_text(original)
    grade = folder / "grading_result.json"
    graded = json.loads(grade.read_text())
    grade.write_text(json.dumps({domain: {"book": not v.get("book", True)} for domain, v in graded.items()}))
    assert any("recomputed grade" in p for p in problems())
    grade.write_text(json.dumps(graded, indent=4))
    assert problems() == []
    twice = [*entries, {**entries[-1]}]
    assert any("simulated twice" in p for p in check_dialogue(folder, env, twice, ATTEMPTS))
    (folder / "usage.json").unlink()
    assert any("missing usage.json" in p for p in problems())


def test_a_kill_between_the_grade_and_the_log_entry_is_recovered_not_rerun(finished: Path, command: list[str], tmp_path: Path) -> None:
    """The narrowest crash window, made deterministic: a dialogue's grade file is written (the folder
    is complete) but the process dies before its regeneration-log entry is saved. The resume takes
    the entry from the folder instead of simulating the dialogue again."""
    results = tmp_path / "results"
    shutil.copytree(finished, results)
    folder = next(f for f in dialogue_folders(results) if is_final(f))
    log_path = folder.parent / "regeneration_log.json"
    log = json.loads(log_path.read_text())
    lost = log[folder.name].pop()
    log_path.write_text(json.dumps(log, indent=4))
    before = fingerprint(dialogue_folders(results))
    resumed = subprocess.run([*command, "--results", str(results)], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "pass 1:" not in resumed.stdout  # nothing simulated
    assert fingerprint(dialogue_folders(results)) == before
    recovered = json.loads(log_path.read_text())[folder.name][-1]
    assert recovered["recovered"] is True
    assert {k: recovered[k] for k in ("attempt", "seed", "aligned", "passed", "ended_by")} == {
        k: lost[k] for k in ("attempt", "seed", "aligned", "passed", "ended_by")
    }
    assert check_run(results, environment.get("multiwoz"), ATTEMPTS) == {}
