#!/usr/bin/env bash
# GUI test of where the maps are computed (issue 23 point 2; app/viewer/viewer_device.h), with
# real X input (xdotool under Xvfb at 1400x900). Without a GPU: --device cuda stops before a
# window opens, naming why; --device auto computes on the cpu and the log (the header's words)
# says it fell back; the Engine panel's "maps on" combo shows cuda greyed out with the reason
# in its tooltip (a screenshot with it open); a click on cuda changes nothing (no run), a click
# on cpu reruns the maps on the cpu; the Heads tab of the shipped model runs under auto
# (screenshot). With a GPU: --device cuda computes the maps there.
# Usage: tests/viewer/gui_device.sh path/to/fma-viewer out_dir
source "$(dirname "$0")/gui_input_lib.sh" gui_device "$@"
viewer=$2
out=$3
touch "$work/log"
idle_line() { grep "idle;" "$work/log" | tail -n 1; }
# The "maps on" combo on the Engine panel's title line and its items (cpu, cuda) at 1400x900.
combo=(215 50)
item_cpu=(205 76)
item_cuda=(205 97)

# --device cuda: refused before any window where no GPU is, computed there where one is.
rc=0
"$viewer" --size 1400x900 --synthetic --n 256 --device cuda --log --screenshot "$work/cuda.png" > "$work/cuda.log" 2>&1 ||
  rc=$?
if [[ $rc -eq 0 ]]; then
  grep -q "; maps computed on cuda; header" "$work/cuda.log" || { cat "$work/cuda.log" >&2; gui_fail "the maps did not say cuda"; }
  echo "gui_device: a GPU is visible; the maps were computed on cuda (the no-GPU checks are skipped)"
  exit 0
fi
[[ $rc -eq 1 ]] || { cat "$work/cuda.log" >&2; gui_fail "--device cuda without a GPU exited $rc, not 1"; }
grep -q "^fma-viewer: device cuda: .*; use --device cpu or auto$" "$work/cuda.log" ||
  { cat "$work/cuda.log" >&2; gui_fail "--device cuda without a GPU did not say why"; }
[[ ! -e "$work/cuda.png" ]] || gui_fail "--device cuda without a GPU still drew a window"

# A screenshot with the combo open and the pointer on cuda: greyed out, its tooltip the reason.
"$viewer" --size 1400x900 --synthetic --n 512 --device auto --log --frames 400 --screenshot "$out/gui_device.png" \
  > "$work/log" 2>&1 &
pid=$!
wait_log "idle; view attention"
sleep 0.5
xdotool mousemove "${combo[@]}" click 1
sleep 0.8
while kill -0 "$pid" 2> /dev/null; do
  xdotool mousemove "${item_cuda[@]}"; sleep 0.1; xdotool mousemove $((item_cuda[0] + 1)) "${item_cuda[1]}"; sleep 0.1
done
wait "$pid" || gui_fail "the screenshot with the combo open failed"
grep -q "maps computed on cpu (auto fell back); header" "$work/log" || gui_fail "auto did not say it fell back to the cpu"

# Interactive: cuda cannot be chosen; cpu can, and reruns the maps there.
"$viewer" --size 1400x900 --synthetic --n 512 --device auto --log > "$work/log" 2>&1 &
pid=$!
wait_log "idle; view attention; maps of 512 tokens"
idle_line | grep -q "maps computed on cpu (auto fell back)" || gui_fail "auto's maps: $(idle_line)"
sleep 0.5
busy=$(log_count "fma-viewer: busy")
xdotool mousemove "${combo[@]}" click 1
sleep 0.8
xdotool mousemove "${item_cuda[@]}" click 1
sleep 2
[[ $(log_count "fma-viewer: busy") -eq $busy ]] || gui_fail "a click on the greyed-out cuda started a run"
# The popup stays open (a disabled item takes no click): cpu in it.
xdotool mousemove "${item_cpu[@]}" click 1
wait_for "idle_line | grep -q 'maps computed on cpu; header'"
xdotool key ctrl+q
wait "$pid" || gui_fail "the viewer exited with status $? after Ctrl+Q"

# The Heads tab of the shipped model under auto: its line says where (screenshot).
if [[ -d "$(dirname "$0")/../../assets/models/lm-fma" ]]; then
  "$viewer" --size 1400x900 --view heads --device auto --log --screenshot "$out/gui_device_heads.png" \
    > "$work/log" 2>&1 || gui_fail "the Heads tab under --device auto failed"
fi
echo "gui_device: cuda refused without a GPU (naming why), greyed out in the combo; auto fell back to the cpu; cpu chosen by a click"
