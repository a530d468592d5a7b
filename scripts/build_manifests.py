"""Build the committed data manifests from a byte-identical mirror of upstream NCUser.

Maintainer tool, not part of the kit's runtime: the mirror at `<dir>/NCUser/<repo path>` holds
the files of holi-lab/NCUser at the pinned commit, so hashing it gives the same SHA-256 as the
raw GitHub files. Usage: python scripts/build_manifests.py <data mirror>
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from shared.data import UPSTREAM_COMMIT, UPSTREAM_REPO

MW = "multiwoz_env"
TAU = "tau_env"
YAMLS = ["normal", "unavailable_service", "tangential", "emotional_acts", "fragment_dumping"]


def entry(root: Path, repo_path: str) -> dict[str, object]:
    data = (root / repo_path).read_bytes()
    return {"path": repo_path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def shard_goals(root: Path, split: str) -> tuple[list[str], list[str]]:
    shards = [f"{MW}/goal_list/split_idx_list_{split}/split_idx_{m}.json" for m in range(40)]
    goals: list[str] = []
    for shard in shards:
        goals += json.loads((root / shard).read_text())
    return shards, sorted(set(goals))


def shared_user_files(root: Path) -> list[str]:
    personas = sorted(p.name for p in (root / MW / "persona").glob("persona_list_*.json"))
    return [f"{MW}/persona/{p}" for p in personas] + [f"{MW}/short_fragment_dumping.json"]


def multiwoz_paths(root: Path) -> list[str]:
    db = sorted(str(p.relative_to(root)) for p in (root / MW / "db").rglob("*.json"))
    test_shards, test_goals = shard_goals(root, "test")
    train_shards, train_goals = shard_goals(root, "train")
    return (
        db
        + [f"{MW}/api_documentations/multiwoz_api_documentation.json"]
        + test_shards
        + [f"{MW}/goal_list/multiwoz_test_goal_list/{g}" for g in test_goals]
        + train_shards
        + [f"{MW}/goal_list/train_goal_list/{g}" for g in train_goals]
        + shared_user_files(root)
        + [f"{MW}/non_coll_{y}.yaml" for y in YAMLS]
        + paper_sources(MW)
    )


def reference_paths(root: Path) -> list[str]:
    base = root / MW / "train_datasets"
    folders = (base / "REFERENCE_FOLDERS.txt").read_text().split()
    paths: list[str] = []
    for folder in folders:
        for f in sorted((base / folder).rglob("*")):
            if f.is_file():
                paths.append(str(f.relative_to(root)))
    return paths


def tau_paths(root: Path) -> list[str]:
    envs = f"{TAU}/tau_bench/envs"
    out: list[str] = []
    for domain in ("airline", "retail"):
        out += sorted(str(p.relative_to(root)) for p in (root / envs / domain / "data").glob("*.json"))
        out += [f"{envs}/{domain}/tasks_test.py", f"{envs}/{domain}/wiki.md"]
        out += [f"{TAU}/{domain}_api_documentation_list.json", f"{TAU}/testset_{domain}_idx.json"]
    goals = sorted(p.name for p in (root / TAU / "goal_list" / "tau_goal_list").glob("*.json"))
    out += [f"{TAU}/goal_list/tau_goal_list/{g}" for g in goals]
    out += [f"{TAU}/non_coll_{y}.yaml" for y in YAMLS]
    # Personas and the fragment pool are byte-identical upstream at the MultiWOZ path: one copy.
    return out + shared_user_files(root) + paper_sources(TAU)


def paper_sources(env_package: str) -> list[str]:
    """The original's Python files that paper mode reads prompt texts from (shared/paper/locations.json)."""
    table = json.loads((Path(__file__).resolve().parent.parent / "shared" / "paper" / "locations.json").read_text())
    return sorted({e["file"] for e in table["locations"] if e["file"].startswith(env_package + "/")})


def write(path: Path, files: list[str], root: Path, reference: list[str] | None = None) -> None:
    manifest: dict[str, object] = {
        "upstream": {"repo": UPSTREAM_REPO, "commit": UPSTREAM_COMMIT},
        "files": [entry(root, p) for p in files],
    }
    if reference is not None:
        manifest["reference"] = [entry(root, p) for p in reference]
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{path}: {len(files)} files" + (f", {len(reference)} reference files" if reference else ""))


def main() -> None:
    root = Path(sys.argv[1]) / "NCUser"
    kit = Path(__file__).resolve().parent.parent
    write(kit / MW / "data_manifest.json", multiwoz_paths(root), root, reference_paths(root))
    write(kit / TAU / "data_manifest.json", tau_paths(root), root)


if __name__ == "__main__":
    main()
