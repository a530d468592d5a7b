#!/usr/bin/env bash
# Make sure the Python base image the Dockerfiles start FROM exists for the engine, even on a
# machine that cannot reach an image registry: pull it if the registry answers, otherwise build a
# stand-in from this machine's own apt sources (Debian bookworm's python3, made the image's
# `python`) and tag it with the name the Dockerfile asks for. The stand-in is Debian's
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
# The host's apt sources (mirror or proxy included) and bookworm's python3 with venv, made the
# image's `python` as the official image names it. Slim as the official slim images are: no
# manuals, translations or docs but the copyright files, no recommends, no apt lists or caches,
# and no perl beyond the essential perl-base (usrmerge and its perl modules are needed only to merge
# /usr, which is done by then and stays). No pip: the Dockerfiles use the pip of the venv they make.
mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --customize-hook='chroot "$1" apt-get purge --yes --quiet usrmerge libfile-find-rule-perl libnumber-compare-perl libtext-glob-perl perl libperl5.36 perl-modules-5.36' \
  --customize-hook='chroot "$1" ln -sf /usr/bin/python3 /usr/local/bin/python' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$work/rootfs.tar"
$engine import --change 'CMD ["python3"]' "$work/rootfs.tar" "$image" >/dev/null
echo "base image $image: built from apt ($($engine image inspect --format '{{.Size}}' "$image") bytes)"
