#!/usr/bin/env bash
# scripts/long_context.sh --smoke as its ctest: the table (CSV and JSON) and the figure are
# written, with a row of every method for every task, each run ok.
#   long_context_smoke.sh FMAV OUT_DIR
set -euo pipefail
fmav=$1 out=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rm -rf "$out"
bash "$root/scripts/long_context.sh" --smoke --fmav "$fmav" --out "$out" > "$out.log" 2>&1 || { cat "$out.log"; exit 1; }
fail() { echo "long_context_smoke: $*"; cat "$out.log"; exit 1; }
for f in results.csv results.json long_context.svg; do [[ -s "$out/$f" ]] || fail "$f was not written"; done
[[ $(head -1 "$out/results.csv") == task,context,method,status,params_m,steps,device,precision,test_bpc,answer_bpc,answer_accuracy,tokens_per_s,peak_mib ]] ||
  fail "results.csv's header is $(head -1 "$out/results.csv")"
for task in kv-recall copy; do
  for method in full fma fma-linear local htransformer linear; do
    line=$(grep "^$task,128,$method,ok," "$out/results.csv") || fail "no ok row for $task $method"
    # Every number measured: bpc, answer bpc and accuracy, tokens/s, peak memory.
    [[ $(cut -d, -f9-13 <<< "$line") =~ ^[0-9.]+,[0-9.]+,[0-9.e-]+,[0-9.]+,[0-9.]+$ ]] || fail "unmeasured value in: $line"
    grep -q "\"task\": \"$task\", \"context\": 128, \"method\": \"$method\", \"status\": \"ok\"" "$out/results.json" ||
      fail "no JSON row for $task $method"
    grep -q "<title>$method, context 128: " "$out/long_context.svg" || fail "the figure has no bar of $method"
  done
done
[[ $(grep -c '"task"' "$out/results.json") -eq 12 ]] || fail "results.json does not have 12 rows"
# Written again from the rows already there (an interrupted run resumes): nothing retrained.
bash "$root/scripts/long_context.sh" --smoke --fmav "$fmav" --out "$out" > "$out.again.log" 2>&1 || fail "the rerun failed"
[[ $(grep -c "done before" "$out.again.log") -eq 12 ]] || { cat "$out.again.log"; fail "the rerun trained again"; }
echo "long_context_smoke: ok"
