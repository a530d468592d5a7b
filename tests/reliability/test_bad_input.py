"""Bad input to every CLI command: one clear message, a non-zero exit, no traceback, nothing written.

One table drives `ncusim` (as `python -m shared.cli`, a real subprocess) with wrong values for
every command. Each case checks:
- the exit code (2 for the kit's errors and typer's usage errors; 0 where "nothing to do" is fine);
- the message: the kit's errors end stderr with one `ncusim: error: <what and the fix>` line,
  typer's usage errors show one error box (its text is checked for the option and the value);
- no `Traceback` anywhere in stdout or stderr;
- nothing written outside what was asked: the case's folder and the kit home the command runs with
  (its data and its default `results/`) are snapshotted before and after (paths, sizes, mtimes); a
  failed command must leave no file or folder behind, not even an empty one. The command's cache
  folder and HOME are the only places a command may write freely. (This checkout's own `results/`
  is not snapshotted, as other runs may write there meanwhile; every results path of the kit goes
  through `shared.paths.results_dir()`, which the commands point elsewhere, and a test below keeps
  it that way.)
- the time: commands against unreachable servers or data sources fail within seconds, with the
  default retry settings.
Commands run against a kit home of symlinks into the data mirror, so they see verified data
without copying 260 MB; damaged-data cases build their own home with one file replaced.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shared import data as d
from tests.support.cli_env import isolated_env
from tests.support.openai_server import free_port

# pytest-xdist: the whole table runs once, as one batch (a module fixture), on one worker.
pytestmark = pytest.mark.xdist_group("bad-input")

ROOT = Path(__file__).resolve().parents[2]
NCUSIM = [sys.executable, "-m", "shared.cli"]
REFERENCE = "multiwoz_env/train_datasets/multiwoz_train_dataset/MUL0001.json_0"
USAGE = "usage"  # the expected message is typer's usage-error box, not an `ncusim: error:` line


def link_farm(home: Path, mirror: Path, entries: list[d.FileEntry]) -> None:
    """A kit home whose data files are symlinks to the mirror's verified copies."""
    for entry in entries:
        target = home / entry.path.split("/", 1)[0] / "data" / entry.path.split("/", 1)[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(mirror / "NCUser" / entry.path)


@pytest.fixture(scope="module")
def linked_home(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("linked-home")
    link_farm(home, mirror, d.entries_for(["multiwoz", "tau"]))
    return home


class Workspace:
    """Inputs a case needs, made on demand in the case's own folder."""

    def __init__(self, root: Path, mirror: Path, home: Path) -> None:
        self.root = root
        self.mirror = mirror
        self.home = home
        self.closed = f"http://127.0.0.1:{free_port()}/v1"

    def file(self, name: str, text: str) -> Path:
        path = self.root / "inputs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def folder(self, name: str) -> Path:
        path = self.root / "inputs" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def script(self) -> str:
        path = self.file("replies.json", '["Hello."]')
        return f"scripted:{path}"

    def regular_file(self) -> Path:
        return self.file("a-file", "not a folder\n")

    def multiwoz_garbage(self, content: bytes) -> Path:
        """A MultiWOZ dialogue folder (a reference one) whose JSON files all hold `content`."""
        folder = self.folder("garbage/ours/m/normal/MUL0001.json_0")
        source = self.mirror / "NCUser" / REFERENCE
        for path in source.rglob("*"):
            if path.is_file():
                copy = folder / path.relative_to(source)
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy.write_bytes(content if path.suffix == ".json" else path.read_bytes())
        return folder.parents[3]

    def tau_garbage(self) -> Path:
        folder = self.folder("tau-garbage/ours/m/normal/airline_0_0")
        (folder / "reasoning_trajectory.json").write_text("{garbage")
        return folder.parents[3]

    def damaged_home(self, same_size: bool) -> Path:
        """A kit home with every MultiWOZ file but one goal file changed (appended to, or one byte flipped)."""
        home = self.folder("damaged-home")
        entries = d.entries_for(["multiwoz"])
        victim = next(e for e in entries if e.path.endswith("PMUL0095.json"))
        link_farm(home, self.mirror, [e for e in entries if e is not victim])
        raw = (self.mirror / "NCUser" / victim.path).read_bytes()
        local = home / "multiwoz_env" / "data" / victim.path.split("/", 1)[1]
        local.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]) if same_size else raw + b"\n")
        return home

    def tau_home_missing(self, count: int) -> tuple[Path, list[d.FileEntry]]:
        """A kit home with the Tau data except `count` files (the data step has to fetch them)."""
        home = self.folder(f"tau-home-{count}")
        entries = d.entries_for(["tau"])
        link_farm(home, self.mirror, entries[count:])
        return home, entries[:count]

    def corrupt_mirror(self, entry: d.FileEntry) -> Path:
        """A data mirror like the real one, with `entry` one byte longer."""
        mirror = self.folder("bad-mirror")
        for other in d.entries_for(["tau"]):
            target = mirror / "NCUser" / other.path
            target.parent.mkdir(parents=True, exist_ok=True)
            if other.path == entry.path:
                target.write_bytes((self.mirror / "NCUser" / other.path).read_bytes() + b" ")
            else:
                target.symlink_to(self.mirror / "NCUser" / other.path)
        return mirror


Setup = Callable[[Workspace], tuple[list[str], dict[str, str | None]]]


@dataclass(frozen=True)
class Case:
    id: str
    setup: Setup
    message: str  # a fragment of the error line (or of the usage box, or of stdout for rc 0)
    rc: int = 2
    kind: str = "kit"  # "kit": `ncusim: error:` line; USAGE: typer's box; "ok": a clean rc-0 message
    seconds: float = 60.0
    extra: tuple[str, ...] = field(default_factory=tuple)  # more fragments the message must hold


def args(*items: str, **env: str | None) -> Setup:
    """A setup of fixed arguments; `{closed}`, `{script}`, `{file}` and `{inputs}` are filled in."""

    def setup(w: Workspace) -> tuple[list[str], dict[str, str | None]]:
        values = {"closed": w.closed, "inputs": str(w.root / "inputs")}
        if any("{script}" in i for i in items):
            values["script"] = w.script()
        if any("{file}" in i for i in items) or any(v and "{file}" in v for v in env.values()):
            values["file"] = str(w.regular_file())
        return [i.format(**values) for i in items], {k: v.format(**values) if v else v for k, v in env.items()}

    return setup


def with_file(name: str, text: str, *items: str) -> Setup:
    """Arguments naming an input file with `text` (`{path}` in the arguments)."""

    def setup(w: Workspace) -> tuple[list[str], dict[str, str | None]]:
        path = w.file(name, text)
        return [i.format(path=path, script=w.script()) for i in items], {}

    return setup


def garbage(content: bytes, *items: str) -> Setup:
    def setup(w: Workspace) -> tuple[list[str], dict[str, str | None]]:
        return [i.format(tree=w.multiwoz_garbage(content)) for i in items], {}

    return setup


def tau_garbage(w: Workspace) -> tuple[list[str], dict[str, str | None]]:
    return ["score", "--env", "tau", "--regrade", str(w.tau_garbage())], {}


def damaged(same_size: bool) -> Setup:
    def setup(w: Workspace) -> tuple[list[str], dict[str, str | None]]:
        home = w.damaged_home(same_size)
        return ["simulate", "--models", w.script(), "--user-model", w.script(), "--n", "1", "--limit", "1"], {"NCUSIM_HOME": str(home)}

    return setup


def missing_data(w: Workspace) -> tuple[list[str], dict[str, str | None]]:
    home = w.folder("empty-home")
    return ["simulate", "--models", w.script(), "--user-model", w.script(), "--n", "1"], {"NCUSIM_HOME": str(home)}


def corrupt_mirror(w: Workspace) -> tuple[list[str], dict[str, str | None]]:
    home, absent = w.tau_home_missing(1)
    return ["data", "--env", "tau", "--mirror", str(w.corrupt_mirror(absent[0]))], {"NCUSIM_HOME": str(home)}


def no_network(w: Workspace) -> tuple[list[str], dict[str, str | None]]:
    home = w.folder("empty-home")  # every Tau file to fetch: before the fix this took minutes to fail
    return ["data", "--env", "tau"], {"NCUSIM_HOME": str(home), "NCUSIM_DATA_URL": w.closed.removesuffix("v1")}


def empty_folder(*items: str) -> Setup:
    def setup(w: Workspace) -> tuple[list[str], dict[str, str | None]]:
        return [i.format(empty=w.folder("empty")) for i in items], {}

    return setup


def results_mirror(zip_bytes: bytes | None, *items: str) -> Setup:
    def setup(w: Workspace) -> tuple[list[str], dict[str, str | None]]:
        mirror = w.folder("results-mirror")
        if zip_bytes is not None:
            (mirror / "experiment_result_multiwoz.zip").write_bytes(zip_bytes)
        return list(items), {"NCUSIM_RESULTS_MIRROR": str(mirror)}

    return setup


DEFAULT_RETRIES = {"NCUSIM_RETRY_ATTEMPTS": None, "NCUSIM_RETRY_BASE_DELAY": None}

CASES = [
    # --- simulate ---------------------------------------------------------------------------
    Case("simulate-unknown-env", args("simulate", "--env", "nope"), "Invalid value for '--env'", kind=USAGE, extra=("'nope'",)),
    Case("simulate-n-not-a-number", args("simulate", "--n", "many"), "Invalid value for '--n'", kind=USAGE),
    Case("simulate-unknown-model-scheme", args("simulate", "--models", "foo:bar"), "unknown model spec 'foo:bar'"),
    Case("simulate-unknown-behaviour", args("simulate", "--models", "{script}", "--behaviors", "grumpy"), "unknown behaviour 'grumpy'"),
    Case(
        "simulate-n-zero",
        args("simulate", "--models", "{script}", "--n", "0"),
        "N must be between 1 and 1,000 simulations per scenario, not 0",
    ),
    Case("simulate-negative-subset", args("simulate", "--models", "{script}", "--subset", "-1"), "SUBSET must be 0 or a positive"),
    Case(
        "simulate-malformed-yaml-behaviour",
        with_file("bad.yaml", "tangential: [true\n", "simulate", "--models", "{script}", "--behaviors", "{path}"),
        "cannot read behaviour file",
        extra=("(line 2, column 1)",),
    ),
    Case(
        "simulate-yaml-behaviour-number-key",
        with_file("num.yaml", "1: true\n", "simulate", "--models", "{script}", "--behaviors", "{path}"),
        "has unknown keys: 1",
    ),
    Case(
        "simulate-malformed-yaml-script",
        with_file("replies.yaml", "replies: [unclosed\n", "simulate", "--models", "scripted:{path}", "--user-model", "{script}"),
        "is not valid yaml",
        extra=("(line 2, column 1)",),
    ),
    Case(
        "simulate-unknown-scenario",
        args("simulate", "--models", "{script}", "--user-model", "{script}", "--scenarios", "PMUL9999"),
        "not in the test split: PMUL9999",
    ),
    Case("simulate-split-dev", args("simulate", "--models", "{script}", "--split", "dev"), "unknown split 'dev': choose test or train"),
    Case("simulate-missing-key-without-models", args("simulate"), "OPENAI_API_KEY is not set: set it (or put it in .env)"),
    Case("simulate-missing-key-for-openai-model", args("simulate", "--models", "gpt-4.1-nano"), "OPENAI_API_KEY is not set (needed for"),
    Case(
        "simulate-results-under-a-file",
        args("simulate", "--models", "{script}", "--user-model", "{script}", "--n", "1", "--limit", "1", "--results", "{file}/results"),
        "cannot create the results folder",
        extra=("Not a directory", "--results"),
    ),
    Case(
        "simulate-unreachable-endpoint",
        args("simulate", "--models", "{closed}#m", "--user-model", "{script}", "--n", "1", "--limit", "1", **DEFAULT_RETRIES),
        "cannot reach http://127.0.0.1:",
        extra=("is the server running",),
        seconds=15,
    ),
    Case(
        "simulate-unreachable-openai-base-url",
        args(
            "simulate",
            "--models",
            "openai:gpt-4.1-nano",
            "--user-model",
            "openai:gpt-4.1-mini",
            "--n",
            "1",
            "--limit",
            "1",
            OPENAI_API_KEY="sk-bad-input-test-0000",
            OPENAI_BASE_URL="{closed}",
            **DEFAULT_RETRIES,
        ),  # fmt: skip
        "cannot reach http://127.0.0.1:",
        seconds=15,
    ),
    Case("simulate-missing-data-no-mirror", missing_data, "multiwoz data files are missing", extra=("run `make data`",)),
    Case("simulate-damaged-data-same-size", damaged(same_size=True), "differ from the manifest", extra=("PMUL0095.json",)),
    # --- data -------------------------------------------------------------------------------
    Case("data-unknown-env", args("data", "--env", "nope"), "Invalid value for '--env'", kind=USAGE),
    Case("data-reference-for-tau", args("data", "--env", "tau", "--reference"), "reference dialogue folders exist for multiwoz only"),
    Case("data-mirror-without-NCUser", args("data", "--mirror", "{inputs}"), "has no NCUser/ folder"),
    Case("data-corrupt-mirror-file", corrupt_mirror, "checksum mismatch for ", extra=("files verified before were left",)),
    Case("data-no-network", no_network, "no network? set NCUSIM_DATA_MIRROR", seconds=30),
    # --- score ------------------------------------------------------------------------------
    Case(
        "score-regrade-garbage-json",
        garbage(b"{garbage", "score", "--env", "multiwoz", "--regrade", "{tree}"),
        "cannot be graded: JSONDecodeError",
    ),
    Case(
        "score-regrade-json-nested-too-deep",
        garbage(b"[" * 100_000, "score", "--env", "multiwoz", "--regrade", "{tree}"),
        "cannot be graded",
        extra=("nested too deeply",),
    ),
    Case("score-regrade-tau-garbage", tau_garbage, "airline_0_0: cannot be graded"),
    Case("score-nonexistent-path", args("score", "--env", "multiwoz", "--regrade", "{inputs}/nowhere"), "is not a folder"),
    Case("score-no-dialogues", empty_folder("score", "--env", "multiwoz", "{empty}"), "no multiwoz dialogue folders under"),
    Case("score-unknown-env", empty_folder("score", "--env", "nope", "{empty}"), "Invalid value for '--env'", kind=USAGE),
    # --- analyze ----------------------------------------------------------------------------
    Case("analyze-nonexistent-path", args("analyze", "{inputs}/nowhere"), "is not a folder"),
    Case("analyze-no-dialogues", empty_folder("analyze", "{empty}"), "no multiwoz dialogue folders under"),
    Case("analyze-nothing-readable", garbage(b"{garbage", "analyze", "{tree}"), "none of the 1 multiwoz dialogue folders"),
    # --- report -----------------------------------------------------------------------------
    Case("report-nonexistent-path", args("report", "{inputs}/nowhere"), "is not a folder"),
    Case("report-no-dialogues", empty_folder("report", "{empty}"), "no dialogue folders (multiwoz or tau) under"),
    Case(
        "report-out-under-a-file",
        garbage(b"{garbage", "report", "{tree}", "--out", "{tree}/ours/m/normal/MUL0001.json_0/goal_dict.json/page"),
        "cannot use ",
        extra=("goal_dict.json/page: Not a directory",),
    ),
    # --- fetch-results, reproduce-paper -----------------------------------------------------
    Case("fetch-results-mirror-without-zip", results_mirror(None, "fetch-results"), "has no experiment_result_multiwoz.zip"),
    Case(
        "fetch-results-corrupt-zip",
        results_mirror(b"PK\x03\x04 not really a zip", "fetch-results", "--env", "multiwoz"),
        "is not a readable zip archive",
    ),
    Case("reproduce-paper-nothing-fetched", args("reproduce-paper"), "no published dialogue trees under", extra=("fetch-results",)),
    Case("reproduce-paper-unknown-source", args("reproduce-paper", "--source", "nope"), "unknown source 'nope'"),
    # --- chat -------------------------------------------------------------------------------
    Case(
        "chat-unreachable-endpoint",
        args("chat", "hi", "--model", "{closed}#m", **DEFAULT_RETRIES),
        "cannot reach http://127.0.0.1:",
        seconds=15,
    ),
    # --- serve-vllm, stop-vllm, serving-status ----------------------------------------------
    Case("serve-vllm-bad-gpus", args("serve-vllm", "--model", "m", "--gpus", "a,b"), "'a' is not a GPU id"),
    Case("serve-vllm-gpus-not-multiple-of-tp", args("serve-vllm", "--model", "m", "--gpus", "0,1,2", "--tp", "2"), "not a multiple of TP"),
    Case("serve-vllm-tp-zero", args("serve-vllm", "--model", "m", "--tp", "0"), "Invalid value for '--tp'", kind=USAGE),
    Case("serve-vllm-port-out-of-range", args("serve-vllm", "--model", "m", "--port-base", "70000"), "outside 1-65535"),
    # Stopping when nothing runs is not an error: a clean message and exit 0 (stop is idempotent).
    Case("stop-vllm-nothing-running", args("stop-vllm"), "no servers to stop", rc=0, kind="ok"),
    Case("serving-status-nothing-running", args("serving-status"), "no vLLM servers recorded", rc=0, kind="ok"),
    # --- train, merge -----------------------------------------------------------------------
    Case("train-unknown-data-set", args("train", "--data", "nope_set"), "nope_set is not a folder", extra=("multiwoz_train_dataset",)),
    Case("train-missing-folder", args("train", "--data", "{inputs}/nowhere"), "nowhere is not a folder"),
    Case("train-bad-gpus", args("train", "--data", "nope", "--gpus", "x"), "--gpus takes GPU indices"),
    Case("merge-missing-adapter", args("merge", "--adapter", "{inputs}/nowhere", "--out", "{inputs}/merged"), "is not a folder"),
    # --- the rest ---------------------------------------------------------------------------
    Case("bench-unknown-suite", args("bench", "--suite", "nope"), "unknown bench suite(s) nope"),
    Case("unknown-command", args("nosuch"), "No such command 'nosuch'", kind=USAGE),
]


# --- snapshots ---------------------------------------------------------------------------------


def snapshot(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple[int, int] | str]:
    """Every path under `root` (not following links): files by (size, mtime), folders and links by kind."""
    out: dict[str, tuple[int, int] | str] = {}
    if not root.exists():
        return out
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [x for x in dirs if here / x not in skip]
        for name in dirs:
            out[str(here / name)] = "link" if (here / name).is_symlink() else "dir"
        for name in files:
            path = here / name
            info = path.lstat()
            out[str(path)] = "link" if path.is_symlink() else (info.st_size, info.st_mtime_ns)
    return out


def differences(before: dict[str, tuple[int, int] | str], after: dict[str, tuple[int, int] | str]) -> list[str]:
    return sorted(
        [f"new {p}" for p in after.keys() - before.keys()]
        + [f"removed {p}" for p in before.keys() - after.keys()]
        + [f"changed {p}" for p in before.keys() & after.keys() if before[p] != after[p]]
    )


# --- the checks --------------------------------------------------------------------------------


def usage_message(stderr: str) -> str:
    """The text inside typer's error box, on one line."""
    lines = stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if "─ Error ─" in line)
    inside = []
    for line in lines[start + 1 :]:
        if line.startswith("╰"):
            break
        inside.append(line.strip().strip("│").strip())
    return " ".join(" ".join(inside).split())


@dataclass
class Outcome:
    rc: int
    stdout: str
    stderr: str
    seconds: float
    writes: list[str]  # what changed under the case's folder and the kit home it ran with

    def shown(self) -> str:
        return f"rc={self.rc} after {self.seconds:.1f}s\nstdout:\n{self.stdout[-2000:]}\nstderr:\n{self.stderr[-2000:]}"


def run_case(case: Case, root: Path, mirror: Path, linked_home: Path) -> Outcome:
    workspace = Workspace(root, mirror, linked_home)
    arguments, overrides = case.setup(workspace)
    env = isolated_env(root, linked_home)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    home = Path(env["NCUSIM_HOME"])
    free = (root / "home", root / "cache")  # a command may write its caches freely
    roots = [(root, free)] + ([(home, ())] if home != linked_home else [])  # the shared home is checked around the batch
    before = [snapshot(folder, skip) for folder, skip in roots]
    started = time.monotonic()
    out = subprocess.run([*NCUSIM, *arguments], capture_output=True, text=True, env=env, cwd=root, timeout=180)
    seconds = time.monotonic() - started
    writes = [change for (folder, skip), old in zip(roots, before, strict=True) for change in differences(old, snapshot(folder, skip))]
    return Outcome(out.returncode, out.stdout, out.stderr, seconds, writes)


@dataclass
class Batch:
    outcomes: dict[str, Outcome]
    shared_writes: list[str]  # changes under the shared kit home while the batch ran


@pytest.fixture(scope="module")
def batch(request: pytest.FixtureRequest, mirror: Path, linked_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """Every selected case, four at a time (each in its own folder): the table runs in a third of the time."""
    params = [
        item.callspec.params
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.module is request.module and hasattr(item, "callspec")
    ]
    selected = {case.id for p in params if isinstance(case := p.get("case"), Case)}
    cases = [c for c in CASES if c.id in selected]
    shared = [linked_home]
    before = [snapshot(folder) for folder in shared]
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {c.id: pool.submit(run_case, c, tmp_path_factory.mktemp(c.id[:40]), mirror, linked_home) for c in cases}
        outcomes = {name: future.result() for name, future in futures.items()}
    shared_writes = [change for folder, old in zip(shared, before, strict=True) for change in differences(old, snapshot(folder))]
    return Batch(outcomes, shared_writes)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, batch: Batch) -> None:
    out = batch.outcomes[case.id]
    shown = out.shown()
    assert "Traceback" not in out.stdout + out.stderr, shown
    assert out.rc == case.rc, shown
    if case.kind == USAGE:
        assert out.stderr.startswith("Usage: "), shown
        assert out.stderr.count("─ Error ─") == 1, shown
        message = usage_message(out.stderr)
    elif case.kind == "ok":
        assert out.stderr == "", shown
        message = out.stdout.strip()
        assert message.count("\n") == 0, shown
    else:
        lines = out.stderr.strip().splitlines()
        assert lines and lines[-1].startswith("ncusim: error: "), shown
        assert all(line.startswith(("ncusim: error: ", "ncusim: warning: ")) for line in lines), shown
        message = lines[-1]
    for fragment in (case.message, *case.extra):
        assert fragment in message, shown
    assert out.seconds < case.seconds, f"{case.id} took {out.seconds:.1f}s"
    assert out.writes == [], f"{case.id} wrote outside what was asked"
    assert batch.shared_writes == [], "a case wrote into the shared kit home"


def test_every_command_has_a_case() -> None:
    """A new command gets bad-input cases too (version, prepare-local and environments take no values to get wrong)."""
    out = subprocess.run([*NCUSIM, "--help"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"})
    commands = set(re.findall(r"^│ ([a-z][a-z-]+) ", out.stdout, re.MULTILINE))
    covered = {c.id.split("-")[0] for c in CASES} | {
        "fetch-results",
        "reproduce-paper",
        "serve-vllm",
        "stop-vllm",
        "serving-status",
    }
    assert len(commands) >= 16, out.stdout
    assert commands - covered - {"version", "prepare-local", "environments"} == set()
    for command in ("fetch-results", "reproduce-paper", "serve-vllm", "stop-vllm", "serving-status"):
        assert any(c.id.startswith(command + "-") for c in CASES), command


def test_every_results_path_goes_through_results_dir() -> None:
    """The one place a results folder is named: `shared.paths.results_dir()` (NCUSIM_RESULTS, else
    <NCUSIM_HOME>/results), so a command given other folders cannot write into this checkout."""
    named = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in ("shared", "multiwoz_env", "tau_env")
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"""/\s*["']results["']""", line)  # `<folder> / "results"`
    ]
    assert len(named) == 1 and named[0].startswith("shared/paths.py:"), named
