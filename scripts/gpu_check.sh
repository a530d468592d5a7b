#!/usr/bin/env bash
# GPU check of the training and serving loop (issue 8), for a CUDA machine:
#   1. `make train`: 5 QLoRA steps (NF4, double quant, the §8.3 defaults) of a small base model on the
#      reference folders of a published set, one loss per step;
#   2. `make merge`: the adapter folded into the non-quantised base;
#   3. `make serve-vllm`: one vLLM server for the merged model, then one chat request to it through
#      the kit's `vllm:<name>` spec (and, with SIMULATE=1, one simulated dialogue with it as the agent);
#   4. `make stop-vllm`, and a table of timings.
#
# Usage: scripts/gpu_check.sh [BASE]   BASE: a hub id (default Qwen/Qwen2.5-0.5B-Instruct), a model
#        folder, or `local` (the embedded SmolLM2-135M: no model download).
# Environment: GPU=0 (one GPU index), DATA=multiwoz_train_dataset, REFERENCE=1 (0: the full set from
#        GitHub), OUT_ROOT=results/gpu_check, TRAIN_EXTRA / SERVE_EXTRA (more ncusim / vLLM flags),
#        SIMULATE=1. Needs the network for `make setup` and the base model's download, unless both are
#        already there (a prepared .venv, HF_HOME with the model, or BASE=local; NCUSIM_DATA_MIRROR for data).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE="${1:-${BASE:-Qwen/Qwen2.5-0.5B-Instruct}}"
GPU="${GPU:-0}"
DATA="${DATA:-multiwoz_train_dataset}"
REFERENCE="${REFERENCE:-1}"
OUT_ROOT="${OUT_ROOT:-results/gpu_check}"
TRAIN_EXTRA="${TRAIN_EXTRA:---logging-steps 1}"
SERVE_EXTRA="${SERVE_EXTRA---max-model-len 8192 --gpu-memory-utilization 0.5}"
SIMULATE="${SIMULATE:-0}"
ADAPTER="$OUT_ROOT/adapter"
MERGED="$OUT_ROOT/gpu-check-merged"
NAME="$(basename "$MERGED")" # serve-vllm names the server after the model folder

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu_check: nvidia-smi not found: run this on a CUDA machine" >&2
  exit 2
fi
if [[ ! "$GPU" =~ ^[0-9]+$ ]]; then
  echo "gpu_check: GPU must be one GPU index, not '$GPU'" >&2
  exit 2
fi

TIMINGS=()
now() { date +%s.%N; }
# step LABEL COMMAND...: runs the command, echoes it first, records its wall time.
step() {
  local label="$1" start end
  shift
  echo
  echo "== $label: $*"
  start="$(now)"
  "$@"
  end="$(now)"
  TIMINGS+=("$(awk -v a="$start" -v b="$end" -v l="$label" 'BEGIN { printf "%-10s %8.1f s", l, b - a }')")
}

SERVING=0
cleanup() {
  local status=$?
  if [[ "$SERVING" == 1 ]]; then
    echo
    echo "== stop: make stop-vllm NAME=$NAME"
    make --no-print-directory stop-vllm NAME="$NAME" || echo "gpu_check: stop-vllm failed; see make serving-status" >&2
  fi
  if ((${#TIMINGS[@]})); then
    echo
    echo "== timings (GPU $GPU, base $BASE)"
    printf '  %s\n' "${TIMINGS[@]}"
  fi
  if [[ "$status" != 0 ]]; then
    echo "gpu_check: FAILED (exit $status)" >&2
  fi
  exit "$status"
}
trap cleanup EXIT

nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader
mkdir -p "$OUT_ROOT"

step setup make --no-print-directory setup

step train make --no-print-directory train DATA="$DATA" MODEL="$BASE" GPUS="$GPU" OUT="$ADAPTER" MAX_STEPS=5 \
  REFERENCE="$REFERENCE" EXTRA="--overwrite $TRAIN_EXTRA"
test -s "$ADAPTER/adapter_model.safetensors"
test -s "$ADAPTER/cli_args.json"
losses="$(.venv/bin/python - "$ADAPTER/loss_log.jsonl" <<'EOF'
import json
import sys

records = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
losses = [r["loss"] for r in records if "loss" in r]
if not losses:
    sys.exit("no loss in the loss log")
print(" ".join(f"{x:.4f}" for x in losses))
EOF
)"
echo "losses per logged step: $losses"

step merge make --no-print-directory merge ADAPTER="$ADAPTER" OUT="$MERGED" EXTRA="--overwrite"
test -s "$MERGED/config.json"

SERVING=1
step serve make --no-print-directory serve-vllm MODEL="$MERGED" GPUS="$GPU" EXTRA="$SERVE_EXTRA"

step request .venv/bin/ncusim chat "Reply with one short sentence: which city is the University of Cambridge in?" \
  --model "vllm:$NAME" --max-tokens 48

if [[ "$SIMULATE" == 1 ]]; then
  step simulate make --no-print-directory simulate MODELS="vllm:$NAME" USER_MODEL=local BEHAVIORS=normal N=1 \
    SCENARIOS=PMUL0095 ATTEMPTS=1 MAX_STEPS=10 EXTRA="--results $OUT_ROOT/simulate"
fi

echo
echo "gpu_check: OK (adapter $ADAPTER, merged model $MERGED served as vllm:$NAME)"
