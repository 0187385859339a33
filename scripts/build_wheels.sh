#!/usr/bin/env bash
# Download the exact pinned wheels the Docker build needs into wheels/ (git-ignored), for hosts
# whose container builds cannot reach the package index. The Dockerfile installs from wheels/
# with `pip install --no-index --find-links` whenever that folder holds wheels.
#
#   scripts/build_wheels.sh [app|all]
#
# app: requirements-app.txt only (enough when the build copies a ready analysis database);
# all (default): also requirements.txt (torch CPU, spaCy, ...) for the demo precompute stage.
# Wheels are for CPython 3.11 on manylinux x86_64, matching python:3.11-slim-bookworm and a
# Debian bookworm base image. Set TORCH_INDEX_URL (e.g. https://download.pytorch.org/whl/cpu) to
# take the CPU build of torch from there; PyPI's Linux torch is the much larger CUDA build.
set -euo pipefail

WHAT="${1:-all}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/wheels"
PIP="${PIP:-python3 -m pip}"

case "$WHAT" in
    app) REQS=("$ROOT/requirements-app.txt") ;;
    all) REQS=("$ROOT/requirements-app.txt" "$ROOT/requirements.txt") ;;
    *) echo "error: unknown set '$WHAT' (use app or all)" >&2; exit 2 ;;
esac

PLATFORM=(--only-binary=:all: --implementation cp --python-version 3.11 --abi cp311
          --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
          --platform manylinux2014_x86_64 --platform linux_x86_64 --platform any)

mkdir -p "$OUT"
if [ "$WHAT" = all ] && [ -n "${TORCH_INDEX_URL:-}" ]; then
    TORCH_PIN="$(grep -E '^torch==' "$ROOT/requirements.txt")"
    echo "downloading $TORCH_PIN from $TORCH_INDEX_URL ..."
    $PIP download --dest "$OUT" --no-deps --index-url "$TORCH_INDEX_URL" "${PLATFORM[@]}" "$TORCH_PIN"
fi
for req in "${REQS[@]}"; do
    echo "downloading wheels for $(basename "$req") into $OUT ..."
    $PIP download --dest "$OUT" --find-links "$OUT" --requirement "$req" "${PLATFORM[@]}"
done
echo "$(find "$OUT" -name '*.whl' | wc -l) wheels, $(du -sh "$OUT" | cut -f1) in $OUT"
