#!/usr/bin/env bash
# GUI Hugging Face test: fma-viewer --model on random Hugging Face folders that `transformers`
# makes (models/make_hf_models.py; FMAV_TEST_PYTHON and FMAV_HF_MAKER from ctest): a Llama's
# layer and head on a text through its tokenizer.json (the four maps, gui_smoke.sh checks
# them), its heads overview (a thumbnail per layer x head, ranked) and the query view (the
# tokenizer's pieces); a sweep of one of its layers in the sweep view; token ids from a .npy
# for a folder without a tokenizer; a vit on its image (CLS and patches); a Llama with room for 8192 tokens on a long text (the
# pooled overview, no N x N maps per layer); and a text for a folder without tokenizer.json,
# a sliding-window model or a bad layer reported, not crashed on.
# Usage: tests/gui_hf.sh path/to/fma-viewer path/to/fmav out.png
source "$(dirname "$0")/gui_lib.sh" gui_hf "$@"

python=${FMAV_TEST_PYTHON:?run through ctest (FMAV_TEST_PYTHON)}
maker=${FMAV_HF_MAKER:?run through ctest (FMAV_HF_MAKER)}
"$python" "$maker" "$work/hf" > "$work/make.log" 2>&1 || { cat "$work/make.log" >&2; gui_fail "make_hf_models.py failed"; }
llama=$work/hf/llama
text=$llama/tokenizer_text.txt

bash "$here/gui_smoke.sh" "$viewer" "$png" --model "$llama" --input "$text" --layer 1 --head 2 --block 8 --rank 2 \
  > "$work/attention.txt"
grep -q "maps of 158 tokens" "$work/attention.txt" || gui_fail "the Llama's maps: $(cat "$work/attention.txt")"
bash "$here/gui_smoke.sh" "$viewer" "${png%.png}_heads.png" --model "$llama" --input "$text" --view heads \
  --block 8 --rank 2 > /dev/null
bash "$here/gui_smoke.sh" "$viewer" "${png%.png}_query.png" --model "$llama" --input "$text" --view query \
  --block 8 --rank 2 > /dev/null

# A sweep of the Llama's layer 1 (fmav sweep --model DIR --layer) in the sweep view.
"$fmav" sweep --model "$llama" --input "$text" --layer 1 --r 8,16 --p 1,2 --repeats 1 --out "$work/sweep.jsonl" \
  > /dev/null
bash "$here/gui_smoke.sh" "$viewer" "${png%.png}_sweep.png" --model "$llama" --input "$text" --view sweep \
  --sweep "$work/sweep.jsonl" > /dev/null

# Token ids from a .npy (qwen2 has no tokenizer.json).
"$python" -c "
import sys, numpy
from safetensors.numpy import load_file
numpy.save(sys.argv[2], load_file(sys.argv[1])['ids'])" "$work/hf/qwen2/reference.safetensors" "$work/ids.npy"
bash "$here/gui_smoke.sh" "$viewer" "${png%.png}_ids.png" --model "$work/hf/qwen2" --input "$work/ids.npy" \
  --block 8 > "$work/ids.txt"
grep -q "maps of 40 tokens" "$work/ids.txt" || gui_fail "token ids: $(cat "$work/ids.txt")"

# A vit on its image: CLS and the patches, bidirectional, in the maps and the query view.
vit_image=$work/hf/vit/image.png
bash "$here/gui_smoke.sh" "$viewer" "${png%.png}_vit.png" --model "$work/hf/vit" --input "$vit_image" --block 4 \
  --rank 2 --downsample average > "$work/vit.txt"
grep -q "maps of 17 tokens" "$work/vit.txt" || gui_fail "the vit's maps: $(cat "$work/vit.txt")"
bash "$here/gui_smoke.sh" "$viewer" "${png%.png}_vit_query.png" --model "$work/hf/vit" --input "$vit_image" \
  --block 4 --rank 2 --downsample average --view query > /dev/null

# 8192 tokens of the corpus: the overview of pooled maps, and the heads overview.
"$python" - "$work/long" "$llama/tokenizer.json" << 'EOF'
import shutil, sys, torch, transformers
config = transformers.LlamaConfig(vocab_size=320, hidden_size=32, intermediate_size=48, num_hidden_layers=1,
                                  num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=8192)
torch.manual_seed(0)
model = transformers.AutoModelForCausalLM.from_config(config)
with torch.no_grad():
    for p in model.parameters():
        p.normal_(0.0, 0.3)
model.save_pretrained(sys.argv[1], safe_serialization=True)
shutil.copy(sys.argv[2], sys.argv[1])
EOF
corpus=$here/../../assets/corpus.txt
bash "$here/gui_smoke.sh" "$viewer" "${png%.png}_long.png" --model "$work/long" --input "$corpus" \
  > "$work/long.txt"
grep -q "maps of 8192 tokens as 4096 x 4096" "$work/long.txt" || gui_fail "8192 tokens: $(cat "$work/long.txt")"
bash "$here/gui_smoke.sh" "$viewer" "${png%.png}_long_heads.png" --model "$work/long" --input "$corpus" \
  --view heads > /dev/null

# A text for a folder without tokenizer.json, an input past a sliding window and a layer past the last:
# shown as errors.
for bad in qwen2 mistral layer; do
  rm -f "$work/bad.png"
  code=0
  folder=$work/hf/$bad extra=() input=$text
  [[ $bad == layer ]] && folder=$llama extra=(--layer 2)
  [[ $bad == mistral ]] && input=$work/ids.npy  # 40 tokens, past its window of 8
  xvfb-run -a -s "-screen 0 1400x900x24" "$viewer" --model "$folder" --input "$input" --log "${extra[@]}" \
    --screenshot "$work/bad.png" > "$work/bad.txt" 2>&1 || code=$?
  # A screenshot run with an engine error exits 1 after writing the window (not a crash).
  [[ $code -eq 1 ]] || gui_fail "$bad: exit status $code, not 1: $(cat "$work/bad.txt")"
  [[ -s "$work/bad.png" ]] || gui_fail "$bad: no screenshot"
  case $bad in
    qwen2) want="qwen2 has no tokenizer.json to read tokenizer_text.txt" ;;
    mistral) want="mistral: mistral attends within a sliding window of 8 tokens" ;;
    layer) want="layer 2 is not in \[0, 2) of llama" ;;
  esac
  grep -q "engine error: $want" "$work/bad.txt" || gui_fail "$bad: expected '$want': $(cat "$work/bad.txt")"
done
echo "gui_hf: $png, the heads overview, the query view, token ids and 8192 tokens rendered; errors reported"
