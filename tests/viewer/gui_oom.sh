#!/usr/bin/env bash
# GUI out-of-memory test: the viewer runs out of memory in its engine worker and says so —
# an "out of memory" error, exit status 1 of the screenshot run, not an abort. The address
# space is capped a little above what the viewer needs idle on a small input (measured first
# from /proc while it waits), so the libraries load and a 16384-token inspection cannot fit.
# Usage: tests/gui_oom.sh path/to/fma-viewer path/to/fmav out.png
source "$(dirname "$0")/gui_lib.sh" gui_oom "$@"

# The idle viewer's peak address space (VmPeak, KiB) on 256 synthetic tokens.
xvfb-run -a -s "-screen 0 1400x900x24" "$viewer" --size 1400x900 --synthetic --n 256 --log > "$work/idle.log" 2>&1 &
launcher=$!
pid=""
for _ in $(seq 600); do
  pid=$(pgrep -n -f "fma-viewer --size 1400x900 --synthetic --n 256 --log" || true)
  [[ -n "$pid" ]] && grep -q "idle; view attention" "$work/idle.log" && break
  sleep 0.2
done
[[ -n "$pid" ]] || gui_fail "the idle viewer did not start"
peak=$(awk '/^VmPeak:/ { print $2 }' "/proc/$pid/status")
kill "$pid" 2> /dev/null || true
wait "$launcher" 2> /dev/null || true
[[ -n "$peak" ]] || gui_fail "no VmPeak for the idle viewer"

limit=$((peak + 400 * 1024))  # 400 MiB more: a 16384-token overview needs gigabytes
set +e
(ulimit -v "$limit"; xvfb-run -a -s "-screen 0 1400x900x24" "$viewer" --size 1400x900 --synthetic --n 16384 \
  --screenshot "$png") > "$work/oom.log" 2>&1
code=$?
set -e
cat "$work/oom.log"
grep -q "out of memory" "$work/oom.log" || gui_fail "no 'out of memory' message under a ${limit} KiB cap"
[[ $code -eq 1 ]] || gui_fail "the run ended with status $code (1 expected: an engine error, not an abort)"
echo "gui_oom: out of memory reported under ${limit} KiB (idle peak ${peak} KiB), no abort"
