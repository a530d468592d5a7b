"""What a run was made with: the kit, Python, the upstream commit and the libraries that shape
requests, prompts and training steps (recorded in every run.json)."""

from __future__ import annotations

import platform
from importlib import metadata

from shared import __version__
from shared.data import UPSTREAM_COMMIT

# The libraries whose version can change a request, a parse, a tokenisation or a training step.
RECORDED_LIBRARIES = ("httpx", "pyyaml", "pydantic", "torch", "transformers", "tokenizers", "accelerate", "peft", "trl", "datasets")


def run_versions() -> dict[str, str]:
    versions = {"ncusim": __version__, "python": platform.python_version(), "upstream_commit": UPSTREAM_COMMIT}
    for name in RECORDED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # an optional extra that is not installed
            continue
    return versions
