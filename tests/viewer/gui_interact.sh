#!/usr/bin/env bash
# GUI interaction test: drives a running fma-viewer with real X input (xdotool under Xvfb)
# and checks what it did through its --log lines and the sessions it saves:
#   mouse wheel on a map zooms about the cursor; a drag pans (and is not a click); Ctrl+S
#   saves the session (typed path, Return); a click on a map opens that query in the query
#   view; typing a new n in the sidebar starts a run that Escape cancels, leaving the shown
#   maps; Ctrl+Q quits with status 0.
# Usage: tests/gui_interact.sh path/to/fma-viewer
source "$(dirname "$0")/gui_input_lib.sh" gui_interact "$@"
viewer=$2
# Saves the session with Ctrl+S into $1, a new path (the dialog's path field has the keyboard).
save_session() {
  through_dialog ctrl+s "$1"
  wait_log "status: saved the session to $1"
}
json() { python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$1" "$2"; }

"$viewer" --size 1400x900 --synthetic --n 512 --log > "$work/log" 2>&1 &
pid=$!
wait_log "idle; view attention; maps of 512 tokens"

# The full-attention map's centre at 1400x900: wheel up three times zooms in 1.25^3.
xdotool mousemove 600 270
sleep 0.3
for _ in 1 2 3; do xdotool click 4; sleep 0.15; done
# A drag of 60 pixels to the left, over several frames as a hand would, pans the view right;
# its release is not a click.
xdotool mousedown 1
sleep 0.2
for _ in 1 2 3; do xdotool mousemove_relative -- -20 0; sleep 0.2; done
xdotool mouseup 1
sleep 0.5
save_session "$work/zoomed.json"
python3 - "$work/zoomed.json" << 'PY' || gui_fail "wheel zoom or drag pan not in the saved session"
import json, sys
s = json.load(open(sys.argv[1]))
r0, r1, c0, c1 = s["zoom"]
assert s["view"] == "attention", s["view"]            # the drag was not a click
assert abs((r1 - r0) - 512 / 1.25 ** 3) < 1, (r0, r1)   # three wheel steps
assert abs((c1 - c0) - (r1 - r0)) < 1e-6, (c0, c1)
assert c0 - r0 > 10, (r0, c0)                           # panned right in keys, not in rows
PY

# A click on the map opens the query under the cursor in the query view.
xdotool click 1
sleep 0.8
save_session "$work/query.json"
[[ $(json "$work/query.json" 's["view"]') == query ]] || gui_fail "a click on the map did not open the query view"
row=$(json "$work/query.json" 's["query_row"]')
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); r0,r1,_,_=s['zoom']; assert r0 <= $row < r1" \
  "$work/query.json" || gui_fail "the query $row is not a row of the zoomed view"

# n = 16384 typed in the sidebar (the 'tokens n' field, whose place depends on the engine
# summary's wrapped lines above it) starts a run; Escape cancels it.
xdotool mousemove 60 403 click --repeat 2 1  # below the engine summary (four lines here)
sleep 0.3
xdotool key ctrl+a
xdotool type --delay 20 16384
xdotool key Return
wait_log "busy" 1
sleep 0.5
xdotool key Escape
wait_log "status: cancelled the engine run"
wait_log "idle;" 2
tail -n 1 "$work/log" | grep -q "maps of 512 tokens" || gui_fail "after Cancel the shown maps changed"

xdotool key ctrl+q
wait "$pid" || gui_fail "the viewer exited with status $? after Ctrl+Q"
echo "gui_interact: wheel zoom, drag pan, click to query, Ctrl+S, typed n, Escape cancel, Ctrl+Q all worked"
