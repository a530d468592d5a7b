"""Where the kit keeps data, caches and results; each place can be moved by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def kit_home() -> Path:
    """The kit's root: NCUSIM_HOME, else the checkout this package was installed from (editable)."""
    return Path(os.environ.get("NCUSIM_HOME") or _PACKAGE_PARENT)


def cache_dir() -> Path:
    """NCUSIM_CACHE, else ~/.cache/ncusim: converted models and the model-call cache."""
    return Path(os.environ.get("NCUSIM_CACHE") or Path.home() / ".cache" / "ncusim")


def results_dir() -> Path:
    return Path(os.environ.get("NCUSIM_RESULTS") or kit_home() / "results")


def data_path(repo_path: str) -> Path:
    """Local path of an upstream file named by its NCUser repo path.

    `multiwoz_env/persona/x.json` lives at `<kit>/multiwoz_env/data/persona/x.json`: the first
    component picks the environment package, whose git-ignored `data/` folder holds the rest.
    """
    from shared.environment import with_upstream_data  # imported here: the seam's modules import this one

    package, _, rest = repo_path.partition("/")
    if package not in with_upstream_data().values() or not rest:
        raise ValueError(f"not an environment data path: {repo_path!r}")
    return kit_home() / package / "data" / rest
