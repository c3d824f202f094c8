#!/usr/bin/env bash
# GUI smoke test: renders fma-viewer under a virtual X display, writes a screenshot and
# checks that the PNG exists and is not a uniform image (more than 20 distinct colours).
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

# Decode the PNG with zlib + struct only (8-bit RGB/RGBA, non-interlaced, as stb writes it).
python3 - "$png" << 'EOF'
import struct
import sys
import zlib

path = sys.argv[1]
with open(path, "rb") as f:
    data = f.read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"gui_smoke: {path} is not a PNG")
pos, idat, header = 8, b"", None
while pos < len(data):
    (length,) = struct.unpack(">I", data[pos:pos + 4])
    kind = data[pos + 4:pos + 8]
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        header = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
width, height, depth, color_type, _, _, interlace = header
channels = {2: 3, 6: 4}.get(color_type)
if depth != 8 or channels is None or interlace != 0:
    sys.exit(f"gui_smoke: unsupported PNG (depth {depth}, colour type {color_type})")

raw = zlib.decompress(idat)
stride = width * channels
prev = bytearray(stride)
colours = set()
for y in range(height):
    row_start = y * (stride + 1)
    filt = raw[row_start]
    line = bytearray(raw[row_start + 1:row_start + 1 + stride])
    for i in range(stride):
        a = line[i - channels] if i >= channels else 0
        b = prev[i]
        c = prev[i - channels] if i >= channels else 0
        if filt == 1:
            line[i] = (line[i] + a) & 0xFF
        elif filt == 2:
            line[i] = (line[i] + b) & 0xFF
        elif filt == 3:
            line[i] = (line[i] + (a + b) // 2) & 0xFF
        elif filt == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + pred) & 0xFF
    for x in range(0, stride, channels):
        colours.add(bytes(line[x:x + 3]))
    prev = line

print(f"gui_smoke: {path}: {width}x{height}, {len(colours)} distinct colours")
if len(colours) <= 20:
    sys.exit("gui_smoke: the screenshot is (nearly) uniform")
EOF
