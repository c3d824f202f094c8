#!/usr/bin/env bash
# Quick start 1: install what is missing, build, and launch fma-viewer on the shipped
# default input. Arguments go to fma-viewer (try --help).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
fmav_setup
fmav_log "building fma-viewer and fmav in $FMAV_BUILD_DIR"
cmake --build "$FMAV_BUILD_DIR" --target fma-viewer fmav -j"$(nproc)"
exec "$FMAV_BUILD_DIR/bin/fma-viewer" "$@"
