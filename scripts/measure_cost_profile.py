"""Measure the per-dialogue call and token profile that `shared/cost_estimate.py` prices.

Maintainer tool (its output, shared/cost_profile.json, is committed). From the data mirror:
- the 80 reference dialogue folders of the published training sets (five behaviours): user turns,
  agent steps, and the tokens of every agent and user call (the agent's chat up to each step, the
  user's view up to each turn), at 4 characters a token;
- the recording of the original simulator (golden/usersim/): how many helper calls of each kind
  one user turn makes, per behaviour and PBUS variant, and their prompt sizes.
Usage: python scripts/measure_cost_profile.py <data mirror> > shared/cost_profile.json
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from shared.usersim.models import DEFAULTS
from tests.support.golden_replay import dialogues

CHARS_PER_TOKEN = 4
FLAGS = ("unavailable_service", "tangential", "emotional_acts", "fragment_dumping")
GOLDEN_ORDER = [(b, False) for b in ("normal", "emotional_acts", "tangential", "fragment_dumping", "unavailable_service")]
GOLDEN_ORDER += [(b, True) for b in ("tangential", "emotional_acts", "fragment_dumping", "unavailable_service")]


def tokens(text: str) -> float:
    return len(text) / CHARS_PER_TOKEN


def behaviour_of(folder: Path) -> str:
    config = json.loads((folder / "non_coll_config.json").read_text())
    on = [flag for flag in FLAGS if config.get(flag)]
    return "+".join(on) if on else "normal"


def folder_profile(folder: Path) -> dict[str, float]:
    chat = json.loads((folder / "dial_hist_system_list.json").read_text())
    agent_in = agent_out = 0.0
    steps = 0
    for index, message in enumerate(chat):
        if message["role"] == "assistant":
            steps += 1
            agent_in += sum(tokens(str(m["content"])) for m in chat[:index])
            agent_out += tokens(str(message["content"]))
    view = (folder / "dial_hist_user.txt").read_text()
    turns = [t for t in view.split("# You:")[1:]]
    base = tokens((folder / "base_prompt.txt").read_text()) if (folder / "base_prompt.txt").is_file() else 400.0
    user_in = user_out = 0.0
    seen = 0.0
    for turn in turns:
        said, _, agent = turn.partition("# System:")
        user_in += base + seen
        user_out += tokens(said)
        seen += tokens(said) + tokens(agent)
    return {
        "agent_system": tokens(str(chat[0]["content"])),
        "user_turns": len(turns),
        "agent_steps": steps,
        "agent_in": agent_in,
        "agent_out": agent_out,
        "user_in": user_in,
        "user_out": user_out,
        "history": seen,
    }


def main() -> int:
    mirror = Path(sys.argv[1])
    base = mirror / "NCUser" / "multiwoz_env" / "train_datasets"
    per_behaviour: dict[str, list[dict[str, float]]] = defaultdict(list)
    for name in (base / "REFERENCE_FOLDERS.txt").read_text().split():
        folder = base / name
        per_behaviour[behaviour_of(folder)].append(folder_profile(folder))
    dialogue_profile: dict[str, dict[str, float]] = {}
    for behaviour, rows in sorted(per_behaviour.items()):
        dialogue_profile[behaviour] = {key: round(statistics.mean(r[key] for r in rows), 1) for key in rows[0]}
        dialogue_profile[behaviour]["folders"] = len(rows)
    rows = [json.loads(line) for line in (mirror / "golden" / "usersim" / "original_requests_PMUL0095.jsonl").read_text().splitlines()]
    helpers: dict[str, dict[str, Any]] = {}
    for (behaviour, pbus), dialogue in zip(GOLDEN_ORDER, dialogues(rows), strict=True):
        kinds = Counter(r["kind"] for r in dialogue if r["kind"] in DEFAULTS and r["kind"] not in ("user", "judge"))
        turns = sum(1 for r in dialogue if r["kind"] == "user")
        sizes: dict[str, list[float]] = defaultdict(list)
        for r in dialogue:
            if r["kind"] in kinds:
                sizes[r["kind"]].append(tokens(json.dumps(r["body"]["messages"])))
        helpers[("pbus:" if pbus else "") + behaviour] = {
            kind: {"per_user_turn": round(count / turns, 3), "in_tokens": round(statistics.mean(sizes[kind]), 1), "out_tokens": 60}
            for kind, count in sorted(kinds.items())
        }
    profile = {
        "about": (
            "Measured by scripts/measure_cost_profile.py from the data mirror: agent and user calls per dialogue from the "
            "80 reference folders (MultiWOZ training sets), helper calls per user turn and their prompt sizes from the "
            f"recorded requests of the original simulator; {CHARS_PER_TOKEN} characters a token; helper replies counted "
            "as 60 tokens; the judge as one call per user turn over the history."
        ),
        "dialogues": dialogue_profile,
        "helpers": helpers,
    }
    sys.stdout.write(json.dumps(profile, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
