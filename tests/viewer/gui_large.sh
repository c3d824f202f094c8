#!/usr/bin/env bash
# Large n in the viewer: 16384 synthetic tokens are drawn as an overview of 4 x 4 block means,
# and a view zoomed in to 100 tokens gets an exact tile. Runs tests/gui_smoke.sh (image
# checks) and checks what the viewer says its maps show.
# Usage: tests/gui_large.sh path/to/fma-viewer out.png
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(bash "$here/gui_smoke.sh" "$1" "$2" --synthetic --n 16384 --causal --zoom 8000:8100,7950:8050)
echo "$out"
grep -q "maps of 16384 tokens as 4096 x 4096 (means of 4 x 4 blocks)" <<< "$out" ||
  { echo "gui_large: the overview is not 4096 x 4096 means of 4 x 4 blocks" >&2; exit 1; }
# The tile holds the visible rows 8000-8100 and keys 7950-8050 with half a view around them.
grep -q "exact tile of rows 7950-8150, keys 7900-8100;" <<< "$out" ||
  { echo "gui_large: no exact tile around rows 8000-8100, keys 7950-8050" >&2; exit 1; }
echo "gui_large: overview and exact tile present"
