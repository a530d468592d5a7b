"""Structured outputs of the simulator's helper calls (validated pydantic objects)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Verdict(BaseModel):
    result: bool


class ReasonedVerdict(BaseModel):
    thought: str
    result: bool


class Utterance(BaseModel):
    utterance: str


class Complaints(BaseModel):
    utterances: list[str] = Field(min_length=1)


class Selection(BaseModel):
    reasoning: str
    selected_numbers: list[int]


class ExtraGoals(BaseModel):
    unavailable_user_goals: list[str]
