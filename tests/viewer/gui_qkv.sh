#!/usr/bin/env bash
# GUI q/k/v test: fma-viewer --qkv shows raw q, k, v made by `fmav gen-task sample-qkv`
# (gui_smoke.sh checks the screenshot), and its heads overview (--view heads: a thumbnail per
# head under the FMA settings); a session of kind "qkv" with a path relative to the
# session file, the magma colormap and a log10 floor of -3 opens too; a q/k/v file with too
# few tensors is refused before any window opens, naming the file.
# Usage: tests/gui_qkv.sh path/to/fma-viewer path/to/fmav out.png
source "$(dirname "$0")/gui_lib.sh" gui_qkv "$@"

mkdir "$work/tensors"
"$fmav" gen-task sample-qkv --n 700 --heads 2 --seed 3 --out "$work/tensors/qkv.safetensors"
bash "$here/gui_smoke.sh" "$viewer" "$png" --qkv "$work/tensors/qkv.safetensors" --head 1 \
  --block 16 --downsample learned --causal
bash "$here/gui_smoke.sh" "$viewer" "${png%.png}_heads.png" --qkv "$work/tensors/qkv.safetensors" \
  --view heads --block 16 --downsample learned --causal

cat > "$work/qkv.json" << EOF
{
  "format": "fmav-session",
  "format_version": 1,
  "source": {"kind": "qkv", "file": "tensors/qkv.safetensors", "block_size": 32, "rank": 4,
             "causal": false, "downsample": "average", "count_multiplicity": true, "seed": 0},
  "layer": 0,
  "head": 1,
  "offset": 0,
  "view": "attention",
  "query_row": -1,
  "scale": "log10",
  "colormap": "magma",
  "log_floor": -3
}
EOF
bash "$here/gui_smoke.sh" "$viewer" "${png%.png}_session.png" --session "$work/qkv.json"

# A .safetensors without v is refused with the file named, and a non-zero exit.
"$fmav" gen-task sample-qkv --n 16 --out "$work/full.safetensors" > /dev/null
"$fmav" attend --q "$work/full.safetensors" --k "$work/full.safetensors" --v "$work/full.safetensors" \
  --block 4 --rank 2 --downsample average --out "$work/out.safetensors" > /dev/null
if "$viewer" --qkv "$work/out.safetensors" > "$work/out.txt" 2>&1; then
  echo "gui_qkv: a file without q, k, v was accepted" >&2
  exit 1
fi
if ! grep -q "out.safetensors: no tensor named 'q'; a q/k/v file holds q, k and v" "$work/out.txt"; then
  echo "gui_qkv: unexpected message for a file without q, k, v:" >&2
  cat "$work/out.txt" >&2
  exit 1
fi
echo "gui_qkv: $png, the heads overview and the session rendered; the file without q, k, v was refused"
