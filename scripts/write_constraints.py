"""Write constraints.txt from a venv's installed distributions (`make lock`).

Usage: python scripts/write_constraints.py VENV_PYTHON > constraints.txt
Torch is left out (the Makefile installs the CPU build, a CUDA machine its own) and so is the kit.
Extra pins tested on a GPU but not installable here (bitsandbytes) are kept from the old file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {"torch", "ncusim"}
KEEP_FROM_OLD = {"bitsandbytes"}  # train-cuda: checked on an H100 (scripts/gpu_check_offline.sh)

HEADER = """\
# Exact versions `make setup` installs (pip install -c constraints.txt): every library that shapes
# a request, a prompt or a training step stays what the test suite ran with, for every user.
# Regenerate on purpose with `make lock` (newest allowed versions, then `make test`); check what a
# new upstream release would break with `make test-latest`. Not here: torch (the Makefile installs
# the CPU build 2.13.0, a CUDA machine pip's own), the kit itself, and the `vllm` extra (vLLM pins
# its own torch and transformers; the CUDA image fixes those, docker/cuda.Dockerfile).
"""


def name_of(line: str) -> str:
    return line.split("==", 1)[0].strip().lower().replace("_", "-")


def main() -> int:
    frozen = subprocess.run(
        [sys.argv[1], "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    pins = {name_of(line): line.strip() for line in frozen if "==" in line and name_of(line) not in SKIP}
    old = ROOT / "constraints.txt"
    if old.exists():
        for line in old.read_text().splitlines():
            if "==" in line and not line.startswith("#") and name_of(line) in KEEP_FROM_OLD:
                pins.setdefault(name_of(line), line.strip())
    sys.stdout.write(HEADER + "".join(f"{pins[name]}\n" for name in sorted(pins)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
