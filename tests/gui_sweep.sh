#!/usr/bin/env bash
# GUI sweep test: fma-viewer --sweep shows a small `fmav sweep` results file in the sweep view
# (heat map over r x p, error vs latency and vs memory, the table; gui_smoke.sh checks the
# screenshot), and a results file of the wrong kind is refused before any window opens,
# naming the file.
# Usage: tests/gui_sweep.sh path/to/fma-viewer path/to/fmav out.png
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 path/to/fma-viewer path/to/fmav out.png" >&2
  exit 2
fi
viewer=$1
fmav=$2
png=$3
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export FMAV_SETTINGS="$work/settings.json"  # the user's recent files stay out of the test
export OMP_WAIT_POLICY=passive

"$fmav" sweep --n 256 --r 8,16,32 --p 1,2,4 --heads 2 --repeats 1 --out "$work/sweep.jsonl" > /dev/null
bash "$here/gui_smoke.sh" "$viewer" "$png" --synthetic --n 256 --view sweep --sweep "$work/sweep.jsonl"

printf '{"format":"fmav-bench"}\n' > "$work/wrong.jsonl"
if out=$("$viewer" --sweep "$work/wrong.jsonl" 2>&1); then
  echo "gui_sweep: a file that is not a sweep's was accepted" >&2
  exit 1
fi
if [[ "$out" != *wrong.jsonl* ]]; then
  echo "gui_sweep: the error does not name the file: $out" >&2
  exit 1
fi
echo "gui_sweep: ok"
