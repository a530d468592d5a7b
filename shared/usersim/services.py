"""What the paper's behaviour stages use of the simulator: a protocol, so that the stage modules
depend on this contract and not on the simulator module (which imports them)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from shared.usersim.config import Behaviors
from shared.usersim.prompt_sets import Prompt, PromptSet
from shared.usersim.state import SimulatorState

T = TypeVar("T", bound=BaseModel)


class SimulatorServices(Protocol):
    behaviors: Behaviors
    prompts: PromptSet
    rng: random.Random
    state: SimulatorState
    goal_text: str
    persona: Any
    extra_goals: list[str]
    extras_join: str
    messages: list[dict[str, Any]]
    service_context: dict[str, str]
    fragment_pool: Callable[[], Sequence[str]]

    @property
    def stop_token(self) -> str: ...

    @property
    def latest_agent_message(self) -> str: ...

    async def ask(self, call: str, prompt: Prompt) -> str: ...

    async def structured(self, call: str, prompt: Prompt, schema: type[T], *, capped: bool = True) -> T: ...
