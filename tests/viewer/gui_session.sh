#!/usr/bin/env bash
# GUI session test: fma-viewer --session opens a saved view (the shipped LM, layer 1, head 2,
# the query inspector on query 300; then the attention view zoomed, with a fast-path choice)
# and renders it (gui_smoke.sh checks the screenshots); a
# corrupt session file is refused before any window opens, naming the file and the key.
# Usage: tests/gui_session.sh path/to/fma-viewer out.png path/to/assets
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 path/to/fma-viewer out.png path/to/assets" >&2
  exit 2
fi
viewer=$1
png=$2
assets=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The user's recent files stay out of (and untouched by) the test.
export FMAV_SETTINGS="$work/settings.json" XDG_DATA_HOME="$work/data"

cat > "$work/query.json" << EOF
{
  "format": "fmav-session",
  "format_version": 1,
  "source": {"kind": "model", "model": "$assets/models/lm-fma", "input": "$assets/sample.txt"},
  "layer": 1,
  "head": 2,
  "offset": 0,
  "view": "query",
  "query_row": 300,
  "scale": "log10"
}
EOF
bash "$here/gui_smoke.sh" "$viewer" "$png" --session "$work/query.json"

# The attention view zoomed (rows 100-164, keys 40-104) with the fast path set: reopened
# exactly, as the viewer's summary line says.
sed -e 's/"view": "query"/"view": "attention"/' \
    -e 's/"scale": "log10"/"scale": "log10", "zoom": [100, 164, 40, 104], "implementation": "blocked", "precision": "float64"/' \
    "$work/query.json" > "$work/zoom.json"
out=$(bash "$here/gui_smoke.sh" "$viewer" "${png%.png}_zoom.png" --session "$work/zoom.json")
echo "$out"
if ! grep -q "view of rows 100-164, keys 40-104; query 300; method fma; fast path blocked float64" <<< "$out"; then
  echo "gui_session: the session's zoom or fast path was not restored" >&2
  exit 1
fi

# A typo in a key is refused with the file and the key named, and a non-zero exit.
sed 's/"head"/"haed"/' "$work/query.json" > "$work/typo.json"
if "$viewer" --session "$work/typo.json" > "$work/out.txt" 2>&1; then
  echo "gui_session: a session with an unknown key was accepted" >&2
  exit 1
fi
if ! grep -q 'typo.json: unknown key "haed"' "$work/out.txt"; then
  echo "gui_session: unexpected message for an unknown key:" >&2
  cat "$work/out.txt" >&2
  exit 1
fi
echo "gui_session: $png rendered; the corrupt session was refused"
