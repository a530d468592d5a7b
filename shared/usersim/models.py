"""Which model (and temperature) each simulator call uses; defaults are the paper's.

The paper ran the user and most helpers on gpt-4.1-mini, and the outbursts, tangents, complaints,
cynical rewrite, PBUS topic and the goal-alignment judge on gpt-4o-mini.
`route` keeps that split when a model is replaced: USER_MODEL replaces the gpt-4.1-mini calls,
HELPER_MODEL the gpt-4o-mini ones, JUDGE_MODEL the judge, `--helper CALL=SPEC` any one call.
A user model the kit serves itself (local, hf:, scripted:, http://, vllm:) with no HELPER_MODEL
also takes the gpt-4o-mini calls and the judge: a run without an OpenAI key must not half-run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.defaults import HELPER_TIER_MODEL, USER_TIER_MODEL
from shared.llm import ChatModel, resolve
from shared.llm.resolve import is_hosted_api

USER_TIER = USER_TIER_MODEL  # the calls USER_MODEL replaces
HELPER_TIER = HELPER_TIER_MODEL  # the calls HELPER_MODEL replaces (the judge has its own setting)

# call -> (model spec, temperature), as the original code set them (multiwoz_user.py, tau_bench/envs/user.py).
DEFAULTS: dict[str, tuple[str, float]] = {
    "user": (USER_TIER, 1.0),
    "rest_provider": (USER_TIER, 1.0),
    "ending_check": (USER_TIER, 0.0),
    "failure_classifier": (USER_TIER, 0.0),
    "outburst": (HELPER_TIER, 1.0),
    "tangent": (HELPER_TIER, 1.0),
    "respond_verifier": (USER_TIER, 0.0),
    "complaints": (HELPER_TIER, 0.0),
    "merge": (USER_TIER, 1.0),
    "style_transfer": (USER_TIER, 0.0),
    "cynical": (HELPER_TIER, 1.0),
    "tracker": (USER_TIER, 0.0),
    "unavailable_service": (USER_TIER, 1.0),
    "pbus_topic": (HELPER_TIER, 1.0),
    "judge": (HELPER_TIER, 0.0),
}


@dataclass(frozen=True)
class Routing:
    """The model spec of every call, and why (for the run header and run.json)."""

    specs: dict[str, str]
    notes: tuple[str, ...] = ()


def route(
    user: str | None = None,
    helper: str | None = None,
    judge: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Routing:
    """Each call's spec: the paper's, replaced tier by tier (module docstring), then per call."""
    notes: list[str] = []
    self_served = user is not None and not is_hosted_api(user)
    if helper is None and self_served:
        helper = user
        calls = ", ".join(call for call, (paper, _) in DEFAULTS.items() if paper == HELPER_TIER and call != "judge")
        notes.append(f"the paper's gpt-4o-mini calls ({calls}) also use {user}: set HELPER_MODEL to change")
    if judge is None and self_served:
        judge = user
        notes.append(f"the goal-alignment judge uses {user}: set JUDGE_MODEL to change")
    specs: dict[str, str] = {}
    for call, (paper, _) in DEFAULTS.items():
        if call == "judge":
            specs[call] = judge or paper
        elif paper == USER_TIER:
            specs[call] = user or paper
        else:
            specs[call] = helper or paper
    specs.update(overrides or {})
    return Routing(specs, tuple(notes))


@dataclass
class ModelSet:
    """Resolved models per call. Specs resolve lazily, once per distinct spec."""

    specs: dict[str, str] = field(default_factory=lambda: {k: v[0] for k, v in DEFAULTS.items()})
    temperatures: dict[str, float] = field(default_factory=lambda: {k: v[1] for k, v in DEFAULTS.items()})
    models: dict[str, ChatModel] = field(default_factory=dict)
    max_tokens: int | None = None  # the paper set none; a cap keeps small local models quick

    @classmethod
    def from_routing(cls, routing: Routing) -> ModelSet:
        return cls(specs=dict(routing.specs))

    def table(self) -> dict[str, dict[str, str | float]]:
        """Model and temperature of every call kind (run.json)."""
        return {call: {"model": self.specs[call], "temperature": self.temperatures[call]} for call in DEFAULTS}

    @classmethod
    def of(cls, model: ChatModel, **per_call: ChatModel) -> ModelSet:
        """Every call on one model object (tests, the embedded default), with optional exceptions."""
        models = {k: per_call.get(k, model) for k in DEFAULTS}
        return cls(specs={k: m.spec for k, m in models.items()}, models=models)

    def get(self, call: str) -> tuple[ChatModel, float]:
        """The call's model and temperature."""
        model = self.models.get(call)
        if model is None:
            spec = self.specs[call]
            model = next((m for m in self.models.values() if m.spec == spec), None) or resolve(spec)
            self.models[call] = model
        return model, self.temperatures[call]
