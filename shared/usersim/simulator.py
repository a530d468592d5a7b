"""The non-collaborative user simulator: one object per dialogue, environment-agnostic.

Each user turn runs the original's pipeline in this order (SPEC_MULTIWOZ §4.3):
cynical-mode activation -> base utterance -> end handling (rest provider / ending check) ->
impatience -> tangential -> incomplete utterance -> cynical rewrite -> goal-item tracking ->
final tangent check. Each stage has its own gate; PBUS runs the base utterance only. All
randomness comes from the `random.Random` handed in, so a dialogue replays from its seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.apology import is_apology
from shared.environment import UserProfile
from shared.files import write_json_atomic, write_text_atomic
from shared.usersim import impatience, incomplete, pbus, resources, tangential, unavailable_service
from shared.usersim.config import Behaviors
from shared.usersim.models import ModelSet
from shared.usersim.schemas import Selection, Verdict
from shared.usersim.state import SimulatorState
from shared.usersim.templates import Templates

T = TypeVar("T", bound=BaseModel)
DEFAULT_PROFILE = UserProfile(greeting="Hi! How can I help you today?", stop_token="<END>")


@dataclass
class Turn:
    """What one user turn is building; stages read and rewrite `content`."""

    dial_hist: str
    content: str = ""
    skip_behaviours: bool = False  # a rest-provider turn: impatience, tangential, fragments are skipped
    current_angry: bool = False
    suppress_cynical: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)  # what the behaviours did, for the transcript viewer

    def note(self, event: str, **details: Any) -> None:
        self.events.append({"event": event, **details})


class UserSimulator:
    def __init__(
        self,
        goal: str,
        items: Sequence[str],
        behaviors: Behaviors,
        models: ModelSet,
        rng: random.Random,
        *,
        profile: UserProfile | None = None,
        folder: Path | None = None,
        persona: str | None = None,
        service_context: Mapping[str, str] | None = None,
        prompt_dir: Path | None = None,
        fragment_pool: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        self.profile = profile or DEFAULT_PROFILE
        self.behaviors = behaviors
        self.models = models
        self.rng = rng
        self.folder = Path(folder) if folder else None
        self.templates = Templates([prompt_dir, self.profile.prompt_dir and Path(self.profile.prompt_dir) / "user"])
        self.service_context = dict(service_context or {})
        self.fragment_pool = fragment_pool or resources.fragment_pool
        self.goal_text = goal
        self.persona = persona if persona is not None else resources.sample_persona(rng)
        self.state = SimulatorState(items=list(items), remaining=list(items))
        self.extra_goals: list[str] = []
        self.messages: list[dict[str, Any]] = []
        self.turn_events: list[dict[str, Any]] = []  # per user turn: the behaviour events (user_turn_events.json)
        self.base_prompt = ""
        self._ready = False
        if self.folder:
            self._write("config", behaviors.as_config())
            self._write("persona", json.dumps(self.persona))

    @property
    def stop_token(self) -> str:
        return self.profile.stop_token

    @property
    def latest_agent_message(self) -> str:
        """The newest message the user model saw from the agent (the greeting on the first turn)."""
        return str(self.messages[-1]["content"])

    # --- model calls --------------------------------------------------------------------

    async def ask(self, call: str, prompt: str) -> str:
        model, temperature = self.models.get(call)
        messages = [{"role": "user", "content": prompt}]
        return (await model.chat(messages, temperature=temperature, max_tokens=self.models.max_tokens, role="helper")).text

    async def judge_bool(self, call: str, prompt: str, schema: type[T]) -> T:
        """A structured helper call (verdicts, generated utterances, lists)."""
        model, temperature = self.models.get(call)
        messages = [{"role": "user", "content": prompt}]
        return await model.structured(messages, schema, temperature=temperature, max_tokens=self.models.max_tokens, role="helper")

    # --- set-up -------------------------------------------------------------------------

    async def _setup(self) -> None:
        if self._ready:
            return
        if self.behaviors.unavailable_service:
            await unavailable_service.augment(self)
        persona_block = await pbus.persona_block(self) if self.behaviors.is_pbus else ""
        self.base_prompt = self.templates.render(
            "base_user", instruction=self.goal_text, persona_block=persona_block, stop_token=self.stop_token
        )
        self.messages = [{"role": "system", "content": self.base_prompt}, {"role": "user", "content": self.profile.greeting}]
        if self.folder:
            self._write("prompt", self.base_prompt)
        self._ready = True

    # --- turns --------------------------------------------------------------------------

    async def first_turn(self) -> str:
        return await self.reply(None)

    async def reply(self, agent_utterance: str | None) -> str:
        """The user's next message (bare text; the stop token ends the dialogue)."""
        await self._setup()
        if agent_utterance is not None:
            self.messages.append({"role": "user", "content": self.profile.agent_prefix + agent_utterance})
        turn = Turn(dial_hist=self.history_text())
        state, flags, ncuser = self.state, self.behaviors, not self.behaviors.is_pbus
        if state.anger_triggered_last_turn and is_apology(self.latest_agent_message):
            state.cynical_mode = True
            state.anger_triggered_last_turn = False
            turn.note("cynical_mode_on")
        turn.content = await self.base_utterance()
        if ncuser:
            await self.handle_ending(turn)
        if flags.emotional_acts and ncuser and not turn.skip_behaviours:
            await impatience.stage(self, turn)
        if not turn.current_angry and flags.tangential and ncuser and not turn.skip_behaviours and self.stop_token not in turn.content:
            await tangential.stage(self, turn)
        if flags.fragment_dumping and ncuser and not turn.skip_behaviours and self.stop_token not in turn.content:
            await incomplete.stage(self, turn)
        if state.cynical_mode and self.stop_token not in turn.content and not turn.suppress_cynical:
            await impatience.cynical_rewrite(self, turn)
        matched = await self.track(turn) if state.remaining and ncuser else []
        if self.stop_token in turn.content:
            await tangential.final_check(self)
        self.messages.append({"role": "assistant", "content": turn.content, "dialogue_state": matched})
        self.turn_events.append({"turn": len(self.turn_events), "events": turn.events, "conveyed": matched})
        return turn.content

    def history_text(self) -> str:
        """The dialogue for helper prompts: after the system prompt and greeting, `User:`/`Agent:` lines."""
        out = []
        for message in self.messages[2:]:
            who = "User" if message["role"] == "assistant" else "Agent"
            out.append(f"{who}: {message['content']}\n\n")
        return "".join(out)

    async def base_utterance(self) -> str:
        model, temperature = self.models.get("user")
        # Only role and content go to the model (the original also sent its bookkeeping keys).
        chat = [{"role": m["role"], "content": m["content"]} for m in self.messages]
        return (await model.chat(chat, temperature=temperature, max_tokens=self.models.max_tokens, role="user")).text

    async def handle_ending(self, turn: Turn) -> None:
        """A stop with items left becomes the rest provider's turn; a stop with none left is verified."""
        stop, state = self.stop_token, self.state
        if stop not in turn.content:
            return
        if state.remaining:
            utterance = turn.content.replace(stop, "")
            prompt = self.templates.render("rest_provider", dial_hist=turn.dial_hist, utterance=utterance, remaining=repr(state.remaining))
            turn.content = await self.ask("rest_provider", prompt)
            turn.note("rest_provider", items=list(state.remaining))
            state.used += state.remaining
            state.remaining = []
            turn.skip_behaviours = True
        elif turn.content.strip() != stop:
            prompt = self.templates.render("ending_check", dial_hist=turn.dial_hist, utterance=turn.content.replace(stop, ""))
            if not (await self.judge_bool("ending_check", prompt, Verdict)).result:
                turn.content = turn.content.replace(stop, "")
                turn.note("ending_refused")

    async def track(self, turn: Turn) -> list[str]:
        """Items the final utterance provides; any failure counts as none (the original's only fallback)."""
        remaining = self.state.remaining
        numbered = "\n".join(f"{i}. {item}" for i, item in enumerate(remaining, 1))
        prompt = self.templates.render("tracker", dial_hist=turn.dial_hist, utterance=turn.content, numbered_items=numbered)
        try:
            selection = await self.judge_bool("tracker", prompt, Selection)
        except Exception:  # noqa: BLE001 - the tracker never aborts a dialogue
            return []
        matched = [remaining[n - 1] for n in selection.selected_numbers if 1 <= n <= len(remaining)]
        hit = set(matched)
        self.state.remaining = [item for item in remaining if item not in hit]
        self.state.used += matched
        return matched

    # --- saved state --------------------------------------------------------------------

    def save(self, folder: Path | None = None) -> None:
        """Write the simulator's end-of-dialogue files (original names) into the dialogue folder."""
        self._write("dialogue_state", self.state.dialogue_state_list(), folder)
        self._write("tangential", self.state.tangential_config(), folder)
        self._write("respond_results", self.state.respond_results, folder)
        self._write("messages", self.messages, folder)
        self._write("turn_events", self.turn_events, folder)

    def _write(self, role: str, content: Any, folder: Path | None = None) -> None:
        """One of the simulator's files, under the name the environment gives that role (none: skip)."""
        folder = Path(folder) if folder else self.folder
        name = self.profile.files.get(role)
        if folder is None or name is None:
            return
        if isinstance(content, str):
            write_text_atomic(folder / name, content)
        else:
            write_json_atomic(folder / name, content)
