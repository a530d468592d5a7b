"""What a run was made with: the kit, Python, the upstream commit, the lock file and the libraries
that shape requests, prompts and training steps (recorded in every run.json)."""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from pathlib import Path

from shared import __version__
from shared.data import UPSTREAM_COMMIT

# The libraries whose version can change a request, a parse, a tokenisation or a training step.
RECORDED_LIBRARIES = (
    "aiohttp",
    "httpx",
    "pyyaml",
    "pydantic",
    "torch",
    "transformers",
    "tokenizers",
    "accelerate",
    "peft",
    "trl",
    "datasets",
)


LOCK_FILE = Path(__file__).resolve().parent.parent / "uv.lock"  # beside pyproject.toml in a checkout


def lock_digest() -> str | None:
    """SHA-256 of the uv.lock the kit was set up from, or None where there is none (an installed wheel)."""
    try:
        return hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest()
    except OSError:
        return None


def run_versions() -> dict[str, str]:
    versions = {"ncusim": __version__, "python": platform.python_version(), "upstream_commit": UPSTREAM_COMMIT}
    digest = lock_digest()
    if digest is not None:
        versions["uv_lock_sha256"] = digest
    for name in RECORDED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # an optional extra that is not installed
            continue
    return versions
