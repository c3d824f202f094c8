#!/usr/bin/env bash
# GUI peers test: fma-viewer shows each peer method on the synthetic input (--method; the
# screenshot checked by gui_smoke.sh, its summary line naming the method), a q/k/v file under
# a peer, and a session of kind "synthetic" whose method is swin (shifted) opens on it.
# Usage: tests/gui_peers.sh path/to/fma-viewer path/to/fmav out.png
source "$(dirname "$0")/gui_lib.sh" gui_peers "$@"

# shows METHOD PNG [options]: the screenshot passes gui_smoke and its summary names METHOD.
shows() {
  local method=$1 out=$2
  shift 2
  bash "$here/gui_smoke.sh" "$viewer" "$out" "$@" 2>&1 | tee "$work/out.txt"
  grep -q "; method $method;" "$work/out.txt" || gui_fail "the summary line does not name $method"
}

shows htransformer "$png" --method htransformer --n 1024 --block 32 --causal
shows reformer "${png%.png}_reformer.png" --method reformer --n 512 --block 32 --hash-rounds 3
shows swin "${png%.png}_swin.png" --method swin --n 1024 --block 8 --shifted
"$fmav" gen-task sample-qkv --n 300 --heads 2 --seed 4 --out "$work/qkv.safetensors"
shows linear "${png%.png}_linear_qkv.png" --qkv "$work/qkv.safetensors" --method linear --causal

cat > "$work/swin.json" << JSON
{
  "format": "fmav-session",
  "format_version": 1,
  "source": {"kind": "synthetic", "n": 576, "block_size": 6, "rank": 4, "causal": false,
             "downsample": "average", "count_multiplicity": true, "seed": 0,
             "method": "swin", "hash_rounds": 2, "shifted": true},
  "layer": 0, "head": 0, "offset": 0, "view": "attention", "query_row": -1, "scale": "log10"
}
JSON
shows swin "${png%.png}_session.png" --session "$work/swin.json"
grep -q "maps of 576 tokens" "$work/out.txt" || gui_fail "the swin session did not open on its 576 tokens"
echo "gui_peers: htransformer, reformer, swin, linear (q/k/v) and a swin session shown"
