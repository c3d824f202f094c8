#!/usr/bin/env bash
# GUI maps test (issue 21 point 3): the maps' token axes and the crosshair linked across them.
# With the mouse held over the full-attention map of a zoomed 512-token synthetic view, the
# screenshot must show (1) the crosshair's line on the FMA map (same row) and on the diff map
# (same column), (2) tick labels left of and under the maps, (3) other labels than the unzoomed
# view's (the axes follow the zoom). Under Xvfb at 1400x900 (gui_input_lib.sh).
# Usage: tests/gui_maps.sh path/to/fma-viewer out_dir
source "$(dirname "$0")/gui_input_lib.sh" gui_maps "$@"
viewer=$2
out=$3
here=$(cd "$(dirname "$0")" && pwd)
touch "$work/log"

# Screenshots after 150 frames once the maps are in, the mouse kept over the full map meanwhile
# (GLFW learns the pointer's place from motion events).
shot() {
  "$viewer" --size 1400x900 --synthetic --n 512 --frames 150 --screenshot "$1" "${@:2}" > "$work/log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2> /dev/null; do
    xdotool mousemove 560 300; sleep 0.1; xdotool mousemove 561 300; sleep 0.1
  done
  wait "$pid" || gui_fail "the viewer failed to write $1"
}
shot "$out/gui_maps_zoomed.png" --zoom 100:300,100:300
shot "$out/gui_maps_full.png"

python3 - "$here" "$out/gui_maps_zoomed.png" "$out/gui_maps_full.png" << 'PY' || gui_fail "maps axes or crosshair missing (screenshots in $out)"
import sys
sys.path.insert(0, sys.argv[1])
from png_pixels import read_png
zoomed, full = read_png(sys.argv[2]), read_png(sys.argv[3])
light = lambda p: min(p) >= 140 and max(p) - min(p) < 40
# (1) The crosshair: the mouse row (y = 300) across the FMA map (x 960..1200), the mouse
# column (x = 561) down the diff map (y 560..800).
row = max(sum(light(zoomed[y][x]) for x in range(960, 1200)) for y in range(296, 305))
col = max(sum(light(zoomed[y][x]) for y in range(560, 800)) for x in range(557, 566))
assert row >= 200, f"no crosshair row on the FMA map ({row} light pixels)"
assert col >= 200, f"no crosshair column on the diff map ({col} light pixels)"
# (2) Axis labels (the axes' colour) left of the full map and under it (the map ends near
# y = 470 under the header's four lines).
axis = (170, 170, 178)
left = [(x, y) for x in range(370, 414) for y in range(150, 445) if zoomed[y][x] == axis]
under = [(x, y) for x in range(410, 720) for y in range(465, 500) if zoomed[y][x] == axis]
assert len(left) >= 20, f"no row tick labels left of the map ({len(left)} pixels)"
assert len(under) >= 20, f"no column tick labels under the map ({len(under)} pixels)"
# (3) The zoomed view's labels are not the full view's.
same = sum(zoomed[y][x] == full[y][x] for x in range(370, 414) for y in range(150, 445))
assert same < 44 * 295, "the row labels of the zoomed view are those of the full view"
print(f"gui_maps: crosshair {row}/{col} px, labels {len(left)}/{len(under)} px")
PY
echo "gui_maps: ok"
