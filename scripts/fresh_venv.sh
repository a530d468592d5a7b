#!/usr/bin/env bash
# A throwaway venv with the newest versions the kit's pyproject allows (no lock): what a user would
# get if nothing were pinned. Used by `make test-latest` (drift guard). Usage: scripts/fresh_venv.sh DIR [PYTHON]
set -euo pipefail
dir="$1"
python="${2:-python3}"
cd "$(dirname "$0")/.."
rm -rf "$dir"
"$python" -m venv "$dir"
pip=("$dir/bin/python" -m pip install --quiet --disable-pip-version-check)
# Same torch rule as `make setup`: the CPU build on machines without CUDA.
if ! command -v nvidia-smi >/dev/null 2>&1; then "${pip[@]}" "$(sed -n 's/^TORCH_CPU := //p' Makefile)"; fi
"${pip[@]}" --upgrade -e '.[local,dev,train]'
"${pip[@]}" --no-deps "$(sed -n 's/^EMBEDDED_MODEL := //p' Makefile)"
