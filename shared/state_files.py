"""The shapes of the files the kit reads back, checked before they are believed.

A results tree outlives the process that wrote it: files get cut short by a full disk, edited by
hand, or replaced by something else. Each file the runner, the scorer or the report trusts is
validated here; a dialogue whose own files do not validate counts as incomplete (the next run
redoes it), and a run-level file that does not validate stops the run with one line naming it.

Types are strict where the value decides a result (`"false"` is not a verdict, `1` is not `true`)
and extra keys are allowed everywhere (the original writes more than the kit reads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, RootModel, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError

from shared.errors import DataError
from shared.files import read_json

M = TypeVar("M", bound=BaseModel)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Alignment(_Open):
    """goal_align_result.json: the judge's verdict."""

    result: StrictBool


class DomainGrade(_Open):
    book: StrictBool = True  # the original's grader wrote `book` for every domain; absent reads as passed


class MultiwozGrade(RootModel[dict[str, DomainGrade]]):
    """grading_result.json: one entry per goal domain."""


class TauGrade(_Open):
    """eval_result.json (v1's shape): the reward decides the result."""

    reward: StrictFloat | StrictInt
    info: dict[str, Any] | None = None


class RunMeta(_Open):
    """run_meta.json: written first in every dialogue folder of the kit's own runs."""

    seed: StrictInt
    attempt: StrictInt
    model: StrictStr


class LogEntry(_Open):
    """One attempt in regeneration_log.json."""

    attempt: StrictInt | None = None
    seed: StrictInt | None = None
    aligned: StrictBool | None = None


class RegenerationLogFile(RootModel[dict[str, list[LogEntry]]]):
    """regeneration_log.json: dialogue folder name -> its attempts, oldest first."""


class CachedToolCall(_Open):
    id: StrictStr
    name: StrictStr
    arguments: StrictStr


class CachedCompletion(_Open):
    """One entry of the model-call cache (`NCUSIM_CACHE/llm`)."""

    text: StrictStr
    prompt_tokens: StrictInt
    completion_tokens: StrictInt
    finish_reason: StrictStr | None = None
    content: StrictStr | None = None
    tool_calls: list[CachedToolCall] = []


class ServerEntry(_Open):
    name: StrictStr
    pid: StrictInt
    port: StrictInt


class ServingState(_Open):
    """servers.json: the vLLM servers the kit started (`make serve-vllm`)."""

    servers: list[ServerEntry] = []


class RunRecord(_Open):
    """run.json: one per experiment; each invocation of `simulate` appends to `invocations`."""

    invocations: list[dict[str, Any]] = []


def valid(model: type[M], data: Any) -> M | None:
    """`data` as `model`, or None when it does not have that shape."""
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def checked(model: type[M], data: Any, name: str) -> M:
    """`data` as `model`; a ValueError naming the file when it has another shape."""
    parsed = valid(model, data)
    if parsed is None:
        raise ValueError(f"{name} does not have the shape the kit writes")
    return parsed


def read_valid(model: type[M], path: Path) -> M | None:
    """The file as `model`, or None when it is missing, unreadable or of another shape."""
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return None
    return valid(model, data)


def read_run_level(model: type[M], path: Path, what: str) -> M | None:
    """A run-level file: None when absent; one line naming it and the fix when it is not `what`."""
    if not path.exists():
        return None
    try:
        data = read_json(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} cannot be read as {what} ({type(exc).__name__}): move it aside and rerun") from None
    parsed = valid(model, data)
    if parsed is None:
        raise DataError(f"{path} is not {what} this kit wrote: move it aside and rerun (the dialogue folders are kept)")
    return parsed
