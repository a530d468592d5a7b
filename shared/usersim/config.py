"""Which behaviours a simulated user has: the five paper YAMLs, flags, or names like `tangential+impatience`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from shared.errors import ConfigError, yaml_problem

# Flag names in the original YAML key order (the folder name joins active ones in this order).
FLAGS = ("unavailable_service", "tangential", "emotional_acts", "fragment_dumping")
PAPER_BEHAVIORS = ("normal", *FLAGS)  # the paper's five conditions, in its order
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
    plugins: tuple[str, ...] = ()  # behaviour plug-ins (shared/usersim/plugin_stages.py), in the order given

    def __post_init__(self) -> None:
        object.__setattr__(self, "plugins", tuple(self.plugins))  # from a config file's list

    @property
    def name(self) -> str:
        """The result-folder name: active flags joined by `+` in YAML order, then the plug-ins' names, or `normal`."""
        from shared.usersim.plugin_stages import load_stage

        active = [f for f in FLAGS if getattr(self, f)] + [load_stage(p).name for p in self.plugins]
        return "+".join(active) or "normal"

    def as_config(self) -> dict[str, bool | list[str]]:
        """The `non_coll_config.json` dict (the YAML, key order kept; `plugins` only when there are some)."""
        config: dict[str, bool | list[str]] = {k: v for k, v in asdict(self).items() if k != "plugins"}
        if self.plugins:
            config["plugins"] = list(self.plugins)
        return config

    @classmethod
    def parse(cls, text: str, pbus: bool = False) -> Behaviors:
        """`normal`, a paper name or alias, or several joined by `+` (e.g. `tangential+impatience`)."""
        from shared.usersim.plugin_stages import load_stage

        flags: dict[str, bool] = {}
        plugins: list[str] = []
        for raw in (p.strip() for p in text.split("+")):
            part = raw.lower()
            if part in ALIASES:
                flag = ALIASES[part]
                if flag:
                    flags[flag] = True
                continue
            try:
                load_stage(raw)  # a plug-in: `module:attr` or an installed `ncusim.behaviors` name
            except ConfigError as exc:
                known = ", ".join(sorted(ALIASES))
                raise ConfigError(f"unknown behaviour {raw!r}: use one of {known}, joined by '+', or a plug-in ({exc})") from None
            plugins.append(raw)
        return cls(is_pbus=pbus, plugins=tuple(plugins), **flags)

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
        plugins = data.pop("plugins", None) or ()
        if not isinstance(plugins, list | tuple) or not all(isinstance(p, str) for p in plugins):
            raise ConfigError(f"behaviour file {path}: `plugins` must be a list of module:attr or plug-in names")
        return cls(plugins=tuple(plugins), **{k: bool(v) for k, v in data.items()})
