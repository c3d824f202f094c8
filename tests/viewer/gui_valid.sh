#!/usr/bin/env bash
# GUI test of the sidebar's settings (issue 21 point 1), with real X input (xdotool under Xvfb):
#   "+" beside the base cell size r and the rank p moves to the next value the engine accepts
#   (average down-sampling: p must divide r), never into an error; a typed value the engine
#   refuses is not applied (no run); an engine error (a text offset past the input) leaves
#   the last good maps and a header of exactly those maps; clicks keep working after it (no
#   popup in the way); a success clears the status bar's error; and a model whose input
#   fails (an empty file) has a header of the model's own settings (lm-fma: r = 32, p = 2,
#   causal); Escape closes the File menu and Ctrl+Q quits with it open; at n = 2r the maps are called identical within round-off. Usage: tests/viewer/gui_valid.sh path/to/fma-viewer
source "$(dirname "$0")/gui_input_lib.sh" gui_valid "$@"
viewer=$2
# A key held for a while: ImGui 1.86 reads key states once a frame, so a press and release
# within one slow frame (a busy machine) would be lost.
hold() {
  xdotool keydown "$1"
  sleep 0.3
  xdotool keyup "$1"
}
# Types TEXT into the sidebar field at X Y and presses Return (one click gives it the keyboard).
type_into() {
  xdotool mousemove "$1" "$2"
  sleep 0.3
  xdotool click 1
  sleep 0.5
  hold ctrl+a
  xdotool type --delay 60 "$3"
  sleep 0.3
  hold Return
}
idle_line() { grep "idle;" "$work/log" | tail -n 1; }
busy_count() { log_count "fma-viewer: busy"; }

# An empty input: no maps, and a header of what was asked of lm-fma, not of defaults.
: > "$work/empty.txt"
"$viewer" --size 1400x900 --input "$work/empty.txt" --screenshot "$work/empty.png" > "$work/empty.log" 2>&1 || true
grep -q "header layer 0  head 0   r = 32   p = 2   causal   learned down-sampling" "$work/empty.log" ||
  { cat "$work/empty.log" >&2; gui_fail "the header for an empty input is not lm-fma's own settings"; }

# n = 2r: FMA is exact; the difference is float64 round-off, said as such, not saturated.
"$viewer" --size 1400x900 --synthetic --n 64 --screenshot "$work/exact.png" > "$work/exact.log" 2>&1 ||
  gui_fail "the n = 64 screenshot failed"
grep -q "; identical within round-off" "$work/exact.log" || gui_fail "FMA at n = 2r not called identical within round-off"

# The model: a text offset past its input fails in the engine; the last good maps stay.
# One viewer for all (a second one started under Xvfb, with no window manager, did not
# always get the keyboard); the synthetic settings wait in the sidebar for later.
"$viewer" --size 1400x900 --downsample average --rank 4 --log > "$work/log" 2>&1 &
pid=$!
wait_log "idle; view attention; maps of 512 tokens"
sleep 1
good="header layer 0  head 0   n = 512   r = 32   p = 2   causal   learned down-sampling"
# The 'text offset' field of the model's controls.
type_into 60 440 5000
wait_log "error: offset must be in"
wait_log "idle;" 2
idle_line | grep -q "maps of 512 tokens" || gui_fail "the maps vanished after an engine error: $(idle_line)"
idle_line | grep -q "$good (newer settings failed)" || gui_fail "the header after the error: $(idle_line)"
# Clicks still work (no popup in the way): the offset back to 0, then "+" beside the layer.
type_into 60 440 0
xdotool mousemove 138 384 click 1
sleep 0.3
xdotool mousemove 138 384 click 1
wait_for "idle_line | grep -q 'header layer 2  head 0   n = 512'"
idle_line | grep -q "newer settings failed" && gui_fail "the old error is still reported: $(idle_line)"

# The synthetic input (the 'synthetic' radio button) under average down-sampling: r = 32, p = 4.
xdotool mousemove 108 313 click 1
wait_for "idle_line | grep -q 'header n = 512   r = 32   p = 4   bidirectional   average'"
errors=$(log_count "fma-viewer: error:")

# "+" beside r (at 1400x900: the sidebar's 'base cell size r' row): 33, 34, 35 are refused by
# average down-sampling with p = 4, so it goes to 36.
xdotool mousemove 138 430 click 1
wait_for "idle_line | grep -q 'header n = 512   r = 3[3-9]'"
idle_line | grep -q "header n = 512   r = 36   p = 4 " || gui_fail "r + did not step to 36: $(idle_line)"
# "+" beside p: 5 does not divide 36, 6 does.
xdotool mousemove 138 459 click 1
wait_for "idle_line | grep -q 'header n = 512   r = 36   p = [5-9]'"
idle_line | grep -q "header n = 512   r = 36   p = 6 " || gui_fail "p + did not step to 6: $(idle_line)"
[[ $(log_count "fma-viewer: error:") -eq $errors ]] || gui_fail "a stepper led to an engine error"

# r = 37 typed: the engine would refuse it (6 does not divide 37), so it is not applied.
before=$(busy_count)
type_into 60 430 37
sleep 2
[[ $(busy_count) -eq $before ]] || gui_fail "a refused typed r started a run"
[[ $(log_count "fma-viewer: error:") -eq $errors ]] || gui_fail "a refused typed r reached the engine"
# r = 42 typed (6 divides it) is applied.
type_into 60 430 42
wait_for "idle_line | grep -q 'header n = 512   r = 4[0-9]'"
idle_line | grep -q "header n = 512   r = 42   p = 6 " || gui_fail "a valid typed r was not applied: $(idle_line)"

# Escape closes the open File menu: Ctrl+S (which an open menu blocks) then saves a session.
xdotool mousemove 25 11 click 1
sleep 1
hold Escape
sleep 0.5
hold ctrl+s
sleep 1
hold ctrl+a
xdotool type --delay 60 "$work/after_menu.json"
sleep 0.3
hold Return
wait_log "status: saved the session to $work/after_menu.json"
# Ctrl+Q quits with the File menu open.
xdotool mousemove 25 11 click 1
sleep 1
hold ctrl+q
wait "$pid" || gui_fail "the viewer exited with status $? after Ctrl+Q"
echo "gui_valid: steppers stay valid, typed refusals inline, maps and header kept on an engine error, empty-input header right"
