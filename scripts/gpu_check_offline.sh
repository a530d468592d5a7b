#!/usr/bin/env bash
# scripts/gpu_check.sh on a CUDA machine with no internet, from a bundle made beforehand by
# `scripts/gpu_bundle.py` (default `.gpu/`: a small base model, a data mirror of the reference
# folders, Python wheels). It:
#   1. installs the wheels and the kit (--no-deps, --no-index) into the machine's own Python
#      environment (the one whose python3 holds CUDA torch) and points .venv at it, so that
#      `make setup` has nothing left to do;
#   2. runs scripts/gpu_check.sh with BASE=<bundle>/base, REFERENCE=1 and NCUSIM_DATA_MIRROR=<bundle>/mirror;
#      where vLLM is not installed, `transformers serve` on the GPU stands in for it through
#      VLLM_SERVER_CMD (the launcher, registry, health wait and `vllm:<name>` requests are the kit's own);
#   3. runs a second, 2-step QLoRA with --bf16 (the original's other documented precision).
# It changes the machine's Python environment: use it on a throwaway machine or container.
# Usage: bash scripts/gpu_check_offline.sh [BUNDLE]   (default .gpu)
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE="${1:-.gpu}"
for part in base mirror whl; do
  [[ -d "$BUNDLE/$part" ]] || { echo "gpu_check_offline: $BUNDLE/$part missing: run scripts/gpu_bundle.py first" >&2; exit 2; }
done

PY="$(command -v python3)"
PREFIX="$("$PY" -c 'import sys; print(sys.prefix)')"
echo "== python: $PY ($("$PY" --version 2>&1)), environment $PREFIX"
"$PY" - <<'EOF'
import importlib
for name in ("torch", "transformers", "accelerate", "peft", "pyarrow", "huggingface_hub", "tokenizers", "vllm"):
    try:
        module = importlib.import_module(name)
        print(f"   before: {name} {getattr(module, '__version__', '?')}")
    except Exception as exc:  # report, do not stop: vllm is expected to be missing
        print(f"   before: {name} missing ({type(exc).__name__})")
EOF

"$PY" -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check "$BUNDLE"/whl/*.whl
"$PY" -m pip install -q --no-index --no-deps --no-build-isolation --disable-pip-version-check -e .
ln -sfn "$PREFIX" .venv
touch .venv/.ncusim-setup # newer than pyproject.toml: `make setup` is satisfied
"$PY" -c 'import torch, bitsandbytes, trl, peft, transformers, datasets; print("   after: torch", torch.__version__, "cuda", torch.version.cuda, "| bitsandbytes", bitsandbytes.__version__, "| trl", trl.__version__, "| peft", peft.__version__, "| transformers", transformers.__version__, "| datasets", datasets.__version__)'

export NCUSIM_DATA_MIRROR="$PWD/$BUNDLE/mirror"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if ! "$PY" -c 'import vllm' 2>/dev/null; then
  echo "== vLLM is not installed here: transformers serve on the GPU stands in for it (VLLM_SERVER_CMD)"
  export VLLM_SERVER_CMD=".venv/bin/transformers serve {model} --host {host} --port {port} --device cuda"
  export SERVE_EXTRA="${SERVE_EXTRA:-}"
fi

REFERENCE=1 bash scripts/gpu_check.sh "$PWD/$BUNDLE/base"

echo
echo "== bf16 QLoRA, 2 steps"
.venv/bin/ncusim train --data multiwoz_train_dataset --reference --model "$PWD/$BUNDLE/base" --gpus 0 --max-steps 2 \
  --bf16 --logging-steps 1 --out results/gpu_check/adapter-bf16 --overwrite --quantization 4bit
echo "gpu_check_offline: OK"
