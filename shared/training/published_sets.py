"""The published training sets: their manifest, on-demand fetch, and the dialogue folders of a set
or of any tree."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from shared.data import FileEntry, environments, fetch, load_manifest, make_source, progress_printer
from shared.errors import ConfigError, DataError
from shared.paths import data_path

# The only files of a published folder that training reads (the folders hold ~27 files each).
NEEDED_FILES = ("dial_hist_system_list.json", "pass_or_fail.txt", "goal_align_result.json", "non_coll_config.json")
Echo = Callable[[str], None]


# --- the published sets: manifest and on-demand fetch -----------------------------------------


@lru_cache(maxsize=1)
def published_manifest() -> dict[str, Any]:
    """`published_sets.json`: distinct blobs (sha256, size) and, per set and folder, one blob index per needed file."""
    raw = json.loads(resources.files("shared.training").joinpath("published_sets.json").read_text())
    if tuple(raw["files"]) != NEEDED_FILES:
        raise DataError("shared/training/published_sets.json does not match this kit version: reinstall the kit")
    return raw


def published_set_names() -> tuple[str, ...]:
    """The paper's published training sets, as `published_sets.json` lists them."""
    return tuple(published_manifest()["sets"])


def sets_root() -> str:
    """The upstream folder the published sets live in."""
    return str(published_manifest()["root"])


def reference_folder_names(name: str) -> list[str]:
    """The folders of set `name` that `ncusim data --reference` fetches (a sample of the full set)."""
    prefix = f"{sets_root()}/{name}/"
    return sorted(
        {e.path[len(prefix) :].split("/")[0] for env in environments() for e in load_manifest(env).reference if e.path.startswith(prefix)}
    )


def published_entries(name: str, reference: bool = False) -> tuple[list[str], list[FileEntry]]:
    """(folder names, verified-file entries) of a published set; `reference`: only its reference folders."""
    if name not in published_set_names():
        raise ConfigError(f"unknown published set {name!r}: choose one of {', '.join(published_set_names())} or give a folder")
    manifest = published_manifest()
    folders: dict[str, list[int]] = manifest["sets"][name]
    names = reference_folder_names(name) if reference else sorted(folders)
    entries = []
    for folder in names:
        for file, blob in zip(NEEDED_FILES, folders[folder], strict=True):
            sha256, size = manifest["blobs"][blob]
            entries.append(FileEntry(f"{sets_root()}/{name}/{folder}/{file}", sha256, int(size)))
    return names, entries


def fetch_published(name: str, reference: bool = False, echo: Echo = print) -> list[Path]:
    """Fetch (or verify) the needed files of a published set through the data layer; return its dialogue folders."""
    names, entries = published_entries(name, reference)
    source = make_source()
    label = f"{name}{' (reference folders)' if reference else ''}"
    try:
        report = fetch(entries, source, on_progress=progress_printer(label))
    except DataError as exc:
        hint = ""
        if not reference and source.description.startswith("mirror"):
            hint = "; a mirror made for the tests holds only the reference folders: add --reference (REFERENCE=1) to train on those"
        raise DataError(f"{exc}{hint}") from None
    finally:
        source.close()
    echo(f"{label}: {len(names)} dialogue folders, {report.summary()} (source: {source.description})")
    return [data_path(f"{sets_root()}/{name}/{folder}") for folder in names]


def find_dialogue_folders(root: Path) -> list[Path]:
    """Every folder under `root` (itself included) with a `dial_hist_system_list.json`, sorted (the original's glob was not)."""
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder: give one of {', '.join(published_set_names())} or a folder of dialogue folders")
    return sorted({p.parent for p in root.rglob("dial_hist_system_list.json")})


def resolve_data(data: str, reference: bool = False, echo: Echo = print) -> tuple[str, list[Path]]:
    """(description, dialogue folders) for DATA: a published set's name, or a path to a tree of dialogue folders."""
    if data in published_set_names():
        return f"{data}@{published_manifest()['upstream']['commit'][:7]}", fetch_published(data, reference, echo)
    if reference:
        raise ConfigError("--reference applies to the published sets only")
    root = Path(data).expanduser()
    folders = find_dialogue_folders(root)
    if not folders:
        raise ConfigError(f"no dialogue folders (with dial_hist_system_list.json) under {root}")
    return str(root.resolve()), folders
