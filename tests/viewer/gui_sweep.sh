#!/usr/bin/env bash
# GUI sweep test: fma-viewer --sweep shows a small `fmav sweep` results file in the sweep view
# (heat map over r x p, error vs latency and vs memory, the table; gui_smoke.sh checks the
# screenshot), and a results file of the wrong kind is refused before any window opens,
# naming the file.
# Usage: tests/gui_sweep.sh path/to/fma-viewer path/to/fmav out.png
source "$(dirname "$0")/gui_lib.sh" gui_sweep "$@"

"$fmav" sweep --n 256 --r 8,16,32 --p 1,2,4 --heads 2 --repeats 1 --out "$work/sweep.jsonl" > /dev/null
bash "$here/gui_smoke.sh" "$viewer" "$png" --synthetic --n 256 --view sweep --sweep "$work/sweep.jsonl"

printf '{"format":"fmav-bench"}\n' > "$work/wrong.jsonl"
if out=$("$viewer" --sweep "$work/wrong.jsonl" 2>&1); then
  gui_fail "a file that is not a sweep's was accepted"
fi
[[ "$out" == *wrong.jsonl* ]] || gui_fail "the error does not name the file: $out"
echo "gui_sweep: ok"
