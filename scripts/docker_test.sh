#!/usr/bin/env bash
# make docker-test: the CPU image built and the demo run inside it, with whichever engine is here.
#
# 1. Engine: DOCKER_BIN, else docker, else podman. A podman that cannot start a container with its
#    defaults (root without CAP_SYS_RESOURCE, crun on a hybrid cgroup layout) gets docker/podman.conf.
# 2. Base image: pulled, or built from this machine's apt sources when no registry answers
#    (docker/bootstrap-base.sh).
# 3. Build: the machine's CA bundle as a build secret (never a layer); the CPU torch wheel from this
#    machine's wheel folders when PyTorch's index cannot be reached.
# 4. Run: `make simulate DOCKER=1` on the embedded model as a non-root caller (DOCKER_TEST_USER,
#    default 1000:1000), with a made-up key in the environment.
# 5. Checks: the score block, every written file owned by that caller, the image's user, and the key
#    in no image metadata, history or written file. Each step prints its time; the last line says PASS.
# 6. On PASS, docker/verified.json records the inputs it passed on (scripts/docker_stamp.sh), which
#    CI checks: it cannot build images offline, so a change to them needs this run and that file.
set -euo pipefail
cd "$(dirname "$0")/.."
kit=$PWD
caller=${DOCKER_TEST_USER:-1000:1000}
base_image=${PYTHON_IMAGE:-python:3.11.13-slim-bookworm}
started=$(date +%s)
say() { echo "docker-test [$(( $(date +%s) - started ))s]: $*"; }
fail() { echo "docker-test: FAIL: $*" >&2; exit 1; }

engine=${DOCKER_BIN:-}
if [ -z "$engine" ]; then  # the first engine that answers (a docker CLI without its daemon does not)
  for candidate in docker podman; do
    if command -v "$candidate" >/dev/null && timeout 20 "$candidate" info >/dev/null 2>&1; then engine=$candidate; break; fi
  done
fi
[ -n "$engine" ] || fail "no working container engine: start docker, or install podman (apt-get install podman runc mmdebstrap)"
engine=$(basename "${engine%% *}")
say "engine $engine ($($engine --version))"

DOCKER_BIN=$engine docker/bootstrap-base.sh "$base_image"
if [ "$engine" = podman ] && [ -z "${CONTAINERS_CONF:-}" ] && ! podman run --rm --network none "$base_image" true >/dev/null 2>&1; then
  export CONTAINERS_CONF=$kit/docker/podman.conf
  say "podman needs $CONTAINERS_CONF here (ulimits it may set, runc)"
  podman run --rm --network none "$base_image" true || fail "podman cannot start a container even with docker/podman.conf"
fi

flags=()
for bundle in ${DOCKER_TEST_CA_BUNDLE:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}; do
  [ -f "$bundle" ] && flags+=(--secret "id=ca_bundle,src=$bundle")
done
torch=$(sed -n 's/^TORCH_CPU := torch==//p' Makefile)
if ! timeout 10 python3 -c 'import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=8)' https://download.pytorch.org/whl/cpu/ >/dev/null 2>&1; then
  wheel=$(find ${PIP_FIND_LINKS:-} /opt/wheels "$HOME/.cache/pip" -maxdepth 3 -name "torch-${torch}*cpu*-cp311-*.whl" 2>/dev/null | head -1 || true)
  [ -n "$wheel" ] || fail "PyTorch's CPU index is unreachable and no torch-${torch} CPU wheel is on this machine: put one in docker/wheels/"
  cp -f "$wheel" docker/wheels/
  flags+=(--build-arg TORCH_FIND_LINKS=docker/wheels)
  say "PyTorch's index unreachable: torch from $wheel"
fi

say "building the CPU image"
build_started=$(date +%s)
make -s docker-build-cpu DOCKER_BIN="$engine" PYTHON_IMAGE="$base_image" DOCKER_BUILD_FLAGS="${flags[*]}"
image=$(make -s --no-print-directory -f Makefile -f - <<<'print-image: ; @echo $(DOCKER_IMAGE_CPU)' print-image)
size=$($engine image inspect --format '{{.Size}}' "$image")
say "built $image in $(( $(date +%s) - build_started ))s: $(( size / 1000000 )) MB"
$engine history --format '{{.Size}}\t{{.CreatedBy}}' "$image" | cut -c1-150 | head -12

user=$($engine image inspect --format '{{.Config.User}}' "$image")
[ "$user" = "10001:10001" ] || fail "the image runs as '$user', not 10001:10001"

key="sk-dockertest-$(date +%s%N | sha256sum | cut -c1-24)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf results/docker-test  # the demo's own folder: a rerun must run the dialogue again, not resume it
mkdir -p results multiwoz_env/data tau_env/data "$work/cache"
chown "$caller" results multiwoz_env/data tau_env/data "$work/cache"
say "demo in the container as $caller"
demo_started=$(date +%s)
OPENAI_API_KEY=$key make -s simulate DOCKER=1 DOCKER_BIN="$engine" DOCKER_USER="$caller" DOCKER_CACHE="$work/cache" \
  MODELS=local USER_MODEL=local BEHAVIORS=normal SCENARIOS=PMUL0095 N=1 ATTEMPTS=1 MAX_STEPS=5 \
  EXTRA="--results /kit/results/docker-test" | tee "$work/demo.log"
say "demo done in $(( $(date +%s) - demo_started ))s"

grep -q "success_rate_mean" "$work/demo.log" || fail "no score block in the demo's output"
grep -A8 "^Result of\|success_rate_values" "$work/demo.log" | head -12 || true
written=$(find results/docker-test multiwoz_env/data "$work/cache" -newer "$work" | wc -l)
foreign=$(find results/docker-test multiwoz_env/data "$work/cache" -newer "$work" ! -user "${caller%%:*}" | wc -l)
[ "$foreign" -eq 0 ] || fail "$foreign of $written written files are not owned by $caller"
say "ownership: $written files written, all owned by $caller"
if $engine image inspect "$image" | grep -q "$key" || $engine history --no-trunc "$image" | grep -q "$key" \
   || grep -rqs "$key" results/docker-test "$work/cache" "$work/demo.log"; then
  fail "the key reached the image or a written file"
fi
say "key: in no image metadata, no history line, no written file"
scripts/docker_stamp.sh write "$(( size / 1000000 ))" "$(( $(date +%s) - started ))"
say "PASS"
