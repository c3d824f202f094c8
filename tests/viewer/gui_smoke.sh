#!/usr/bin/env bash
# GUI smoke test: renders fma-viewer under a virtual X display, writes a screenshot and
# checks the PNG: the window's size (1400x900), not uniform (more than 20 distinct colours),
# and the panels present — the sidebar, the status bar and, in the attention view (the default
# unless --view or --session says otherwise), each of the four maps' quadrants drawn; in the
# heads view (--view heads), the first thumbnail; in the sweep and scaling views, the first plot.
# Usage: tests/gui_smoke.sh path/to/fma-viewer out.png [extra fma-viewer options]
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 path/to/fma-viewer out.png [fma-viewer options]" >&2
  exit 2
fi
viewer=$1
png=$2
shift 2

if ! command -v xvfb-run > /dev/null; then
  echo "gui_smoke: xvfb-run not found (apt-get install xvfb)" >&2
  exit 1
fi
if ! command -v python3 > /dev/null; then
  echo "gui_smoke: python3 not found" >&2
  exit 1
fi

rm -f "$png"
xvfb-run -a -s "-screen 0 1400x900x24" "$viewer" --size 1400x900 --screenshot "$png" "$@"

if [[ ! -s "$png" ]]; then
  echo "gui_smoke: no screenshot written to $png" >&2
  exit 1
fi

view=attention
for ((i = 1; i <= $#; ++i)); do
  case "${!i}" in
    --view) j=$((i + 1)); view=${!j} ;;
    --session) view=session ;;
  esac
done

python3 - "$png" "$view" "$(dirname "$0")" << 'EOF'
import sys

sys.path.insert(0, sys.argv[3])
from png_pixels import read_png

path = sys.argv[1]
pixels = read_png(path)  # rows of (r, g, b)
height, width = len(pixels), len(pixels[0])
colours = {p for row in pixels for p in row}
print(f"gui_smoke: {path}: {width}x{height}, {len(colours)} distinct colours")
if (width, height) != (1400, 900):
    sys.exit(f"gui_smoke: expected a 1400x900 window, got {width}x{height}")
if len(colours) <= 20:
    sys.exit("gui_smoke: the screenshot is (nearly) uniform")

def distinct(x0, y0, x1, y1):
    return len({pixels[y][x] for y in range(y0, y1, 2) for x in range(x0, x1, 2)})

# Regions of the 1400x900 layout: the sidebar (left 330 px), the status bar (bottom 40 px)
# and, for the attention view, the four map quadrants of the main area.
regions = {"sidebar": (10, 40, 330, 840), "status bar": (0, 862, 700, 900)}
if sys.argv[2] == "attention":
    x_mid, y_mid = 870, 470
    regions.update({"full attention map": (345, 100, x_mid, y_mid), "FMA map": (x_mid, 100, 1395, y_mid),
                    "difference map": (345, y_mid, x_mid, 850), "level map": (x_mid, y_mid, 1395, 850)})
elif sys.argv[2] == "heads":
    # Thumbnails are 64 px or more from the main area's top left, below the controls.
    regions["first head's thumbnail"] = (350, 140, 400, 190)
elif sys.argv[2] in ("sweep", "scaling"):
    # The first plot (the heat map, or latency vs N) in the main area's top left.
    regions["first plot"] = (360, 200, 780, 420)
for name, box in regions.items():
    n = distinct(*box)
    if n <= 4:
        sys.exit(f"gui_smoke: the {name} region {box} is blank ({n} colours)")
print("gui_smoke: panels present: " + ", ".join(regions))
EOF
