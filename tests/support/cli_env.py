"""The environment of an isolated `ncusim` subprocess in the reliability tests."""

from __future__ import annotations

from pathlib import Path


def isolated_env(folder: Path, kit_home: Path, llm_cache: bool = False) -> dict[str, str]:
    """Only the system PATH, HOME/results/cache under `folder`, the kit at `kit_home`, quick retries."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(folder / "home"),
        "NCUSIM_HOME": str(kit_home),
        "NCUSIM_RESULTS": str(folder / "results"),
        "NCUSIM_CACHE": str(folder / "cache"),
        "NCUSIM_LLM_CACHE": "1" if llm_cache else "0",
        "NCUSIM_RETRY_ATTEMPTS": "2",
        "NCUSIM_RETRY_BASE_DELAY": "0.05",
    }
