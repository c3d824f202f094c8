# Shared set-up of the screenshot tests called as `TEST path/to/fma-viewer path/to/fmav
# out.png` (gui_qkv, gui_sweep, gui_scaling, gui_peers), sourced with the test's name first:
#   source "$(dirname "$0")/gui_lib.sh" gui_name "$@"
# Checks the arguments; sets viewer, fmav, png, here (the tests folder) and work (a scratch
# folder removed at exit); keeps the user's settings (recent files) out of the test; and
# defines gui_fail MESSAGE, which names the test and stops it.
set -euo pipefail

gui_name=$1
shift
if [[ $# -ne 3 ]]; then
  echo "usage: $gui_name path/to/fma-viewer path/to/fmav out.png" >&2
  exit 2
fi
viewer=$1
fmav=$2
png=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The user's settings and data folder (sweep, bench and session files) stay out.
export FMAV_SETTINGS="$work/settings.json" XDG_DATA_HOME="$work/data" OMP_WAIT_POLICY=passive

gui_fail() {
  echo "$gui_name: $*" >&2
  exit 1
}
