"""Build `shared/training/published_sets.json`: the files `ncusim train` needs from the published sets.

Maintainer tool, not part of the kit's runtime. It reads a git clone or bare mirror of
holi-lab/NCUser (which holds every blob of the pinned commit), hashes the four files the dataset
builder reads in each of the 3 x 1,308 dialogue folders, and writes a compact manifest: a table of
distinct blobs (sha256, size) and, per set and folder, one blob index per needed file (the mixed
sets reuse many dialogues of the base set byte for byte, so the table stays small).

Usage: python scripts/build_train_manifest.py /work/.mirror/holi-lab+NCUser/repo
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from shared.data import UPSTREAM_COMMIT, UPSTREAM_REPO, load_manifest
from shared.training.dataset import NEEDED_FILES

# What the manifest covers: the paper's three MultiWOZ training sets (the kit reads both from the manifest).
SETS_ROOT = "multiwoz_env/train_datasets"
PUBLISHED_SETS = ("multiwoz_train_dataset", "multiwoz_train_dataset_528_195", "multiwoz_train_dataset_4010101030")

OUT = Path(__file__).resolve().parent.parent / "shared" / "training" / "published_sets.json"


def git(repo: str, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["git", "-C", repo, *args], input=data, capture_output=True, check=True).stdout


def read_blobs(repo: str, shas: list[str]) -> dict[str, bytes]:
    """Contents of many blobs through one `git cat-file --batch` process."""
    out = git(repo, "cat-file", "--batch", data="".join(f"{s}\n" for s in shas).encode())
    blobs: dict[str, bytes] = {}
    pos = 0
    for sha in shas:
        end = out.index(b"\n", pos)
        name, kind, size = out[pos:end].decode().split()
        if name != sha or kind != "blob":
            raise SystemExit(f"unexpected git object {name} {kind}")
        start = end + 1
        blobs[sha] = out[start : start + int(size)]
        pos = start + int(size) + 1
    return blobs


def main() -> None:
    repo = sys.argv[1]
    listing = git(repo, "ls-tree", "-r", UPSTREAM_COMMIT, "--", SETS_ROOT).decode().splitlines()
    wanted: dict[str, str] = {}  # repo path -> git blob id
    for line in listing:
        meta, path = line.split("\t", 1)
        parts = path.split("/")
        if len(parts) == 5 and parts[2] in PUBLISHED_SETS and parts[4] in NEEDED_FILES:
            wanted[path] = meta.split()[2]
    contents = read_blobs(repo, sorted(set(wanted.values())))
    table: list[list[object]] = []
    index: dict[str, int] = {}
    sets: dict[str, dict[str, list[int]]] = {name: {} for name in PUBLISHED_SETS}
    hashes: dict[str, str] = {}
    for path in sorted(wanted):
        data = contents[wanted[path]]
        digest = hashlib.sha256(data).hexdigest()
        hashes[path] = digest
        if digest not in index:
            index[digest] = len(table)
            table.append([digest, len(data)])
        _, _, name, folder, file = path.split("/")
        sets[name].setdefault(folder, [-1] * len(NEEDED_FILES))[NEEDED_FILES.index(file)] = index[digest]
    for name, folders in sets.items():
        incomplete = [f for f, ids in folders.items() if -1 in ids]
        if incomplete:
            raise SystemExit(f"{name}: {len(incomplete)} folders lack a needed file (first {incomplete[0]})")
    # The reference folders of the data manifest must agree byte for byte with this one.
    for entry in load_manifest("multiwoz").reference:
        if entry.path in hashes and hashes[entry.path] != entry.sha256:
            raise SystemExit(f"{entry.path}: {hashes[entry.path]} here, {entry.sha256} in multiwoz_env/data_manifest.json")
    manifest = {
        "upstream": {"repo": UPSTREAM_REPO, "commit": UPSTREAM_COMMIT},
        "root": SETS_ROOT,
        "files": list(NEEDED_FILES),
        "blobs": table,
        "sets": {name: dict(sorted(folders.items())) for name, folders in sets.items()},
    }
    OUT.write_text(json.dumps(manifest, separators=(",", ":")) + "\n")
    counts = ", ".join(f"{name} {len(folders)}" for name, folders in sets.items())
    print(f"{OUT}: {OUT.stat().st_size / 1e6:.2f} MB, {len(table)} distinct blobs; folders: {counts}")


if __name__ == "__main__":
    main()
