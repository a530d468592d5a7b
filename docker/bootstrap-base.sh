#!/usr/bin/env bash
# Make sure the Python base image the Dockerfiles start FROM exists for the engine, even on a
# machine that cannot reach an image registry: pull it if the registry answers, otherwise build a
# stand-in from this machine's own apt sources (Debian bookworm's python3, made the image's
# `python` and `pip`) and tag it with the name the Dockerfile asks for. The stand-in is Debian's
# Python 3.11.2, not the tag's 3.11.x; `docker/engine.sh images` and the build log say which.
#
# usage: docker/bootstrap-base.sh IMAGE   (DOCKER_BIN picks the engine; default docker)
set -euo pipefail
image=${1:?usage: bootstrap-base.sh IMAGE}
engine=${DOCKER_BIN:-docker}

if $engine image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image: present"
  exit 0
fi
if timeout 60 $engine pull "$image" >/dev/null 2>&1; then
  echo "base image $image: pulled"
  exit 0
fi
command -v mmdebstrap >/dev/null || { echo "base image $image: no registry and no mmdebstrap (apt-get install mmdebstrap)" >&2; exit 1; }
echo "base image $image: no registry reachable; building a stand-in from this machine's apt sources (about a minute)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The host's apt sources (mirror or proxy included) and bookworm's python3; `python` and `pip` as
# the official image names them; no apt lists or caches left in the image.
mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
  --customize-hook='chroot "$1" ln -sf /usr/bin/python3 /usr/local/bin/python' \
  --customize-hook='chroot "$1" ln -sf /usr/bin/pip3 /usr/local/bin/pip' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$work/rootfs.tar"
$engine import --change 'CMD ["python3"]' "$work/rootfs.tar" "$image" >/dev/null
echo "base image $image: built from apt ($($engine image inspect --format '{{.Size}}' "$image") bytes)"
