#!/usr/bin/env bash
# GUI upload test (issue 21 point 7): a run's maps reach the screen a band of rows a frame,
# into texture storage made by a thread with a shared GL context. With FMAV_TEST_CHECK_UPLOADS
# the viewer reads every level of every uploaded texture back and compares it with the run's
# data; this test needs that to hold for the first result (new storage), for a result at
# a new size typed into 'tokens n' (new storage again, the old textures as staging), and for
# 3000² maps, stored as 2 x 2 tiles of at most 2048² (map_tiles.h; the last ones 952 wide).
# Usage: tests/viewer/gui_upload.sh path/to/fma-viewer
source "$(dirname "$0")/gui_input_lib.sh" gui_upload "$@"
viewer=$2

FMAV_TEST_CHECK_UPLOADS=1 "$viewer" --size 1400x900 --synthetic --n 1024 --log > "$work/log" 2>&1 &
pid=$!
check_uploads() {
  wait_log "upload check: " "$1"
  if grep -q "differs from its data" "$work/log"; then
    gui_fail "an uploaded texture differs from its data"
  fi
}
check_uploads 1
grep -q "of 1024x1024 maps match" "$work/log" || gui_fail "the first check was not of 1024 x 1024 maps"
# The 'tokens n' field (synthetic input, 1400x900).
xdotool mousemove 58 402 click 1
sleep 1
xdotool key ctrl+a
xdotool type --delay 20 "2048"
xdotool key Return
check_uploads 2
grep -q "of 2048x2048 maps match" "$work/log" || gui_fail "the second check was not of 2048 x 2048 maps"
xdotool mousemove 58 402 click 1
sleep 1
xdotool key ctrl+a
xdotool type --delay 20 "3000"
xdotool key Return
check_uploads 3
grep -q "of 3000x3000 maps match" "$work/log" || gui_fail "the third check was not of 3000 x 3000 (tiled) maps"
echo "gui_upload: ok ($(grep 'upload check' "$work/log" | tr '\n' ';'))"
