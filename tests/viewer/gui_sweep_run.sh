#!/usr/bin/env bash
# GUI sweep run test: in a running fma-viewer (real X input, xdotool under Xvfb) the Sweep
# tab's form sweeps the shipped model on its sample text: Start, Cancel after a few points,
# Start again to resume; the results file then holds every point of the 6 x 4 grid once, in
# grid order, and the viewer reported each step (--log). Then the Scaling tab, opened on a
# small `fmav bench --jsonl` file, exports its two plots as SVG and PNG (the latency plot with
# min..max bars and reference lines named at their ends); and a point of the
# sweep, clicked on the heat map, opens in the attention view with its r and p.
# Usage: tests/gui_sweep_run.sh path/to/fma-viewer path/to/fmav
source "$(dirname "$0")/gui_input_lib.sh" gui_sweep_run "$@"
viewer=$2
fmav=$3
# The output file is typed as a relative name: it lands in the data folder ($XDG_DATA_HOME,
# set by gui_input_lib.sh to a scratch folder), in a subfolder made on demand.
results=$XDG_DATA_HOME/fma-viewer/runs/m.jsonl
lines() { [[ -f "$results" ]] && wc -l < "$results" || echo 0; }
# A click as a hand makes it: move, let a frame see the pointer there, press and release.
click_at() {
  xdotool mousemove "$1" "$2"
  sleep 0.3
  xdotool click 1
  sleep 0.3
}
# Clicks at X Y until the log holds PATTERN (three tries: a click can be lost while the view
# changes), then waits for it as wait_log does.
click_until() {
  for _ in 1 2 3; do
    click_at "$1" "$2"
    sleep 0.7
    grep -q -- "$3" "$work/log" && break
  done
  wait_log "$3"
}

"$fmav" bench --methods fma,sdpa --n 256,512 --heads 1 --repeats 3 --jsonl "$work/b.jsonl" > /dev/null
"$viewer" --size 1400x900 --view sweep --bench "$work/b.jsonl" --log > "$work/log" 2>&1 &
pid=$!
wait_for 'grep -q "idle; view sweep" "$work/log"'
# The form at 1400x900: six block sizes (24 points, so Cancel lands mid-sweep), the output
# file field, then Start (Cancel while running) beside it.
click_at 420 127
sleep 0.4
xdotool key ctrl+a
sleep 0.3
xdotool type --delay 10 "4,8,16,32,64,128"
sleep 0.3
click_at 520 155
sleep 0.4
xdotool key ctrl+a
sleep 0.3
xdotool type --delay 10 "runs/m.jsonl"
sleep 0.3
# Estimate (right of Start): 24 points, none in the file yet.
click_at 927 155
wait_for 'grep -q "sweep estimate: 24 points, 0 in the file" "$work/log"'
click_at 862 155
wait_for 'grep -q "status: sweep started; results in $results" "$work/log"'
wait_for '[[ $(lines) -ge 3 ]]'
xdotool click 1  # Cancel
wait_for 'grep -q "status: cancelled the sweep" "$work/log"'
after_cancel=$(lines)
[[ $after_cancel -lt 25 ]] || gui_fail "the sweep finished before Cancel; make it longer"
xdotool click 1  # Start again: resumes the same file
# The rest of the sweep is about a minute of engine work on an idle 2-core machine: time
# for a busy one.
wait_for 'grep -q "status: finished the sweep" "$work/log"' 480
# The estimate is redone after the run, not left stale (issue 21 point 6).
wait_for 'grep -q "sweep estimate: 24 points, 24 in the file" "$work/log"'
python3 - "$results" << 'PY' || gui_fail "the resumed results file is not every point once in grid order"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert json.loads(lines[0])["spec"]["model"].endswith("lm-fma"), lines[0][:200]
indexes = [json.loads(line)["index"] for line in lines[1:]]
assert indexes == list(range(24)), indexes
PY
# The Scaling tab (at 1400x900), then its "Export SVG + PNG" button (again if a click was
# lost while the view changed).
click_until 624 43 "^fma-viewer: view scaling"
click_until 415 142 "status: wrote $work/b_latency.png, $work/b_memory.png"
for f in b_latency.svg b_memory.svg b_latency.png b_memory.png; do
  [[ -s "$work/$f" ]] || gui_fail "no $f written"
done
head -c 200 "$work/b_latency.svg" | grep -q "<svg" || gui_fail "b_latency.svg is not an SVG"
# A min..max bar (a line and two caps) on each of the 4 latency points; the reference
# lines named at their ends.
[[ $(grep -c 'class="spread"' "$work/b_latency.svg") -ge 12 ]] || gui_fail "no min..max bars in b_latency.svg"
for ref in 'O(N)' 'O(N log N)' 'O(N^2)'; do
  grep -q "class=\"end label\".*>$ref<" "$work/b_latency.svg" || gui_fail "no end label $ref in b_latency.svg"
done
xdotool key ctrl+q
wait "$pid" || gui_fail "exit status $? after Ctrl+Q"

# The results opened again (--sweep): a click on the heat map's bottom-left cell (r = 4,
# p = 1) and "Open in attention view" show the model with FMA at that point.
"$viewer" --size 1400x900 --view sweep --sweep "$results" --log > "$work/log" 2>&1 &
pid=$!
wait_for 'grep -q "idle; view sweep" "$work/log"'
click_at 422 428
sleep 0.3
click_at 428 149
wait_for 'grep -q "idle; view attention.*model FMA as in a sweep point: r = 4, p = 1, average" "$work/log"'
xdotool key ctrl+q
wait "$pid" || gui_fail "exit status $? after Ctrl+Q"
echo "gui_sweep_run: started, cancelled after $((after_cancel - 1)) points, resumed to all 24, once each;" \
     "the scaling plots exported as SVG and PNG; a point opened in the attention view"
