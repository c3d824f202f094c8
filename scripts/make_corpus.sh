#!/usr/bin/env bash
# Writes assets/corpus.txt, the text the shipped language models were trained on: the
# project's own documentation and sources, concatenated in a fixed order (made by the
# project, so it ships with it). Re-running on a later tree gives a different corpus; the
# shipped one is committed so the README's training commands reproduce the shipped models.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
files=(README.md docs/*.md core/include/fmav/*.h core/*/*.h core/*/*.cpp app/*/*.h app/*/*.cpp tests/*/*.cpp)
out=assets/corpus.txt
for f in "${files[@]}"; do
  printf '==> %s <==\n' "$f"
  cat "$f"
  printf '\n'
done > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out ($(wc -c < "$out") bytes from ${#files[@]} files)"
