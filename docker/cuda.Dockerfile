# ncusim CUDA image: vLLM servers and QLoRA training (the `train` and `vllm` extras). Build from
# the repository root: `make docker-build-cuda`; run with `--gpus` through the Makefile's
# DOCKER_CUDA_RUN / DOCKER_CUDA_SERVE or docker/compose.yaml (README, "Containers").
# Needs an NVIDIA driver for CUDA 12.8 (>= 570) and the NVIDIA Container Toolkit on the host.
#
# Pinned by exact tag; to pin by digest as well, pass --build-arg <NAME>_IMAGE=<tag>@sha256:<digest>.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
ARG VLLM_IMAGE=vllm/vllm-openai:v0.11.0

# ---- builder: the kit's wheel (pure Python, so any Python >= 3.11 builds it) -----------------------
FROM ${PYTHON_IMAGE} AS builder

ARG KIT_EXTRAS=train,vllm
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY multiwoz_env ./multiwoz_env
COPY tau_env ./tau_env

# kit.txt names the wheel by a direct reference, so no index package of the same name can replace it.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && printf 'ncusim%s @ file://%s\n' "${KIT_EXTRAS:+[${KIT_EXTRAS}]}" /wheels/ncusim-*.whl > /wheels/kit.txt

# ---- runtime: the official vLLM image plus the kit and the training stack ----------------------------
# vLLM 0.11.0 is built on torch 2.8.0 (CUDA 12.8), the torch of the original's training pins
# (multiwoz_env/requirements.txt: transformers 4.57.1, peft 0.15.2, accelerate 1.6.0,
# bitsandbytes 0.48.2, torch 2.8.0), so the adapters train on the stack the paper used and serve on
# the same torch. trl 0.24.0 is pinned instead of the original's unused 0.17.0: it requires
# transformers >= 4.56.1 (met by 4.57.1, which vLLM 0.11.0's transformers >= 4.56.0 also accepts)
# and accelerate >= 1.4.0 and datasets >= 3.0.0 (met by 1.6.0 and 4.2.0). vllm and torch are listed
# at the base image's versions so pip can only keep them, never swap them.
FROM ${VLLM_IMAGE} AS runtime

LABEL org.opencontainers.image.title="ncusim-cuda" \
      org.opencontainers.image.description="NCUser reproducibility kit: vLLM serving and QLoRA training"

RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python3 -m pip install --no-cache-dir -r /wheels/kit.txt \
        "vllm==0.11.0" \
        "torch==2.8.0" \
        "transformers==4.57.1" \
        "peft==0.15.2" \
        "trl==0.24.0" \
        "bitsandbytes==0.48.2" \
        "accelerate==1.6.0" \
        "datasets==4.2.0"

# Same layout as the CPU image: data at /kit/<env>_env/data, results at /kit/results, and every
# download or compile cache (models, vLLM, torch) on the /cache volume so it survives --rm.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NCUSIM_HOME=/kit \
    NCUSIM_RESULTS=/kit/results \
    NCUSIM_CACHE=/cache \
    HF_HOME=/cache/huggingface \
    VLLM_CACHE_ROOT=/cache/vllm \
    XDG_CACHE_HOME=/cache/xdg \
    TRITON_CACHE_DIR=/cache/triton \
    HF_HUB_DISABLE_TELEMETRY=1 \
    VLLM_NO_USAGE_STATS=1 \
    DO_NOT_TRACK=1

RUN groupadd --system --gid 10001 ncusim \
    && useradd --system --uid 10001 --gid ncusim --home-dir /kit --no-create-home --shell /usr/sbin/nologin ncusim \
    && mkdir -p /kit/results /kit/multiwoz_env/data /kit/tau_env/data /cache \
    && chown -R ncusim:ncusim /kit /cache

WORKDIR /kit
VOLUME ["/kit/results", "/kit/multiwoz_env/data", "/kit/tau_env/data", "/cache"]
# Numeric, so runtimes that check runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001

# No HEALTHCHECK here: the image also runs training jobs, which have no port; the vLLM services in
# docker/compose.yaml define theirs (GET /health).
ENTRYPOINT ["ncusim"]
CMD ["--help"]
