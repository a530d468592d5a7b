"""Which model (and temperature) each simulator call uses; defaults are the paper's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.llm import ChatModel, resolve

# call -> (model spec, temperature), as in SPEC_MULTIWOZ §4.10.
DEFAULTS: dict[str, tuple[str, float]] = {
    "user": ("gpt-4.1-mini", 1.0),
    "rest_provider": ("gpt-4.1-mini", 1.0),
    "ending_check": ("gpt-4.1-mini", 0.0),
    "failure_classifier": ("gpt-4.1-mini", 0.0),
    "outburst": ("gpt-4o-mini", 1.0),
    "tangent": ("gpt-4o-mini", 1.0),
    "respond_verifier": ("gpt-4.1-mini", 0.0),
    "complaints": ("gpt-4o-mini", 0.0),
    "merge": ("gpt-4.1-mini", 1.0),
    "style_transfer": ("gpt-4.1-mini", 0.0),
    "cynical": ("gpt-4o-mini", 1.0),
    "tracker": ("gpt-4.1-mini", 0.0),
    "unavailable_service": ("gpt-4.1-mini", 1.0),
    "pbus_topic": ("gpt-4o-mini", 1.0),
    "judge": ("gpt-4o-mini", 0.0),
}


@dataclass
class ModelSet:
    """Resolved models per call. Specs resolve lazily, once per distinct spec."""

    specs: dict[str, str] = field(default_factory=lambda: {k: v[0] for k, v in DEFAULTS.items()})
    temperatures: dict[str, float] = field(default_factory=lambda: {k: v[1] for k, v in DEFAULTS.items()})
    models: dict[str, ChatModel] = field(default_factory=dict)
    max_tokens: int | None = None  # the paper set none; a cap keeps small local models quick

    @classmethod
    def from_specs(cls, overrides: Mapping[str, str] | None = None, everything: str | None = None) -> ModelSet:
        """Paper defaults, every call set to `everything` if given, then per-call `overrides`."""
        specs = {k: (everything or v[0]) for k, v in DEFAULTS.items()}
        specs.update(overrides or {})
        return cls(specs=specs)

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
