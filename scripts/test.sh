#!/usr/bin/env bash
# Quick start 2: install what is missing, build everything, and run the whole test suite.
# .ci/run calls exactly this. Arguments go to ctest (e.g. -R test_fma).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
fmav_setup -DFMAV_BUILD_TESTS=ON -DFMAV_BUILD_APP=ON
fmav_log "building everything in $FMAV_BUILD_DIR"
cmake --build "$FMAV_BUILD_DIR" -j"$(nproc)"
fmav_log "running the tests"
cd "$FMAV_BUILD_DIR"
ctest --output-on-failure "$@"
