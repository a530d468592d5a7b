"""Shared fixtures: isolated kit home, the data mirror, scripted and real model servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.llm import keys
from tests.support.openai_server import ScriptedOpenAIServer

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
