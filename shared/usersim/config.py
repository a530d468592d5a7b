"""Which behaviours a simulated user has: the five paper YAMLs, flags, or names like `tangential+impatience`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from shared.errors import ConfigError, yaml_problem

# Flag names in the original YAML key order (the folder name joins active ones in this order).
FLAGS = ("unavailable_service", "tangential", "emotional_acts", "fragment_dumping")
ALIASES = {
    "normal": None,
    "collaborative": None,
    "unavailable_service": "unavailable_service",
    "unavailable": "unavailable_service",
    "tangential": "tangential",
    "emotional_acts": "emotional_acts",
    "impatience": "emotional_acts",
    "impatient": "emotional_acts",
    "fragment_dumping": "fragment_dumping",
    "incomplete": "fragment_dumping",
    "incomplete_utterance": "fragment_dumping",
}


@dataclass(frozen=True)
class Behaviors:
    is_pbus: bool = False
    unavailable_service: bool = False
    tangential: bool = False
    emotional_acts: bool = False
    fragment_dumping: bool = False

    @property
    def name(self) -> str:
        """The result-folder name: active flags joined by `+` in YAML order, or `normal`."""
        active = [f for f in FLAGS if getattr(self, f)]
        return "+".join(active) or "normal"

    def as_config(self) -> dict[str, bool]:
        """The `non_coll_config.json` dict (the YAML, key order kept)."""
        return asdict(self)

    @classmethod
    def parse(cls, text: str, pbus: bool = False) -> Behaviors:
        """`normal`, a paper name or alias, or several joined by `+` (e.g. `tangential+impatience`)."""
        flags: dict[str, bool] = {}
        for part in (p.strip().lower() for p in text.split("+")):
            if part not in ALIASES:
                known = ", ".join(sorted(ALIASES))
                raise ConfigError(f"unknown behaviour {part!r}: use one of {known}, joined by '+'")
            flag = ALIASES[part]
            if flag:
                flags[flag] = True
        return cls(is_pbus=pbus, **flags)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Behaviors:
        try:
            data = yaml.safe_load(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read behaviour file {path}: {exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"cannot read behaviour file {path}: {yaml_problem(exc)}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"behaviour file {path} must map flag names to true/false")
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ConfigError(f"behaviour file {path} has unknown keys: {', '.join(sorted(map(str, unknown)))}")
        return cls(**{k: bool(v) for k, v in data.items()})
