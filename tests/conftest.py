"""Shared fixtures: isolated kit home, the data mirror, scripted and real model servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from shared.llm import keys
from tests.support.openai_server import ScriptedOpenAIServer

# Under pytest-xdist each worker gets its share of the cores for torch (OpenMP) and passes it on to
# the servers and commands it starts: two workers each spinning two threads on two cores made the
# model tests three times slower. Set before anything imports torch.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _share = max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, str(_share))

# Hypothesis: `ci` runs the example counts the fuzz tests were written for, `dev` a tenth of them
# (HYPOTHESIS_PROFILE=dev, what `make check` uses). The tests scale their own counts from these.
settings.register_profile("ci", max_examples=200, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Markers by kind of cost, so a person can select (`-m "not cli and not slow"`); the slow and
# xdist_group marks are set in the test modules themselves.
KINDS = {
    "cli": (
        "tests/reliability/test_bad_input.py", "tests/reliability/test_crash_resume.py", "tests/reliability/test_hostile_inputs.py",
        "tests/reliability/test_damaged_state.py", "tests/reliability/test_secret_leaks.py", "tests/reliability/test_security.py",
        "tests/reliability/test_endpoint_faults.py", "tests/multiwoz/test_regrade_cli.py",
    ),
    "fuzz": ("tests/reliability/test_fuzz_parsers.py",),
    "fidelity": (
        "tests/fidelity/", "tests/paper/test_paper_differential.py", "tests/tau/test_golden_tools.py",
        "tests/tau/test_tasks_and_reward.py::test_reward_cases",
    ),
}  # fmt: skip
BROWSER_FIXTURE = "browser"  # tests/report: every test that takes it opens Chromium


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--crash-trials", type=int, default=20, help="SIGKILL trials of tests/reliability/test_crash_resume.py (CI: 20)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker, prefixes in KINDS.items():
            if item.nodeid.startswith(prefixes):  # a file, or a file's test
                item.add_marker(marker)
        if BROWSER_FIXTURE in getattr(item, "fixturenames", ()):
            item.add_marker("browser")


# Resolved at import, before any test changes the working directory.
MIRROR = Path(os.environ["NCUSIM_DATA_MIRROR"]).resolve() if os.environ.get("NCUSIM_DATA_MIRROR") else None
SECRET_VARS = ("OPENAI_API_KEY", "OPENROUTER_API_KEY", "VLLM_API_KEY", "NCUSIM_HTTP_API_KEY", "VLLM_ENDPOINTS")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's keys, .env, LLM cache or results folder."""
    for var in SECRET_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NCUSIM_LLM_CACHE", "0")
    if MIRROR is not None:
        monkeypatch.setenv("NCUSIM_DATA_MIRROR", str(MIRROR))
    monkeypatch.setenv("NCUSIM_RESULTS", str(tmp_path / "results"))
    monkeypatch.chdir(tmp_path)
    keys._dotenv_values.cache_clear()
    yield
    keys._dotenv_values.cache_clear()


@pytest.fixture
def kit_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    home = tmp_path / "kit"
    home.mkdir()
    monkeypatch.setenv("NCUSIM_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def mirror() -> Path:
    if MIRROR is None or not (MIRROR / "NCUser").is_dir():
        pytest.skip("set NCUSIM_DATA_MIRROR to the data mirror (CI does) to run the data tests offline")
    return MIRROR


@pytest.fixture(scope="session")
def data_home(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A kit home holding every verified upstream file, copied from the mirror once per run: the
    xdist workers of one run share it (the first builds it under a file lock; tests only read it)."""
    from filelock import FileLock

    from shared import data

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    home = shared / "data-home"
    previous = os.environ.get("NCUSIM_HOME")
    os.environ["NCUSIM_HOME"] = str(home)
    with FileLock(str(shared / "data-home.lock")):
        if not (home / ".complete").exists():
            home.mkdir(exist_ok=True)
            data.fetch(data.entries_for(["multiwoz", "tau"]), data.MirrorSource(mirror))
            (home / ".complete").touch()
    yield home
    if previous is None:
        os.environ.pop("NCUSIM_HOME", None)
    else:
        os.environ["NCUSIM_HOME"] = previous


@pytest.fixture(scope="session")
def golden(mirror: Path) -> Path:
    return mirror / "golden"


@pytest.fixture(scope="session")
def reference_folders(mirror: Path) -> Path:
    """The published training-set dialogue folders (read-only)."""
    return mirror / "NCUser" / "multiwoz_env" / "train_datasets"


@pytest.fixture
def openai_server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as server:
        yield server
