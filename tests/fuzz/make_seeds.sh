#!/usr/bin/env bash
# Writes the fuzz targets' seed corpus (tests/fuzz/corpus/TARGET/) from files the project's
# own tools make: tensors from `fmav gen-task sample-qkv` and `fmav attend`, a tiny model's
# config.json and model.safetensors from `fmav train`, the shipped models' configs, sessions
# and settings, results files from `fmav sweep` and `fmav bench --jsonl`, text and images.
# Results and session targets read a selector byte first (fuzz_results.cpp, fuzz_session.cpp).
# Usage: tests/fuzz/make_seeds.sh path/to/fmav   (run from anywhere; rewrites the corpus)
set -euo pipefail
fmav=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
corpus="$here/corpus"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_WAIT_POLICY=passive FMAV_THREADS=1
rm -rf "$corpus"
mkdir -p "$corpus"/{npy,safetensors,model_config,hf_config,hf_tokenizer,hf_swap,session,results,text,image}

# with_selector BYTE FILE OUT: the selector byte, then the file.
with_selector() { { printf "\\x$1"; cat "$2"; } > "$3"; }

# Tensors.
"$fmav" gen-task sample-qkv --n 16 --heads 2 --dim 4 --out "$corpus/safetensors/qkv.safetensors" > /dev/null
q="$corpus/safetensors/qkv.safetensors"
"$fmav" attend --q "$q" --k "$q" --v "$q" --block 4 --rank 2 --out "$corpus/npy/out_f32.npy" \
  --map-out "$corpus/npy/map_f64.npy" --level-map-out "$corpus/npy/levels_i32.npy" \
  --save-weights "$corpus/safetensors/weights.safetensors" > /dev/null
"$fmav" attend --method reformer --q "$q" --k "$q" --v "$q" --block 4 --out "$work/o.safetensors" > /dev/null
cp "$work/o.safetensors" "$corpus/safetensors/out.safetensors"

# A tiny model (config.json, model.safetensors) and the shipped configs.
head -c 4000 "$root/assets/corpus.txt" > "$work/t.txt"
"$fmav" train --data "$work/t.txt" --out "$work/m" --attention reformer --context 16 --d-model 8 --layers 1 \
  --heads 2 --d-mlp 8 --block 4 --steps 1 --batch 1 --eval-every 0 --eval-tokens 16 > /dev/null
cp "$work/m/model.safetensors" "$corpus/safetensors/tiny_model.safetensors"
cp "$work/m/config.json" "$corpus/model_config/tiny_reformer.json"
for m in lm-fma lm-full image-fma2d; do cp "$root/assets/models/$m/config.json" "$corpus/model_config/$m.json"; done
# Hugging Face configs as transformers writes them (the test command installs it into
# LibTorch's environment; FMAV_TEST_PYTHON names another Python that has it).
python=${FMAV_TEST_PYTHON:-${FMAV_DEPS_DIR:-/opt/fmav-deps}/torch-2.11.0/bin/python}
"$python" "$root/tests/models/make_hf_models.py" "$work/hf" > /dev/null 2>&1
for m in gpt2 llama llama3-tied llama-linear-bf16 qwen2 mistral bert bert-untied-relu roberta vit; do
  cp "$work/hf/$m/config.json" "$corpus/hf_config/$m.json"
done
cp "$work/hf/vit/preprocessor_config.json" "$corpus/hf_config/vit-preprocessor.json"  # the same target parses both
# Tokenizers of every kind, trained by tokenizers itself: the file, a NUL, a text to encode.
"$python" "$root/tests/models/make_hf_tokenizers.py" "$work/tok" > /dev/null 2>&1
for m in gpt2 llama roberta llama2 mistral bert wordpiece-seq; do
  { cat "$work/tok/$m/tokenizer.json"; printf '\0Hi  the caf\xc3\xa9 \xe6\x9d\xb1 [CLS]<s>\t42'; } > "$corpus/hf_tokenizer/$m"
done
# A small one with the stages the trained ones lack.
cat > "$corpus/hf_tokenizer/handmade" << 'JSON'
{"model": {"type": "WordLevel", "unk_token": "?", "vocab": {"?": 0, "a": 1, "b": 2, "ab": 3, "1": 4, "!": 5}},
 "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKD"}, {"type": "Lowercase"},
   {"type": "Strip", "strip_left": true, "strip_right": false}, {"type": "Append", "append": "!"}]},
 "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"},
   {"type": "Split", "pattern": {"Regex": "b+"}, "behavior": "MergedWithPrevious", "invert": true},
   {"type": "Digits", "individual_digits": false}, {"type": "Punctuation", "behavior": "Contiguous"}]},
 "added_tokens": [{"id": 5, "content": "!", "lstrip": true, "rstrip": true, "normalized": true}],
 "post_processor": {"type": "Sequence", "processors": [{"type": "ByteLevel"},
   {"type": "BertProcessing", "sep": ["!", 5], "cls": ["?", 0]}]}}
JSON
# A fitted folder's swap file (fuzz_hf_swap reads it against a 4-layer model).
head -c 20000 "$root/assets/corpus.txt" > "$work/fit.txt"
"$fmav" fit --model "$work/hf/llama" --data "$work/fit.txt" --swap-layers 0-1 --block 8 --rank 2 \
  --tokens 64 --steps 2 -o "$work/fit" > /dev/null
cp "$work/fit/fmav_swap.json" "$corpus/hf_swap/llama.json"

# Sessions (selector 0) and settings (selector 1).
cat > "$work/model.json" << JSON
{"format": "fmav-session", "format_version": 1,
 "source": {"kind": "model", "model": "/m", "input": "/i.txt"},
 "layer": 1, "head": 2, "offset": 0, "view": "query", "query_row": 300, "scale": "log10",
 "colormap": "magma", "log_floor": -9, "zoom": [1, 2.5, 0, 4], "implementation": "blocked", "precision": "float64"}
JSON
cat > "$work/synthetic.json" << JSON
{"format": "fmav-session", "format_version": 1,
 "source": {"kind": "synthetic", "n": 512, "block_size": 32, "rank": 4, "causal": true, "downsample": "average",
            "count_multiplicity": true, "seed": 0, "method": "reformer", "hash_rounds": 3, "shifted": false},
 "layer": 0, "head": 0, "offset": 0, "view": "attention", "query_row": -1, "scale": "linear"}
JSON
cat > "$work/qkv.json" << JSON
{"format": "fmav-session", "format_version": 1,
 "source": {"kind": "qkv", "file": "q.npy", "block_size": 8, "rank": 2, "causal": false, "downsample": "dense",
            "count_multiplicity": false, "seed": 7},
 "layer": 0, "head": 3, "offset": 0, "view": "heads", "query_row": 5, "scale": "log10"}
JSON
cat > "$work/settings.json" << JSON
{"format": "fmav-settings", "format_version": 1, "recent": ["/a/b.json", "c.safetensors"], "last_folder": "/a"}
JSON
for s in model synthetic qkv; do with_selector 00 "$work/$s.json" "$corpus/session/$s"; done
with_selector 01 "$work/settings.json" "$corpus/session/settings"

# Results: a sweep (selector 0) and a benchmark (selector 1).
"$fmav" sweep --n 64 --r 8,16 --p 1,2 --heads 1 --dim 4 --repeats 1 --out "$work/sweep.jsonl" > /dev/null
"$fmav" sweep --method local --n 64 --r 8 --heads 1 --dim 4 --repeats 1 --out "$work/sweep_local.jsonl" > /dev/null
"$fmav" bench --methods sdpa,fma,linear --n 64,128 --heads 1 --dim 4 --repeats 1 --block 8 --rank 2 \
  --jsonl "$work/bench.jsonl" > /dev/null
with_selector 00 "$work/sweep.jsonl" "$corpus/results/sweep"
with_selector 00 "$work/sweep_local.jsonl" "$corpus/results/sweep_local"
with_selector 01 "$work/bench.jsonl" "$corpus/results/bench"

# Text: the sample, and multi-byte UTF-8.
head -c 1500 "$root/assets/sample.txt" > "$corpus/text/sample.txt"
printf 'na\xc3\xafve caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82 end\n' > "$corpus/text/utf8.txt"

# Images: PNGs the project draws (RGB from sample-image, shapes), and a BMP written here.
"$fmav" gen-task sample-image --size 16 --out "$corpus/image/sample.png" > /dev/null
"$fmav" gen-task shapes --per-class 1 --size 16 --out "$work/shapes" > /dev/null
cp "$(find "$work/shapes" -name '*.png' | sort | head -1)" "$corpus/image/shape.png"
python3 - "$corpus/image/tiny.bmp" << 'PY'
import struct, sys
w, h = 3, 2
row = bytes([0, 0, 255, 0, 255, 0, 255, 0, 0]) + b"\0" * 3  # BGR pixels, padded to 4 bytes
pixels = row * h
header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
open(sys.argv[1], "wb").write(header + info + pixels)
PY
echo "make_seeds: $(find "$corpus" -type f | wc -l) seeds in $corpus"
