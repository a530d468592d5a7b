"""Prompt templates: one file per model call, looked up in the user's folders before the kit's own.

Placeholders are `{name}`; only names passed to `render` are replaced, so JSON braces and other
text in a template are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from shared.errors import ConfigError

DEFAULT_DIR = Path(__file__).with_name("prompts")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class Templates:
    def __init__(self, search: Sequence[Path | None] = ()) -> None:
        self.search = [Path(p) for p in search if p] + [DEFAULT_DIR]
        self._cache: dict[str, str] = {}

    def get(self, name: str) -> str:
        if name not in self._cache:
            for folder in self.search:
                path = folder / f"{name}.txt"
                if path.is_file():
                    self._cache[name] = path.read_text(encoding="utf-8")
                    break
            else:
                raise ConfigError(f"no prompt template {name}.txt in {', '.join(str(p) for p in self.search)}")
        return self._cache[name]

    def render(self, name: str, **values: object) -> str:
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), self.get(name))
