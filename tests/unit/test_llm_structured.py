"""Structured output: skeletons, JSON extraction, validation, and retry with feedback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from shared.errors import ModelError
from shared.llm import UsageLedger, resolve
from shared.llm import structured as st


class Verdict(BaseModel):
    aligned: bool
    reason: str
    items: list[str] = []


def test_skeleton_shows_the_shape() -> None:
    assert st.skeleton(Verdict.model_json_schema()) == '{"aligned": <true or false>, "reason": "<string>", "items": ["<string>", ...]}'
    enum = {"type": "object", "properties": {"level": {"enum": ["Mild", "Moderate"]}, "n": {"type": "integer"}}}
    assert st.skeleton(enum) == '{"level": <one of "Mild" | "Moderate">, "n": <integer>}'


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": [1, 2]}\n```', {"a": [1, 2]}),
        ('Sure! Here it is: {"a": "x"} hope it helps', {"a": "x"}),
        ('{broken {"a": true}', {"a": True}),
    ],
)
def test_extract_json(text: str, value: object) -> None:
    assert st.extract_json(text) == value


def test_extract_json_without_json() -> None:
    with pytest.raises(ValueError, match="no JSON object"):
        st.extract_json("I cannot answer that.")


def test_validate_pydantic_and_dict_schema() -> None:
    assert st.validate(Verdict, '{"aligned": true, "reason": "ok"}') == Verdict(aligned=True, reason="ok")
    with pytest.raises(ValueError, match="aligned: Input should be a valid boolean"):
        st.validate(Verdict, '{"aligned": "perhaps", "reason": "ok"}')
    schema = {
        "type": "object",
        "properties": {"score": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}},
        "required": ["score"],
    }
    assert st.validate(schema, '{"score": 3, "tags": ["a"]}') == {"score": 3, "tags": ["a"]}
    for bad, reason in [
        ('{"tags": []}', "missing required key 'score'"),
        ('{"score": true}', "expected integer"),
        ('{"score": 1, "tags": [2]}', r"tags\[0\]"),
    ]:
        with pytest.raises(ValueError, match=reason):
            st.validate(schema, bad)


def test_structured_retries_with_feedback_then_succeeds(tmp_path: Path) -> None:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(["no idea", '{"aligned": "maybe"}', '{"aligned": false, "reason": "missed the taxi"}']))
    ledger = UsageLedger()
    model = resolve(f"scripted:{script}", ledger=ledger)
    result = asyncio.run(model.structured([{"role": "user", "content": "Judge."}], Verdict, role="judge"))
    assert result == Verdict(aligned=False, reason="missed the taxi")
    assert ledger.by_role()["judge"].calls == 3


def test_structured_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "replies.yaml"
    script.write_text("- nope\n- still nope\n")
    model = resolve(f"scripted:{script}")
    with pytest.raises(ModelError, match="gave no valid Verdict in 2 attempts"):
        asyncio.run(model.structured([{"role": "user", "content": "Judge."}], Verdict, attempts=2))
