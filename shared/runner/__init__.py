"""Runs: models x behaviours x scenarios x N dialogues, concurrent, resumable, regenerated until aligned.

Layout: `<results>/<env>/[train/]<ours|pbus>/<model>/<behaviour>/<scenario>_<n>/`. A dialogue is
complete when it has both `grading_result.json` and `goal_align_result.json` (the original's rule).
A rerun of the same command skips complete dialogues, wipes and reruns incomplete ones, and
regenerates unaligned ones while they have attempts left (attempts are recorded per dialogue in
`regeneration_log.json`, so a rerun continues the count instead of restarting it). Every dialogue
has its own seed (recorded in `run_meta.json`), derived from the run seed, its coordinates and its
attempt number, so reruns are reproducible. After each pass the score block of each experiment is
appended to its `score_list` file, as the original did.


The package: `plan` (what and where), `checkpoint` (completion, regeneration log),
`progress` (the progress line), `run` (the `Runner` and the summary).
"""

from shared.runner.checkpoint import DISK_FULL, DiskFull, RegenerationLog, completed, disk_full, is_complete
from shared.runner.plan import (
    LOCAL_PREFIXES,
    MAX_DIALOGUES,
    MAX_N,
    DialogueSpec,
    RunPlan,
    make_results_folder,
    model_dir,
    seed_for,
)
from shared.runner.progress import ExperimentProgress
from shared.runner.run import Runner, summary_lines

__all__ = [
    "DISK_FULL",
    "LOCAL_PREFIXES",
    "MAX_DIALOGUES",
    "MAX_N",
    "DialogueSpec",
    "DiskFull",
    "ExperimentProgress",
    "RegenerationLog",
    "RunPlan",
    "Runner",
    "completed",
    "disk_full",
    "is_complete",
    "make_results_folder",
    "model_dir",
    "seed_for",
    "summary_lines",
]
