#!/usr/bin/env bash
# GUI scaling test: fma-viewer --bench shows a small `fmav bench --jsonl` results file in the
# scaling view (latency and memory against N per method; gui_smoke.sh checks the screenshot).
# Usage: tests/gui_scaling.sh path/to/fma-viewer path/to/fmav out.png
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

"$fmav" bench --methods fma,sdpa --n 256:2048 --heads 2 --repeats 1 --jsonl "$work/bench.jsonl" > /dev/null
bash "$here/gui_smoke.sh" "$viewer" "$png" --synthetic --n 256 --view scaling --bench "$work/bench.jsonl"
echo "gui_scaling: ok"
