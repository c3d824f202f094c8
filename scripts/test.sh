#!/usr/bin/env bash
# Quick start 2: install what is missing, build everything, and run the whole test suite;
# then build the engine, CLI and tests again with AddressSanitizer and UndefinedBehavior-
# Sanitizer (build-sanitize/, docs/HARDENING.md) and run the parser, CLI and emulated-kernel
# tests there. Each phase's time is logged, and the whole run's at the end (docs/DESIGN.md
# §5.5 has the budget).
# .ci/run calls exactly this. Arguments go to the first ctest (e.g. -R test_fma) and skip
# the sanitizer pass, as does FMAV_SANITIZE_PASS=0. Tests run $(nproc) at a time; the GUI's
# timing-sensitive ones alone (tests/CMakeLists.txt).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

phase_start=$SECONDS
# Logs how long the phase that just ended took: "phase NAME: S s".
phase_done() {
  fmav_log "phase $1: $((SECONDS - phase_start)) s"
  phase_start=$SECONDS
}
jobs=$(nproc)

fmav_setup -DFMAV_BUILD_TESTS=ON -DFMAV_BUILD_APP=ON
fmav_install_test_peers
fmav_install_sass_tools  # where nvcc is: the sass_check test
# Whether the CUDA kernels are compiled here (nvcc and a CUDA LibTorch; docs/CUDA.md).
fmav_log "$(grep -o 'FMAV_CUDA=.*' "$FMAV_BUILD_DIR/configure.log" || echo 'FMAV_CUDA: not reported')"
phase_done "install and configure"
fmav_log "building everything in $FMAV_BUILD_DIR"
cmake --build "$FMAV_BUILD_DIR" -j"$jobs"
phase_done "build"
fmav_log "running the tests"
(cd "$FMAV_BUILD_DIR" && ctest --output-on-failure -j"$jobs" "$@")
phase_done "tests"
if [[ $# -ne 0 || "${FMAV_SANITIZE_PASS:-1}" == 0 ]]; then
  fmav_log "done in $SECONDS s"
  exit 0
fi

# The parsers' and the CLI's tests, the task generators, and the emulated CUDA kernels,
# under ASan + UBSan (fatal on the first report). LibTorch itself is not instrumented; no
# suppression is needed (docs/HARDENING.md). ASan warns once that it does not fully support
# the fibers' swapcontext; it has reported nothing false here.
sanitize_dir="$FMAV_ROOT/build-sanitize"
sanitize_tests='test_tensor_io|test_input|test_session|test_gen_task|test_cli$|test_kernels_emulated|fuzz_replay_'
FMAV_BUILD_DIR=$sanitize_dir fmav_configure -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFMAV_SANITIZE=ON \
  -DFMAV_BUILD_APP=OFF -DFMAV_BUILD_TESTS=ON -DFMAV_CUDA=OFF
fmav_log "building the engine, CLI and parser tests with ASan + UBSan in $sanitize_dir"
# The CUDA kernels' source on host fibers, where CUDA's headers are (docs/CUDA.md): an
# out-of-bounds shared-memory or tensor access in any kernel is a report here.
emulated=()
if cmake --build "$sanitize_dir" --target help | grep -q test_kernels_emulated; then emulated=(test_kernels_emulated); fi
cmake --build "$sanitize_dir" -j"$jobs" --target fmav test_tensor_io test_input test_session test_gen_task \
  test_cli "${emulated[@]}" fuzz_replay_npy fuzz_replay_safetensors fuzz_replay_model_config fuzz_replay_hf_config fuzz_replay_hf_tokenizer fuzz_replay_hf_swap \
  fuzz_replay_session fuzz_replay_results fuzz_replay_text fuzz_replay_image
phase_done "sanitizer build"
fmav_log "running the parser and CLI tests under the sanitizers"
(cd "$sanitize_dir" && ctest --output-on-failure -j"$jobs" -R "$sanitize_tests")
phase_done "sanitizer tests"
fmav_log "done in $SECONDS s"
