#!/usr/bin/env bash
# GUI segmentation test (issue 24 point 3): the shipped segmenter (seg-full) on an image of
# `fmav gen-task segments`, in the query view of layer 2 (stage 1, block 0: an 8 x 8 grid).
#   (1) It opens with the predicted mask blended over the image: the screenshot's image pixels
#       are the image blended half and half with the class colours of `fmav segment --out`'s
#       mask, and where prediction and truth differ, the prediction's colours are shown.
#   (2) A click on "ground truth" shows the annotation's colours instead, and a click on the
#       image picks the token of the stage grid's cell under it (row 2, col 5: query 21).
#   (3) File > Open of seg-full from the shipped LM, then of the image: the segmenter's
#       masks come with it (the log's summary says whether a ground truth was found).
#   (4) --model seg-full without --input opens on the shipped sample image (not sample.txt).
# Under Xvfb at 1400x900 (gui_input_lib.sh); the screenshots stay in the output folder.
# Usage: tests/gui_segments.sh path/to/fma-viewer path/to/fmav path/to/seg-full out_dir
source "$(dirname "$0")/gui_input_lib.sh" gui_segments "$@"
viewer=$2
fmav=$3
model=$(realpath "$4")
out=$5
here=$(cd "$(dirname "$0")" && pwd)
touch "$work/log"

"$fmav" gen-task segments --count 2 --size 64 --seed 4 --out "$work/set" > /dev/null 2>&1 ||
  gui_fail "fmav gen-task segments failed"
image=$work/set/images/validation/0000.png
"$fmav" segment --model "$model" --input "$image" --out "$work/pred.png" > /dev/null ||
  gui_fail "fmav segment failed"
run=("$viewer" --size 1400x900 --model "$model" --input "$image" --layer 2 --view query --log)

# (1) The predicted mask, as it opens.
"${run[@]}" --frames 10 --screenshot "$out/gui_segments_predicted.png" > "$work/log" 2>&1 ||
  gui_fail "the viewer failed to write $out/gui_segments_predicted.png"

# (2) Ground truth and a query picked on the image, during a longer screenshot run (the
# window's layout at 1400x900: the overlay's radio buttons under the colour key, the image's
# top-left corner at (746, 511) and its side 302 pixels).
"${run[@]}" --frames 400 --screenshot "$out/gui_segments_truth.png" > "$work/log" 2>&1 &
pid=$!
wait_log "idle; view query"
xdotool mousemove 898 471; sleep 0.3; xdotool click 1; sleep 0.5   # "ground truth"
xdotool mousemove 954 605; sleep 0.3; xdotool click 1; sleep 0.5   # token row 2, col 5
xdotool mousemove 700 880   # off the image: no hover box or tooltip in the screenshot
wait "$pid" || gui_fail "the viewer failed to write $out/gui_segments_truth.png"
pid=""
grep -q "wrote 1400x900 window" "$work/log" || gui_fail "no screenshot written"
grep -q "; query 21;" "$work/log" || gui_fail "the click on the image's cell (row 2, col 5) did not pick query 21"
grep -q "header layer 2 " "$work/log" || gui_fail "the header does not show layer 2"

# (3) File > Open (Ctrl+O, a typed path, Return) from the shipped LM: the segmenter (on the
# shipped sample image, which has no ground truth), then the generated image (which has).
"$viewer" --size 1400x900 --view query --log > "$work/log" 2>&1 &
pid=$!
wait_log "idle; view query"
through_dialog ctrl+o "$model"
wait_log "status: opened $model"
wait_log "idle; view query; maps of 256 tokens.*; segmenter, no ground truth"
through_dialog ctrl+o "$image"
wait_log "status: opened $image"
wait_log "idle; view query; maps of 256 tokens.*; segmenter, ground truth 0000.png"
grep -q "error" "$work/log" && gui_fail "an error was reported"
kill "$pid"
pid=""

python3 - "$here" "$out" "$image" "$work/pred.png" "$work/set/annotations/validation/0000.png" << 'PY' ||
import sys
sys.path.insert(0, sys.argv[1])
from png_pixels import read_png
out, image, pred, truth = sys.argv[2], read_png(sys.argv[3]), read_png(sys.argv[4]), read_png(sys.argv[5])
# segment_view.cpp's palette for the generated set's six classes.
palette = [(70, 70, 80), (230, 60, 60), (60, 170, 255), (250, 210, 40), (90, 210, 90), (200, 90, 230)]
x0, y0, side, cell = 746, 511, 302, 302 / 64

def blend(i, j, mask):
    c = palette[mask[i][j][0]]
    return tuple(0.5 * a + 0.5 * b for a, b in zip(image[i][j], c))

def near(p, q):
    return max(abs(a - b) for a, b in zip(p, q)) <= 24

def score(shot):
    # Image pixels away from the token grid's lines (every 8 image pixels) and the query's box.
    match_pred = match_truth = differ = pred_wins = truth_wins = total = 0
    for i in range(64):
        for j in range(64):
            if i % 8 in (0, 7) or j % 8 in (0, 7):
                continue
            p = shot[round(y0 + (i + 0.5) * cell)][round(x0 + (j + 0.5) * cell)]
            bp, bt = blend(i, j, pred), blend(i, j, truth)
            total += 1
            match_pred += near(p, bp)
            match_truth += near(p, bt)
            if pred[i][j] != truth[i][j]:
                differ += 1
                dp = max(abs(a - b) for a, b in zip(p, bp))
                dt = max(abs(a - b) for a, b in zip(p, bt))
                pred_wins += dp < dt
                truth_wins += dt < dp
    return match_pred / total, match_truth / total, differ, pred_wins, truth_wins

shown = read_png(out + "/gui_segments_predicted.png")
mp, mt, differ, pw, tw = score(shown)
print(f"predicted: {mp:.0%} of pixels match the predicted blend; where the masks differ ({differ}): "
      f"{pw} closer to the prediction, {tw} to the truth")
assert mp >= 0.8, f"the predicted mask is not blended over the image ({mp:.0%} of pixels match)"
assert differ >= 20 and pw >= 0.8 * differ, "where prediction and truth differ, the prediction is not what is shown"
shown = read_png(out + "/gui_segments_truth.png")
mp, mt, differ, pw, tw = score(shown)
print(f"ground truth: {mt:.0%} of pixels match the truth's blend; where the masks differ: {tw} closer to the "
      f"truth, {pw} to the prediction")
assert mt >= 0.8, f"the ground truth is not blended over the image ({mt:.0%} of pixels match)"
assert tw >= 0.8 * differ, "where prediction and truth differ, the truth is not what is shown"
PY
  gui_fail "mask overlay missing or wrong (screenshots in $out)"
# (4) No --input: the sample an image model reads.
"$viewer" --size 1400x900 --model "$model" --log --screenshot "$out/gui_segments_default.png" > "$work/log" 2>&1 ||
  gui_fail "--model seg-full without --input failed"
grep -q "segmenter, no ground truth" "$work/log" || gui_fail "--model seg-full without --input did not open an image"
echo "gui_segments: ok"
