#!/usr/bin/env bash
# Build a local Debian bookworm + Python 3.11 base image for hosts that cannot pull from a
# container registry (the Dockerfile's BASE_IMAGE build argument then points at it).
#
#   sudo scripts/build_base_image.sh [IMAGE_NAME] [DEBIAN_MIRROR]
#
# IMAGE_NAME defaults to localhost/python-base:3.11-bookworm; DEBIAN_MIRROR defaults to the first
# deb.debian.org-style URI in /etc/apt/sources.list* (or http://deb.debian.org/debian).
# Needs root, debootstrap and podman (or docker) on the host.
set -euo pipefail

IMAGE="${1:-localhost/python-base:3.11-bookworm}"
MIRROR="${2:-}"
ENGINE="${CONTAINER_ENGINE:-$(command -v podman || command -v docker || true)}"

die() { echo "error: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "debootstrap needs root: run with sudo"
command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install -y debootstrap"
[ -n "$ENGINE" ] || die "neither podman nor docker found: apt-get install -y podman"

if [ -z "$MIRROR" ]; then
    MIRROR="$(grep -rhE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
              | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n1 | tr -d ' ' || true)"
    MIRROR="${MIRROR:-http://deb.debian.org/debian}"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"

echo "debootstrap bookworm from $MIRROR into $ROOTFS ..."
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$ROOTFS" "$MIRROR"

# Slim the root file system: package caches, docs and man pages are not needed in an image.
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* \
       "$ROOTFS"/usr/share/locale/* "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/log/*.log

echo "importing as $IMAGE ..."
tar -C "$ROOTFS" -c . | "$ENGINE" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$IMAGE"
"$ENGINE" run --rm "$IMAGE" python3 -c 'import sys, venv; print("base image python", sys.version.split()[0])'
