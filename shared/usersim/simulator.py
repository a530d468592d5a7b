"""The non-collaborative user simulator: one object per dialogue, environment-agnostic.

Each user turn runs the original's pipeline (multiwoz_user.py `generate`) in this order:
cynical-mode activation -> base utterance -> end handling (rest provider / ending check) ->
impatience -> tangential -> incomplete utterance -> cynical rewrite -> goal-item tracking ->
final tangent check. Each stage has its own gate; PBUS runs the base utterance only. All
randomness comes from the `random.Random` handed in, so a dialogue replays from its seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.apology import is_apology
from shared.environment import UserProfile
from shared.errors import ConfigError
from shared.files import write_json_atomic, write_text_atomic
from shared.usersim import emotional_acts, fragment_dumping, pbus, resources, tangential, unavailable_service
from shared.usersim.config import Behaviors
from shared.usersim.models import ModelSet
from shared.usersim.plugin_stages import StageContext, run_stages
from shared.usersim.prompt_sets import OwnPrompts, Prompt, PromptSet
from shared.usersim.schemas import Selection, Verdict
from shared.usersim.state import SimulatorState
from shared.usersim.templates import Templates
from shared.usersim.turn import Turn

T = TypeVar("T", bound=BaseModel)
DEFAULT_PROFILE = UserProfile(greeting="Hi! How can I help you today?", stop_token="<END>")


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
        prompts: PromptSet | None = None,
    ) -> None:
        self.profile = profile or DEFAULT_PROFILE
        self.behaviors = behaviors
        self.models = models
        self.rng = rng
        self.folder = Path(folder) if folder else None
        # The kit's own wording unless a prompt set is given (paper mode: the original's texts).
        self.prompts: PromptSet = prompts or OwnPrompts(
            Templates([prompt_dir, self.profile.prompt_dir and Path(self.profile.prompt_dir) / "user"])
        )
        self.service_context = dict(service_context or {})
        self.fragment_pool = fragment_pool or self._environment_fragments
        self.goal_text = goal
        self.persona = persona if persona is not None else resources.sample_persona(rng, self.profile.user_data)
        self.state = SimulatorState(items=list(items), remaining=list(items))
        self.extra_goals: list[str] = []
        self.extras_join = ""  # what unavailable service appended to the goal text
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

    def _environment_fragments(self) -> tuple[str, ...]:
        pool = resources.fragment_pool(self.profile.user_data)
        if len(pool) < fragment_dumping.N_EXAMPLES:
            raise ConfigError(
                f"the incomplete-utterance behaviour needs at least {fragment_dumping.N_EXAMPLES} example utterances; "
                f"this environment's user data has {len(pool)} (UserData.fragment_file)"
            )
        return pool

    @property
    def latest_agent_message(self) -> str:
        """The newest message the user model saw from the agent (the greeting on the first turn)."""
        return str(self.messages[-1]["content"])

    # --- model calls --------------------------------------------------------------------

    async def ask(self, call: str, prompt: Prompt) -> str:
        """A free-text helper call: the prompt as the one user message."""
        model, temperature = self.models.get(call)
        messages = [{"role": "user", "content": prompt.text}]
        return (await model.chat(messages, temperature=temperature, max_tokens=self.models.max_tokens, role="helper")).text

    async def ask_plugin(self, prompt: str) -> str:
        """A behaviour plug-in's helper call: the user's model, counted as a helper call."""
        model, temperature = self.models.get("user")
        reply = await model.chat(
            [{"role": "user", "content": prompt}], temperature=temperature, max_tokens=self.models.max_tokens, role="helper"
        )
        return reply.text

    async def structured(self, call: str, prompt: Prompt, schema: type[T], *, capped: bool = True) -> T:
        """A structured helper call (verdicts, generated utterances, lists); the prompt set's function
        spec, if it has one, goes out as a forced tool call."""
        model, temperature = self.models.get(call)
        messages = [{"role": "user", "content": prompt.text}]
        max_tokens = self.models.max_tokens if capped else None
        return await model.structured(messages, schema, temperature=temperature, max_tokens=max_tokens, role="helper", function=prompt.spec)

    # --- set-up -------------------------------------------------------------------------

    async def _setup(self) -> None:
        if self._ready:
            return
        if self.behaviors.unavailable_service:
            await unavailable_service.augment(self)
        persona_block = await pbus.persona_block(self) if self.behaviors.is_pbus else ""
        self.base_prompt = self.prompts.base_user(self.goal_text, persona_block, self.stop_token)
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
        if flags.emotional_acts and ncuser and not turn.skip_behaviors:
            await emotional_acts.stage(self, turn)
        if not turn.current_angry and flags.tangential and ncuser and not turn.skip_behaviors and self.stop_token not in turn.content:
            await tangential.stage(self, turn)
        if flags.fragment_dumping and ncuser and not turn.skip_behaviors and self.stop_token not in turn.content:
            await fragment_dumping.stage(self, turn)
        if flags.plugins and ncuser and not turn.skip_behaviors and self.stop_token not in turn.content:
            context = StageContext(turn, self.goal_text, tuple(self.state.remaining), self.rng, self.stop_token, self.ask_plugin)
            await run_stages(flags.plugins, context)
        if state.cynical_mode and self.stop_token not in turn.content and not turn.suppress_cynical:
            await emotional_acts.cynical_rewrite(self, turn)
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
            turn.content = await self.ask("rest_provider", self.prompts.rest_provider(turn.dial_hist, utterance, state.remaining))
            turn.note("rest_provider", items=list(state.remaining))
            state.used += state.remaining
            state.remaining = []
            turn.skip_behaviors = True
        elif turn.content.strip() != stop:
            prompt = self.prompts.ending_check(turn.dial_hist, turn.content.replace(stop, ""))
            if not (await self.structured("ending_check", prompt, Verdict)).result:
                turn.content = turn.content.replace(stop, "")
                turn.note("ending_refused")

    async def track(self, turn: Turn) -> list[str]:
        """Items the final utterance provides; any failure counts as none (the original's only fallback)."""
        remaining = self.state.remaining
        prompt = self.prompts.tracker(turn.dial_hist, turn.content, remaining)
        try:
            selection = await self.structured("tracker", prompt, Selection)
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
