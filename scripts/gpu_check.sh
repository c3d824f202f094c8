#!/usr/bin/env bash
# The GPU checks of the CUDA engine (docs/CUDA.md), as one prepared run for a lent GPU
# machine, which has nvcc, CMake, ninja and a CUDA PyTorch but reaches no package registry:
#   here:  bash scripts/gpu_check.sh --fetch-debs   # Debian's header packages into .gpu/
#   there: bash scripts/gpu_check.sh [OUT_DIR]      # with .gpu carried along
# There it builds the engine, fmav and the tests against that machine's LibTorch (its torch
# wheel), runs test_cuda and test_bench, compute-sanitizer (memcheck, racecheck) over the
# FmaCuda suites, and the GPU benchmark of docs/DESIGN.md §6; logs and tables go to OUT_DIR.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
debs=$root/.gpu

if [[ "${1:-}" == "--fetch-debs" ]]; then
  mkdir -p "$debs"
  (cd "$debs" && apt-get download -q libgtest-dev libgmock-dev googletest nlohmann-json3-dev libcli11-dev libstb-dev)
  ls -la "$debs"
  exit 0
fi

out=${1:-$root/gpu-out}
mkdir -p "$out"
log() { printf '[gpu_check] %s\n' "$*" | tee -a "$out/summary.txt"; }
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv | tee "$out/device.txt"

# Header-only libraries and GoogleTest from Debian's packages, unpacked (not installed).
deps=/tmp/fmav-gpu-deps
mkdir -p "$deps"
for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$deps"; done
torch_prefix=$(python3 -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
log "torch $(python3 -c 'import torch; print(torch.__version__, torch.version.cuda)'), nvcc $(nvcc --version | tail -1)"

build=/tmp/fmav-gpu-build
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFMAV_CUDA=ON -DFMAV_BUILD_APP=OFF \
  -DFMAV_BUILD_TESTS=ON -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr;$deps/usr/lib/x86_64-linux-gnu/cmake" \
  -DCMAKE_CXX_FLAGS="-isystem $deps/usr/include" -Wno-dev > "$out/configure.log" 2>&1 \
  || { tail -30 "$out/configure.log"; exit 1; }
log "building"
cmake --build "$build" -j"$(nproc)" --target fmav test_cuda test_bench test_fma > "$out/build.log" 2>&1 \
  || { grep -m20 -B2 -A10 "error" "$out/build.log"; exit 1; }

status=0
log "test_cuda"
"$build/tests/test_cuda" > "$out/test_cuda.log" 2>&1 || status=1
tail -4 "$out/test_cuda.log" | tee -a "$out/summary.txt"
log "test_bench"
"$build/tests/test_bench" --gtest_brief=1 > "$out/test_bench.log" 2>&1 || status=1
tail -3 "$out/test_bench.log" | tee -a "$out/summary.txt"
if command -v compute-sanitizer > /dev/null; then
  for tool in memcheck racecheck; do
    log "compute-sanitizer --tool $tool (FmaCuda, float32 and half precisions)"
    compute-sanitizer --tool "$tool" --error-exitcode 9 "$build/tests/test_cuda" \
      --gtest_filter='FmaCuda.Float32*:FmaCuda.Local*:FmaCuda.Causal*' > "$out/sanitizer_$tool.log" 2>&1 || status=1
    tail -3 "$out/sanitizer_$tool.log" | tee -a "$out/summary.txt"
  done
fi

# docs/DESIGN.md §6: bf16, B=1, H=16, D=128, causal, m=64, p=4; forward, then forward + backward.
bench=(bench --device cuda --dtype bfloat16 --heads 16 --dim 128 --causal --block 64 --rank 4 --repeats 5)
log "fmav ${bench[*]} (forward)"
"$build/bin/fmav" "${bench[@]}" --n 4096:1048576 --methods fma,sdpa-flash,sdpa-efficient,sdpa-cudnn,sdpa-math \
  --budget-s 60 --csv "$out/bench_forward.csv" > "$out/bench_forward.txt" 2>&1 || status=1
log "fmav ${bench[*]} --backward"
"$build/bin/fmav" "${bench[@]}" --backward --n 4096:262144 --methods fma,sdpa-flash,sdpa-efficient,sdpa-cudnn \
  --budget-s 60 --csv "$out/bench_backward.csv" > "$out/bench_backward.txt" 2>&1 || status=1
tail -40 "$out/bench_forward.txt" "$out/bench_backward.txt"
log "done, status $status"
exit $status
