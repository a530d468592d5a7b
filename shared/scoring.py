"""Score blocks: success, pass and goal-alignment rates per simulation index, as the original prints them.

Per run index n (the `_<n>` suffix of a dialogue folder): success_rate = % of graded dialogues
that passed every domain (Tau: reward 1), pass_rate = mean fraction of domains passed x 100,
goal_align = % of graded dialogues whose `goal_align_result.json` says aligned. Means and
population standard deviations over n are printed with 3 decimals; the `score_list` file gets the
original's "Attempt k:" blocks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shared.environment import Environment
from shared.errors import printable
from shared.files import write_text_atomic
from shared.pass_hat_k import PassHatK, by_scenario, pass_hat_k
from shared.pass_hat_k import line as pass_hat_line
from shared.score_format import DEFAULT_FORMAT, ScoreFormat
from shared.state_files import Alignment, read_valid

METRICS = ("success_rate", "pass_rate", "goal_align")


_RUN_INDEX = re.compile(r"_(\d+)$")


def run_index(folder_name: str) -> int | None:
    """`PMUL0095.json_3` -> 3 (any number of digits; the original read only the last character)."""
    match = _RUN_INDEX.search(folder_name)
    return int(match.group(1)) if match else None


def scenario_of(folder_name: str) -> str:
    """`PMUL0095.json_3` -> `PMUL0095.json`: the folder name without its run index."""
    return _RUN_INDEX.sub("", folder_name)


def read_aligned(folder: Path) -> bool | None:
    """The judge's verdict, or None when the folder has no goal_align_result.json holding a JSON
    boolean `result` (`"false"` is not a verdict)."""
    parsed = read_valid(Alignment, folder / "goal_align_result.json")
    return parsed.result if parsed is not None else None


@dataclass(frozen=True)
class DialogueScore:
    folder: Path
    run: int
    passed: bool
    pass_fraction: float  # share of domains passed (Tau: the reward)
    aligned: bool | None


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def pstdev(values: list[float]) -> float:
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / len(values))


@dataclass
class ScoreBlock:
    values: dict[str, list[float]] = field(default_factory=dict)
    runs: list[int] = field(default_factory=list)
    total_graded: int = 0
    missing_alignment: int = 0
    groups: dict[str, ScoreBlock] = field(default_factory=dict)  # e.g. Tau's per-domain blocks
    pass_hat: list[PassHatK] = field(default_factory=list)  # pass^k for k = 1 .. N (not in score_list files)

    def mean(self, metric: str) -> float | None:
        return mean(self.values[metric]) if self.values.get(metric) else None

    def lines(self) -> list[str]:
        """The evaluator's printout: values, mean and std per metric, then the graded count."""
        out: list[str] = []
        for metric in METRICS:
            values = self.values.get(metric, [])
            out.append(f"{metric}_values: {values}")
            out.append(f"{metric}_mean: {mean(values):.3f}" if values else f"{metric}_mean: nan")
            out.append(f"{metric}_std: {pstdev(values):.3f}" if values else f"{metric}_std: nan")
            out.append("")
        out.append(f"total_graded_cnt: {self.total_graded}")
        out.append(pass_hat_line(self.pass_hat))
        for name, group in self.groups.items():
            rate = group.mean("success_rate")
            shown = f"{rate:.3f}" if rate is not None else "nan"
            values = group.values["success_rate"]
            out.append(f"{name}: success_rate_mean {shown}, success_rate_values {values}, graded {group.total_graded}")
        return out

    def attempt_lines(self, fmt: ScoreFormat = DEFAULT_FORMAT) -> list[str]:
        """The seven lines of a score_list block, in the original's order."""
        lines = {"total_graded_cnt": f"total_graded_cnt: {self.total_graded}"}
        for metric in METRICS:
            values = self.values.get(metric, [])
            lines[f"{metric}_mean"] = f"{metric}_mean: {mean(values):.3f}" if values else f"{metric}_mean: "
            shown: list[float | int] = list(values)
            if metric == "goal_align" and fmt.whole_goal_align_as_int:
                shown = [int(v) if v in (0.0, 100.0) else v for v in values]
            lines[f"{metric}_values"] = f"{metric}_values: {shown}"
        return [fmt.indent + lines[key] for key in fmt.order]


def pass_hat_of(scores: Iterable[DialogueScore]) -> list[PassHatK]:
    """pass^k of graded dialogues, a scenario's trials being its folders that differ only in run index."""
    ordered = sorted(scores, key=lambda s: s.folder.name)
    return pass_hat_k(by_scenario((scenario_of(s.folder.name), s.passed) for s in ordered))


def aggregate(scores: Iterable[DialogueScore], group: Callable[[str], str | None] | None = None) -> ScoreBlock:
    """Rates per run index, runs in ascending order; with `group`, also one block per group
    (the group of a folder name, e.g. Tau's domain)."""
    scores = list(scores)
    by_run: dict[int, list[DialogueScore]] = {}
    for score in scores:
        by_run.setdefault(score.run, []).append(score)
    block = ScoreBlock(values={m: [] for m in METRICS})
    block.pass_hat = pass_hat_of(scores)
    if group is not None:
        by_group: dict[str, list[DialogueScore]] = {}
        for score in scores:
            name = group(score.folder.name)
            if name is not None:
                by_group.setdefault(name, []).append(score)
        block.groups = {name: aggregate(members) for name, members in sorted(by_group.items())}
    for run in sorted(by_run):
        run_scores = sorted(by_run[run], key=lambda s: s.folder.name)
        n = len(run_scores)
        block.runs.append(run)
        block.total_graded += n
        block.values["success_rate"].append(sum(s.passed for s in run_scores) / n * 100)
        block.values["pass_rate"].append(sum(s.pass_fraction for s in run_scores) / n * 100)
        block.values["goal_align"].append(sum(bool(s.aligned) for s in run_scores) / n * 100)
        block.missing_alignment += sum(s.aligned is None for s in run_scores)
    return block


def append_score_block(path: Path, block: ScoreBlock, attempt: int, fmt: ScoreFormat = DEFAULT_FORMAT) -> str:
    """Append the `Attempt k` header and the seven lines, each ending in a newline, as the
    original's echo lines did; a block after the first starts with two empty lines."""
    previous = path.read_text() if path.is_file() else ""
    header = ("" if not previous else "\n\n") + fmt.header.format(attempt=attempt) + "\n"
    text = previous + header + "".join(line + "\n" for line in block.attempt_lines(fmt))
    write_text_atomic(path, text)
    return text


@dataclass
class TreeScore:
    """Scores of every dialogue folder under a path, one block per experiment folder."""

    blocks: dict[Path, ScoreBlock] = field(default_factory=dict)
    graded: int = 0
    failures: list[tuple[Path, str]] = field(default_factory=list)
    links: list[Path] = field(default_factory=list)  # symbolic links in the tree, not followed
    compared: int = 0  # re-graded without writing: grades compared with the recorded ones
    agreeing: int = 0
    scores: dict[Path, list[DialogueScore]] = field(default_factory=dict)  # per experiment, for spreads and intervals


def dialogue_folders(root: Path, is_dialogue: Callable[[Path], bool], links: list[Path] | None = None) -> list[Path]:
    """Every dialogue folder under `root`. Symbolic links inside the tree are not followed (a link
    loop would never end, a link out of the tree would be graded and written through); they are
    added to `links` when given, so callers can say how many were skipped."""
    found: list[Path] = []
    stack = [root]  # depth first in sorted order, without recursion: a tree of any depth is walked
    while stack:
        folder = stack.pop()
        if is_dialogue(folder):
            found.append(folder)
            continue
        below = []
        for path in sorted(folder.iterdir()):
            if path.is_symlink():
                if links is not None:
                    links.append(path)
            elif path.is_dir():
                below.append(path)
        stack.extend(reversed(below))
    return found


def skipped_links_line(links: Sequence[Path]) -> str:
    """What `score` and `analyze` print about the symbolic links they did not follow."""
    more = ", ..." if len(links) > 1 else ""
    return printable(f"skipped {len(links)} symbolic links in the tree (not followed): {links[0]}{more}")


def score_tree(env: Environment, root: Path, regrade: bool, write: bool = True) -> TreeScore:
    """Grade (when `regrade`) and score every dialogue folder under `root`.

    Re-grading writes only the environment's grade files (none with `write=False`, which also
    counts how many new grades equal the recorded ones); nothing else is touched, nothing is
    deleted. A folder that cannot be graded is reported with its reason and left out of the block.
    """
    result = TreeScore()
    scores: dict[Path, list[DialogueScore]] = {}
    for folder in dialogue_folders(root, env.is_dialogue_folder, result.links):
        run = run_index(folder.name)
        if run is None:
            result.failures.append((folder, "name has no _<n> run suffix"))
            continue
        try:
            grade = env.grade(folder, write=write) if regrade else env.read_grade(folder)
            passed, fraction = env.outcome(grade)
            if regrade and not write:
                result.compared += 1
                try:
                    result.agreeing += env.outcome(env.read_grade(folder)) == (passed, fraction)
                except (OSError, ValueError, KeyError, TypeError):
                    pass  # no readable recorded grade: compared but not agreeing
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            result.failures.append((folder, f"cannot be graded: {type(exc).__name__}: {exc}"))
            continue
        result.graded += 1
        scores.setdefault(folder.parent, []).append(DialogueScore(folder, run, passed, fraction, read_aligned(folder)))
    group = env.score_group
    result.scores = dict(sorted(scores.items()))
    result.blocks = {parent: aggregate(members, group) for parent, members in sorted(scores.items())}
    return result


def score_format(env: Environment) -> ScoreFormat:
    return env.score_format
