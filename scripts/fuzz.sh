#!/usr/bin/env bash
# Builds the parsers' libFuzzer targets with clang (FMAV_FUZZ=ON: fmav_io and the targets,
# AddressSanitizer and UndefinedBehaviorSanitizer, no LibTorch) in build-fuzz/ and runs each
# target for the given number of executions, or seconds with --seconds, starting from its
# seed corpus (tests/fuzz/corpus/TARGET, read only) plus what earlier runs found
# (build-fuzz/corpus/TARGET). A crashing input is written to build-fuzz/findings/TARGET/;
# keep it as tests/fuzz/regressions/TARGET/NAME so the test build replays it for ever.
# Prints one line per target: executions, seconds, executions per second, findings.
# Usage: scripts/fuzz.sh [--runs N | --seconds S] [TARGET ...]   (default --runs 1000000, all)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/setup.sh"
limit=(-runs=1000000)
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) limit=(-runs="$2"); shift 2 ;;
    --seconds) limit=(-max_total_time="$2"); shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(npy safetensors model_config hf_config hf_tokenizer hf_swap session results text image)

FMAV_APT_PACKAGES+=(clang libclang-rt-14-dev)  # libFuzzer and the sanitizer runtimes
fmav_install_packages
build="$root/build-fuzz"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DFMAV_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build" > /dev/null

status=0
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/findings/$t"
  log="$build/findings/$t.log"
  start=$(date +%s%N)
  set +e
  "$build/bin/fuzz_$t" "${limit[@]}" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$build/findings/$t/" "$build/corpus/$t" "$root/tests/fuzz/corpus/$t" > "$log" 2>&1
  code=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  found=$(find "$build/findings/$t" -type f | wc -l)
  awk -v t="$t" -v runs="$runs" -v ns="$(( $(date +%s%N) - start ))" -v code="$code" -v found="$found" \
    'BEGIN { s = ns / 1e9; printf "fuzz_%-13s %10d executions in %7.1f s (%8.0f/s), exit %d, %d finding(s)\n", t, runs, s, runs / s, code, found }'
  [[ $code -eq 0 && $found -eq 0 ]] || { status=1; tail -30 "$log"; }
done
exit $status
