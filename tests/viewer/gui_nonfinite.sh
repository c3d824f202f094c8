#!/usr/bin/env bash
# GUI non-finite test (issue 21.2): q, k, v holding NaN and Inf are refused by default — the
# error popup names the tensor, the counts and the first position, and the screenshot run exits
# 1 — and with --allow-nonfinite they are shown: the NaN cells drawn magenta (the legend's
# "NaN / Inf" entry), the let-through tensors named in the sidebar and the summary line, and the
# heads overview ranks them.
# Usage: tests/gui_nonfinite.sh path/to/fma-viewer path/to/fmav out.png
source "$(dirname "$0")/gui_lib.sh" gui_nonfinite "$@"

# (1, 2, 256, 64): one NaN in q (head 0, token 100, dim 5) and a +Inf in k (head 1, token 30).
"$fmav" gen-task sample-qkv --n 256 --heads 2 --seed 3 --out "$work/qkv.safetensors" > /dev/null
python3 - "$work/qkv.safetensors" << 'PY'
import json, struct, sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
(size,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + size])
def poke(name, index, value):
    t = header[name]
    assert t["dtype"] == "F32", t
    struct.pack_into("<f", data, 8 + size + t["data_offsets"][0] + 4 * index, value)
dim = header["q"]["shape"][-1]
poke("q", (0 * 256 + 100) * dim + 5, float("nan"))
poke("k", (1 * 256 + 30) * dim + 0, float("inf"))
open(path, "wb").write(data)
PY

# Refused: the popup and an engine error naming q, its counts and the first position.
set +e
xvfb-run -a -s "-screen 0 1400x900x24" "$viewer" --size 1400x900 --qkv "$work/qkv.safetensors" \
  --block 16 --screenshot "${png%.png}_refused.png" > "$work/refused.log" 2>&1
code=$?
set -e
cat "$work/refused.log"
[[ $code -eq 1 ]] || gui_fail "NaN q/k/v: exit status $code, 1 expected"
grep -q "engine error: q (qkv.safetensors) holds 1 NaN and 0 Inf values; the first at \[0, 0, 100, 5\]; pass --allow-nonfinite" \
  "$work/refused.log" || gui_fail "no message naming q, its NaN and where"
[[ -s "${png%.png}_refused.png" ]] || gui_fail "no screenshot of the refusal"

# Allowed: the maps are drawn (gui_smoke checks the panels), NaN cells magenta.
bash "$here/gui_smoke.sh" "$viewer" "$png" --qkv "$work/qkv.safetensors" --block 16 --allow-nonfinite \
  > "$work/allowed.log"
cat "$work/allowed.log"
grep -q "let through: q (qkv.safetensors) holds 1 NaN and 0 Inf values; the first at \[0, 0, 100, 5\]; k (qkv.safetensors) holds 0 NaN and 1 Inf (1 +Inf, 0 -Inf) values; the first at \[0, 1, 30, 0\]" \
  "$work/allowed.log" || gui_fail "the summary does not name what was let through"
python3 - "$png" << 'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
pos, idat = 8, b""
while pos < len(data):
    (length,) = struct.unpack(">I", data[pos:pos + 4])
    kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, _, color_type = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
channels = 4 if color_type == 6 else 3
raw, stride = zlib.decompress(idat), width * channels
prev, magenta = bytearray(stride), 0
for y in range(height):
    filt, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):  # undo the PNG row filter (None, Sub, Up, Average, Paeth)
        a = line[i - channels] if i >= channels else 0
        b, c = prev[i], (prev[i - channels] if i >= channels else 0)
        if filt == 4:
            p = a + b - c
            a = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else (b if abs(p - b) <= abs(p - c) else c)
        line[i] = (line[i] + [0, a, b, (a + b) // 2, a][filt]) & 0xFF
    magenta += sum(1 for x in range(0, stride, channels) if line[x] == 255 and line[x + 1] == 0 and line[x + 2] == 255)
    prev = line
print(f"gui_nonfinite: {magenta} magenta pixels")
if magenta < 200:
    sys.exit("gui_nonfinite: the NaN cells are not drawn magenta")
PY
# The heads overview of the same file, let through: every head drawn (head 1's k holds the Inf).
bash "$here/gui_smoke.sh" "$viewer" "${png%.png}_heads.png" --qkv "$work/qkv.safetensors" --block 16 \
  --allow-nonfinite --view heads
echo "gui_nonfinite: refused by default with the tensor named; with --allow-nonfinite drawn magenta"
