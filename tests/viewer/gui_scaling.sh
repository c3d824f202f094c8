#!/usr/bin/env bash
# GUI scaling test: fma-viewer --bench shows a small `fmav bench --jsonl` results file in the
# scaling view (latency and memory against N per method; gui_smoke.sh checks the screenshot).
# Usage: tests/gui_scaling.sh path/to/fma-viewer path/to/fmav out.png
source "$(dirname "$0")/gui_lib.sh" gui_scaling "$@"

"$fmav" bench --methods fma,sdpa --n 256:2048 --heads 2 --repeats 1 --jsonl "$work/bench.jsonl" > /dev/null
bash "$here/gui_smoke.sh" "$viewer" "$png" --synthetic --n 256 --view scaling --bench "$work/bench.jsonl"
echo "gui_scaling: ok"
