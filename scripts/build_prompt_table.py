"""Fill in (or check) the SHA-256 of every entry of shared/paper/locations.json from a mirror.

Maintainer tool: the table says *where* each of the original's prompts lives; the kit reads the
text from the verified upstream file at run time. Usage:
    python scripts/build_prompt_table.py <data mirror>          # check
    python scripts/build_prompt_table.py <data mirror> --write  # fill in missing/changed hashes
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shared.paper.extract import Location, digest, extract

TABLE = Path(__file__).resolve().parent.parent / "shared" / "paper" / "locations.json"


def main() -> int:
    root = Path(sys.argv[1]) / "NCUser"
    write = "--write" in sys.argv[2:]
    raw = json.loads(TABLE.read_text())
    changed = 0
    for entry in raw["locations"]:
        location = Location.from_json({**entry, "sha256": entry.get("sha256", "")})
        value = extract((root / location.file).read_text(encoding="utf-8"), location)
        sha = digest(value)
        if sha != entry.get("sha256"):
            changed += 1
            print(f"{location.id}: {entry.get('sha256') or '(none)'} -> {sha}")
            entry["sha256"] = sha
    if write:
        TABLE.write_text(json.dumps(raw, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(raw['locations'])} locations, {changed} hashes {'written' if write else 'differ'}")
    return 1 if changed and not write else 0


if __name__ == "__main__":
    raise SystemExit(main())
