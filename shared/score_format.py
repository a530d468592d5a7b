"""How an environment's score_list blocks are printed (a module of its own: the environment
protocol declares it and scoring prints it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoreFormat:
    """How an environment's original evaluator printed a score_list block."""

    header: str = "Attempt {attempt}:"
    indent: str = ""
    order: tuple[str, ...] = (
        "success_rate_mean",
        "success_rate_values",
        "pass_rate_mean",
        "pass_rate_values",
        "goal_align_mean",
        "goal_align_values",
        "total_graded_cnt",
    )
    # Tau's success_eval.py took statistics.mean of the judge's booleans: all-true or all-false
    # runs came out as the ints 100 and 0, mixed ones as floats.
    whole_goal_align_as_int: bool = False


# The MultiWOZ evaluator's, which is also what a new environment prints unless it says otherwise.
DEFAULT_FORMAT = ScoreFormat()
