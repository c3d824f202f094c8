# Shared set-up of the GUI tests that drive a running fma-viewer with real X input
# (gui_interact, gui_sweep_run), sourced with the test's name first:
#   source "$(dirname "$0")/gui_input_lib.sh" gui_name "$@"
# Outside Xvfb it checks for xvfb-run, xdotool and python3 and runs the test again under
# Xvfb with --inner before its arguments (so the test's own arguments start at $2). Inside,
# it sets work (a scratch folder; the test writes the viewer's log to $work/log), removes it
# and stops the viewer ($pid, once the test starts it) at exit, keeps the user's settings out,
# and defines:
#   gui_fail MESSAGE          names the test, prints the viewer's log, stops
#   wait_for CONDITION [S]    a shell condition (evaluated) up to S s (default 120); stops if
#                             the viewer exits
#   wait_log PATTERN [COUNT]  COUNT (default 1) lines of the log matching PATTERN, as wait_for
#   through_dialog KEY PATH   KEY (ctrl+o: open, ctrl+s: save the session), PATH typed over
#                             the dialog's path field, Return
set -euo pipefail

gui_name=$1
shift
if [[ "${1:-}" != "--inner" ]]; then
  for tool in xvfb-run xdotool python3; do
    command -v "$tool" > /dev/null || { echo "$gui_name: $tool not found" >&2; exit 1; }
  done
  exec xvfb-run -a -s "-screen 0 1400x900x24" bash "$0" --inner "$@"
fi

work=$(mktemp -d)
pid=""
trap 'kill "$pid" 2> /dev/null || true; rm -rf "$work"' EXIT
# The user's settings and data folder (sweep, bench and session files) stay out.
export FMAV_SETTINGS="$work/settings.json" XDG_DATA_HOME="$work/data" OMP_WAIT_POLICY=passive

gui_fail() {
  echo "$gui_name: $*" >&2
  echo "--- viewer log:" >&2
  cat "$work/log" >&2 || true
  exit 1
}

wait_for() {
  local seconds=${2:-120}
  for _ in $(seq $((seconds * 5))); do
    eval "$1" && return 0
    kill -0 "$pid" 2> /dev/null || gui_fail "the viewer exited while waiting for: $1"
    sleep 0.2
  done
  gui_fail "timed out after $seconds s waiting for: $1"
}

log_count() { grep -c -- "$1" "$work/log" || true; }
wait_log() { wait_for "[[ \$(log_count $(printf '%q' "$1")) -ge ${2:-1} ]]"; }

through_dialog() {
  xdotool key "$1"
  sleep 1
  xdotool key ctrl+a
  sleep 0.3
  xdotool type --delay 10 "$2"
  sleep 0.3
  xdotool key Return
}
