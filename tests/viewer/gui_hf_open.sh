#!/usr/bin/env bash
# GUI Hugging Face open test: a running fma-viewer (real X input, xdotool under Xvfb) opens a
# Hugging Face Llama folder by File > Open (Ctrl+O, a typed path, Return) and shows its maps
# on the current text through the folder's tokenizer.json; then opens token ids (.npy) as its
# input the same way; the saved session (Ctrl+S) names the folder and the ids. The models come
# from models/make_hf_models.py (FMAV_TEST_PYTHON and FMAV_HF_MAKER from ctest).
# Usage: tests/gui_hf_open.sh path/to/fma-viewer
source "$(dirname "$0")/gui_input_lib.sh" gui_hf_open "$@"
viewer=$2
python=${FMAV_TEST_PYTHON:?run through ctest (FMAV_TEST_PYTHON)}
maker=${FMAV_HF_MAKER:?run through ctest (FMAV_HF_MAKER)}
"$python" "$maker" "$work/hf" > "$work/make.log" 2>&1 || gui_fail "make_hf_models.py failed: $(cat "$work/make.log")"
"$python" -c "
import sys, numpy
from safetensors.numpy import load_file
numpy.save(sys.argv[2], load_file(sys.argv[1])['ids'])" "$work/hf/llama/reference.safetensors" "$work/ids.npy"

cp "$work/hf/llama/tokenizer_text.txt" "$work/text.txt"
"$viewer" --size 1400x900 --synthetic --n 256 --input "$work/text.txt" --log > "$work/log" 2>&1 &
pid=$!
wait_log "idle; view attention; maps of 256 tokens"

through_dialog ctrl+o "$work/hf/llama"
wait_log "status: opened $work/hf/llama"
wait_log "idle; view attention; maps of 158 tokens"

through_dialog ctrl+o "$work/ids.npy"
wait_log "status: opened $work/ids.npy"
wait_log "idle; view attention; maps of 40 tokens"

through_dialog ctrl+s "$work/session.json"
wait_log "status: saved the session to $work/session.json"
python3 - "$work/session.json" "$work/hf/llama" "$work/ids.npy" << 'PY' || gui_fail "the session: $(cat "$work/session.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["source"] == {"kind": "model", "model": sys.argv[2], "input": sys.argv[3]}, s["source"]
PY
grep -q "error" "$work/log" && gui_fail "an error was reported"
echo "gui_hf_open: File > Open opened a Hugging Face folder (158 tokens of text: a BOS and the text) and its token ids (40)"
