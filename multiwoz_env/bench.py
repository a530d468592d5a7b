"""`make bench` suites of MultiWOZ's own costs (listed in `MultiwozEnvironment.bench_suites`)."""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from multiwoz_env.environment import MultiwozEnvironment
from multiwoz_env.sandbox import Sandbox
from shared.errors import ConfigError
from shared.paths import data_path, results_dir
from shared.scoring import score_tree


def api_call_ratio(calls: int = 200, spawns: int = 20) -> dict[str, Any]:
    """One `restaurant_retrieve` in process vs a fresh interpreter doing the same (the original's design)."""
    work = results_dir() / "bench" / "sandbox-ratio"
    shutil.rmtree(work, ignore_errors=True)
    goal = {"restaurant": {"info": {"area": "centre"}, "book": {}, "fail_info": {}, "fail_book": {}, "reqt": []}}
    sandbox = Sandbox.build(work, goal, ["restaurant"], rng=random.Random(0))
    params = {"area": "centre", "pricerange": "cheap"}
    started = time.perf_counter()
    for _ in range(calls):
        sandbox.call("restaurant_retrieve", params)
    in_process = (time.perf_counter() - started) / calls
    code = (
        "import json,sys; db=json.load(open(sys.argv[1])); "
        "print([e for e in db if all(str(e.get(k))==v for k,v in json.loads(sys.argv[2]).items())][:7])"
    )
    db_file = next((work / "db").glob("restaurant*.json"))
    started = time.perf_counter()
    for _ in range(spawns):
        subprocess.run([sys.executable, "-c", code, str(db_file), json.dumps(params)], check=True, capture_output=True)
    spawned = (time.perf_counter() - started) / spawns
    shutil.rmtree(work, ignore_errors=True)
    return {
        "in_process_ms": round(in_process * 1000, 4),
        "subprocess_ms": round(spawned * 1000, 2),
        "ratio": round(spawned / in_process, 1),
    }


def _reference_root() -> Path:
    return data_path("multiwoz_env/train_datasets")


def regrade_throughput(folders: int = 10_000) -> dict[str, Any]:
    """Re-grade (in memory, nothing written) the reference dialogues replicated by hard links."""
    source = _reference_root()
    originals = sorted(p for p in source.glob("*/*") if (p / "goal_dict.json").is_file())
    if not originals:
        raise ConfigError("no reference dialogues to replicate: run `make data-reference` first")
    work = results_dir() / "bench" / "regrade-tree"
    shutil.rmtree(work, ignore_errors=True)
    copies = math.ceil(folders / len(originals))
    made = 0
    for k in range(copies):
        for original in originals:
            if made >= folders:
                break
            target = work / "ours" / original.parent.name / f"b{k}" / original.name  # names repeat across sets
            shutil.copytree(original, target, copy_function=os.link)
            made += 1
    env = MultiwozEnvironment()
    started = time.monotonic()
    tree = score_tree(env, work, regrade=True, write=False)
    seconds = time.monotonic() - started
    shutil.rmtree(work, ignore_errors=True)
    return {"folders": made, "graded": tree.graded, "same_as_recorded": tree.agreeing, "seconds": round(seconds, 2),
            "folders_per_s": round(tree.graded / seconds, 1)}  # fmt: skip
