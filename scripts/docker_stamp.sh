#!/usr/bin/env bash
# The record that `make docker-test` passed on the current container inputs (docker/, the Makefile,
# the dependency files, the build context's allow-list), so that CI, which runs offline and cannot
# build an image, still refuses a change to those inputs that nobody built and ran.
#
#   scripts/docker_stamp.sh hash    the SHA-256 of the inputs (tracked files only)
#   scripts/docker_stamp.sh write   record it in docker/verified.json (docker_test.sh does, on PASS)
#   scripts/docker_stamp.sh check   exit 0 when the record matches, 1 (with what to do) when not
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=docker/verified.json

inputs() {
  git ls-files -- Makefile pyproject.toml uv.lock constraints.txt .dockerignore scripts/docker_test.sh docker \
    | grep -v "^$stamp\$" | LC_ALL=C sort
}

digest() {
  inputs | while read -r file; do
    printf '%s\n' "$file"
    sha256sum "$file" | cut -c1-64
  done | sha256sum | cut -c1-64
}

case "${1:-}" in
  hash) digest ;;
  write)
    printf '{\n  "inputs_sha256": "%s",\n  "verified": "%s",\n  "image_mb": %s,\n  "seconds": %s\n}\n' \
      "$(digest)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${2:-null}" "${3:-null}" > "$stamp"
    echo "docker-stamp: recorded in $stamp (commit it with the change)"
    ;;
  check)
    now=$(digest)
    recorded=$(sed -n 's/.*"inputs_sha256": "\([0-9a-f]*\)".*/\1/p' "$stamp" 2>/dev/null || true)
    if [ "$now" = "$recorded" ]; then
      echo "docker-stamp: the container inputs are the ones make docker-test passed on ($(sed -n 's/.*"verified": "\(.*\)".*/\1/p' "$stamp"))"
      exit 0
    fi
    echo "docker-stamp: docker/, the Makefile or the dependency files changed since the last passing make docker-test;" >&2
    echo "docker-stamp: run it on a machine with docker or podman (README, Containers) and commit $stamp" >&2
    exit 1
    ;;
  *) echo "usage: $0 hash|write [image_mb seconds]|check" >&2; exit 2 ;;
esac
