"""The analysis numbers' last digits, as the original scripts computed them (U2-U6 of the
paper-exact issue; U1, the folder order of a float sum, is a listed difference: FIDELITY A8)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from multiwoz_env.analysis import api_misuse
from shared.analysis.counters import mean_or_none
from shared.scoring import ScoreBlock
from tau_env.analysis import _type_violation, failure_flags
from tau_env.environment import TAU_SCORE_FORMAT


def test_apology_ratio_is_statistics_mean_whatever_the_order() -> None:
    ratios = [0.1, 0.2, 0.7, 1 / 3, 0.05, 0.9, 2 / 7]
    assert mean_or_none(ratios) == statistics.mean(ratios) == mean_or_none(list(reversed(ratios)))


def test_a_list_valued_api_name_is_a_helper_call_only_when_an_element_is_show(tmp_path: Path) -> None:
    # analysis_error.py: `"show" in api_name`, a substring of a string but an element of a list.
    log = [
        {"call_log": "{'api_name':'show_app_description','input_parameters':{}}"},
        {"call_log": "{'api_name':['show'],'input_parameters':{}}"},
        {"call_log": "{'api_name':['show_app_description'],'input_parameters':{}}"},
        {"call_log": "{'api_name':7,'input_parameters':{}}"},
    ]
    (tmp_path / "api_call_log.json").write_text(json.dumps(log))
    counts = api_misuse(tmp_path)
    assert counts["helper_calls"] == 2 and counts["total_api_calls"] == 4


def test_invalid_write_uses_one_list_of_both_domains(data_home: Path) -> None:
    # An airline agent calling a retail write API counts (analysis_error.py's single list).
    flags = failure_flags("airline", 0, [{"name": "cancel_pending_order", "arguments": {"order_id": "#W1"}}])
    assert flags["invalid_write_api"] is True
    assert failure_flags("airline", 0, [{"name": "get_user_details", "arguments": {"user_id": "x"}}])["invalid_write_api"] is False


def test_type_errors_are_not_looked_for_inside_objects_in_arrays() -> None:
    schema = {
        "type": "object",
        "properties": {
            "passengers": {"type": "array", "items": {"type": "object", "properties": {"dob": {"type": "string"}}}},
            "payment": {"type": "object", "properties": {"amount": {"type": "number"}}},
            "ids": {"type": "array", "items": {"type": "string"}},
        },
    }
    assert _type_violation(schema, {"passengers": [{"dob": 19900101}]}) is False  # analysis_mistake.py does not look
    assert _type_violation(schema, {"payment": {"amount": "ten"}}) is True  # an object property is checked
    assert _type_violation(schema, {"ids": ["a", 3]}) is True  # array items of a plain type are checked


def test_tau_goal_align_values_print_whole_runs_as_ints() -> None:
    block = ScoreBlock(values={"success_rate": [50.0, 100.0], "pass_rate": [50.0, 100.0], "goal_align": [100.0, 50.0, 0.0]})
    block.total_graded = 6
    lines = block.attempt_lines(TAU_SCORE_FORMAT)
    assert "  goal_align_values: [100, 50.0, 0]" in lines and "  success_rate_values: [50.0, 100.0]" in lines
    assert "goal_align_values: [100.0, 50.0, 0.0]" in block.attempt_lines()  # MultiWOZ's evaluator printed floats
