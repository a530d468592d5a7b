"""A run's plan: what to simulate (models x behaviours x scenarios x N), where each dialogue's
folder is, and each dialogue's seed."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared import defaults, environment
from shared.agent_plugins import load_factory, plugin_dir_name
from shared.conversation import AGENT_PROTOCOLS
from shared.environment import Scenario
from shared.errors import ConfigError
from shared.llm.keys import public_spec
from shared.paths import results_dir
from shared.usersim import Behaviors
from shared.usersim.prompt_sets import PROMPT_SETS

LOCAL_PREFIXES = ("local", "hf:", "scripted:")
MAX_N = 1000  # simulations per scenario (the paper: 4)
MAX_DIALOGUES = 1_000_000  # per plan, checked before the plan is built


@dataclass
class RunPlan:
    env: str
    models: list[str]
    behaviors: list[Behaviors]
    n: int = defaults.N
    subset: int = 0
    split: str = "test"
    scenario_ids: list[str] | None = None
    limit: int | None = None
    # None: the paper's model for that tier of calls (shared/usersim/models.py, `route`).
    user_model: str | None = None
    helper_model: str | None = None
    judge_model: str | None = None
    helper_models: dict[str, str] = field(default_factory=dict)  # per call, over everything else
    attempts: int | None = None  # regeneration attempts per dialogue (MultiWOZ 5, Tau 10)
    concurrency: int = defaults.CONCURRENCY
    seed: int = 0
    results: Path | None = None
    agent_temperature: float | None = None
    agent_max_tokens: int | None = None
    user_max_tokens: int | None = None
    env_options: dict[str, Any] = field(default_factory=dict)
    prompts: str = "paper"  # paper: the original's texts (verified upstream files); ncusim: the kit's own wording
    agent: str = "paper"  # paper: the paper's text protocols; tool-calling: the chat API's tools (shared/conversation.py)

    def __post_init__(self) -> None:
        # Specs are written into run.json, run_meta.json, usage.json and folder names: without URL
        # credentials (the resolver finds them again by the public spec).
        self.models = [public_spec(m) for m in self.models]
        self.user_model, self.helper_model, self.judge_model = (
            public_spec(m) if m else m for m in (self.user_model, self.helper_model, self.judge_model)
        )
        self.helper_models = {call: public_spec(m) for call, m in self.helper_models.items()}

    def validate(self) -> None:
        if not self.models:
            raise ConfigError("no agent model given: MODELS=... (e.g. gpt-4.1-nano, or local)")
        if not self.behaviors:
            raise ConfigError("no behaviour given: BEHAVIORS=normal,tangential,...")
        if not 1 <= self.n <= MAX_N:
            raise ConfigError(f"N must be between 1 and {MAX_N:,} simulations per scenario, not {self.n:,}")
        if self.subset < 0:
            raise ConfigError(f"SUBSET must be 0 or a positive per-shard cap, not {self.subset}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"LIMIT must be at least 1, not {self.limit}")
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.prompts not in PROMPT_SETS:
            raise ConfigError(f"unknown prompt set {self.prompts!r}: choose {' or '.join(PROMPT_SETS)}")
        if self.agent not in AGENT_PROTOCOLS:
            load_factory(self.agent)  # a plug-in: it must import now, not after the first dialogue started
        if self.attempts is not None and self.attempts < 1:
            raise ConfigError(f"attempts must be at least 1, not {self.attempts}")

    @property
    def max_attempts(self) -> int:
        return self.attempts or environment.get(self.env).default_attempts

    @property
    def root(self) -> Path:
        base = (self.results or results_dir()) / self.env
        return base / "train" if self.split == "train" else base


def make_results_folder(folder: Path) -> None:
    """mkdir -p, or one clear line when the results folder cannot be made (a file in the way, no permission)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the results folder {folder}: {exc.strerror}: give a writable folder with --results (RESULTS=) or NCUSIM_RESULTS"
        ) from None


_UNSAFE_IN_NAME = re.compile(r"[^\w.+@=-]")


def agent_suffix(agent: str) -> str:
    """What a model's folder name gets for an agent other than the paper's protocol: a tool-calling
    model or a plug-in is another agent, with its own folder beside the paper protocol's."""
    if agent == "paper":
        return ""
    return "+tools" if agent == "tool-calling" else "+" + plugin_dir_name(agent)


def model_dir(spec: str) -> str:
    """A folder name for a model spec: the model's name, provider prefixes dropped, '/' kept apart."""
    name = spec.split("#", 1)[1] if "#" in spec else spec
    if name.startswith(("hf:", "scripted:")) or name.startswith("/"):
        name = Path(name.split(":", 1)[-1].rstrip("/")).name  # a local path: its last component
    for prefix in ("openai:", "openrouter:", "vllm:"):
        name = name.removeprefix(prefix)
    name = name.strip("/").replace("/", "__").replace(":", "_")
    # One safe path part: no `.`/`..`, no hidden name, no separators or control characters.
    name = _UNSAFE_IN_NAME.sub("_", name)
    if not name or set(name) == {"."}:
        return "model"
    return "_" + name if name.startswith(".") else name


@dataclass(frozen=True)
class DialogueSpec:
    model: str
    behavior: Behaviors
    scenario: Scenario
    n: int
    folder: Path

    @property
    def experiment(self) -> Path:
        return self.folder.parent


def seed_for(plan: RunPlan, spec: DialogueSpec, attempt: int) -> int:
    parts = (plan.seed, plan.env, plan.split, spec.model, spec.behavior.name, spec.behavior.is_pbus, spec.scenario.id, spec.n, attempt)
    key = "|".join(str(p) for p in parts)
    return int(hashlib.sha256(key.encode()).hexdigest()[:15], 16)
