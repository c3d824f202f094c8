#!/usr/bin/env bash
# The long-context experiment (issue 23 point 3, docs/BENCHMARKS.md "Long context"): byte-level
# causal LMs with full, FMA, FMA-linear, local, H-Transformer-1D and Linear attention trained
# on `fmav gen-task` kv-recall and copy data, equal width, depth and steps per context; each
# scored on the test split: bpc, answer accuracy (the bytes that need the far field), training
# tokens/s and peak memory. Writes OUT/results.csv, OUT/results.json and OUT/long_context.svg
# (`fmav figure --kind long-context`); each run's row lands in OUT/runs/ as it finishes, and a
# rerun skips the rows already there (an interrupted run resumes).
#
#   bash scripts/long_context.sh --device cuda [--minutes 6]   # contexts 1024, 4096, 16384; bf16
#   bash scripts/long_context.sh --cpu-scale [--minutes 50]    # context 1024 on the CPU, ~1 hour
#   bash scripts/long_context.sh --smoke                       # seconds: 2 steps per method (ctest)
# Options: --out DIR (default long_context/<mode>), --fmav PATH (default build/bin/fmav),
#   --contexts 1024,4096  --methods fma,local  --tasks kv-recall  --steps N (no sizing run),
#   --downsample average|learned: FMA's summaries (average, the default, keeps every method's
#   parameters equal; learned adds per-level weights that grow with the context: params_m).
# Sizing (not --smoke, not --steps): per context every method trains a few steps first; the
# slowest one's tokens/s sets the steps all of them get, so that the training of all runs
# fits --minutes. Evaluation, the sizing runs and start-up are on top (seconds per run).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

mode="" out="" fmav="$root/build/bin/fmav" contexts="" methods="full,fma,fma-linear,local,htransformer,linear"
tasks="kv-recall,copy" minutes="" fixed_steps="" downsample=average
usage() { sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device) [[ "${2:-}" == cuda ]] || { echo "long_context: --device takes cuda (the CPU is --cpu-scale)" >&2; exit 2; }
              mode=cuda; shift 2 ;;
    --cpu-scale) mode=cpu; shift ;;
    --smoke) mode=smoke; shift ;;
    --out) out=$2; shift 2 ;;
    --fmav) fmav=$2; shift 2 ;;
    --contexts) contexts=$2; shift 2 ;;
    --methods) methods=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    --steps) fixed_steps=$2; shift 2 ;;
    --downsample) downsample=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "long_context: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ -n "$mode" ]] || { echo "long_context: give one of --device cuda, --cpu-scale or --smoke" >&2; usage; }
[[ -x "$fmav" ]] || { echo "long_context: no fmav at $fmav (build it, or give --fmav PATH)" >&2; exit 2; }

# The model and run sizes of each mode: equal for every method (only the attention differs).
case "$mode" in
  cuda)  device=cuda; precision=bf16; : "${contexts:=1024,4096,16384}" "${minutes:=6}"
         model="--d-model 256 --layers 4 --heads 4 --d-mlp 1024 --block 64 --rank 4"
         tokens_per_step=16384 records=400 probe_steps=5 min_steps=20 ;;
  cpu)   device=cpu; precision=fp32; : "${contexts:=1024}" "${minutes:=50}"
         model="--d-model 128 --layers 2 --heads 4 --d-mlp 512 --block 32 --rank 2"
         tokens_per_step=8192 records=400 probe_steps=3 min_steps=20 ;;
  smoke) device=cpu; precision=fp32; : "${contexts:=128}" "${minutes:=1}"
         model="--d-model 32 --layers 1 --heads 2 --d-mlp 64 --block 16 --rank 2"
         tokens_per_step=256 records=60 probe_steps=0 min_steps=2 fixed_steps=${fixed_steps:-2} ;;
esac
out=${out:-long_context/$mode}
mkdir -p "$out/data" "$out/runs" "$out/models" "$out/logs"
IFS=, read -r -a task_list <<< "$tasks"
IFS=, read -r -a context_list <<< "$contexts"
IFS=, read -r -a method_list <<< "$methods"
runs=$(( ${#task_list[@]} * ${#context_list[@]} * ${#method_list[@]} ))
declare -A steps_of  # by context: the tasks' models are the same size, so one sizing serves both
echo "long_context: $mode on $device ($precision), tasks ${tasks}, contexts ${contexts}, methods ${methods}" \
     "(FMA summaries: $downsample); $out"

# A number from a log: the first match of a sed expression, or "null".
grab() { local v; v=$(sed -n "$1" "$2" | head -1); echo "${v:-null}"; }

# Trains one model; its log is $3. Returns train's exit status.
train() {  # data context method steps out log
  local batch=$(( tokens_per_step / $2 > 0 ? tokens_per_step / $2 : 1 )) summaries=""
  [[ $3 == fma* ]] && summaries="--downsample $downsample"
  "$fmav" train --data "$1" --context "$2" --align "$2" --attention "$3" $model $summaries --batch "$batch" \
    --steps "$4" --warmup $(( $4 / 10 + 1 )) --eval-every 0 --save-every 0 --log-every 1000000 \
    --device "$device" --precision "$precision" --out "$5" > "$6" 2>&1
}

# Steps for one context: every method's tokens/s on a short run; the slowest one's over a
# run's share of --minutes (the minutes divided equally among all runs).
size_steps() {  # data context
  [[ -n "$fixed_steps" ]] && { echo "$fixed_steps"; return; }
  local slowest="" method tps
  for method in "${method_list[@]}"; do
    rm -rf "$out/models/probe"
    if train "$1" "$2" "$method" "$probe_steps" "$out/models/probe" "$out/logs/probe.log"; then
      tps=$(grab 's/^throughput \([0-9.]*\) tokens.*/\1/p' "$out/logs/probe.log")
      [[ "$tps" != null ]] && { [[ -z "$slowest" ]] || awk "BEGIN{exit !($tps < $slowest)}"; } && slowest=$tps
    fi  # a method that cannot run (memory) does not size the others
  done
  rm -rf "$out/models/probe"
  [[ -n "$slowest" ]] || slowest=1
  awk -v s="$slowest" -v m="$minutes" -v r="$runs" -v t="$tokens_per_step" -v lo="$min_steps" \
    'BEGIN { n = int(s * m * 60 / r / t); print (n < lo ? lo : n) }'
}

for task in "${task_list[@]}"; do
  for ctx in "${context_list[@]}"; do
    data="$out/data/$task-$ctx.txt"
    [[ -f "$data" ]] || "$fmav" gen-task "$task" --records "$records" --length "$ctx" --seed 1 --out "$data" > /dev/null
    answers="${data%.txt}.answers.npy"
    for method in "${method_list[@]}"; do
      row="$out/runs/$task-$ctx-$method.json"
      [[ -f "$row" ]] && { echo "  $task $ctx $method: done before"; continue; }
      if [[ -z "${steps_of[$ctx]:-}" ]]; then  # kept in OUT/runs: a resumed run gives the rest the same steps
        [[ -f "$out/runs/steps-$ctx" ]] || size_steps "$data" "$ctx" > "$out/runs/steps-$ctx"
        steps_of[$ctx]=$(cat "$out/runs/steps-$ctx")
        echo "  context $ctx: ${steps_of[$ctx]} steps per method"
      fi
      steps=${steps_of[$ctx]}
      model_dir="$out/models/$task-$ctx-$method" log="$out/logs/$task-$ctx-$method"
      rm -rf "$model_dir"
      status=ok error=""
      if ! train "$data" "$ctx" "$method" "$steps" "$model_dir" "$log.train.log"; then
        status=failed error=$(tail -1 "$log.train.log")
      elif ! "$fmav" eval --model "$model_dir" --data "$data" --answers "$answers" --split test --device "$device" \
             > "$log.eval.log" 2>&1; then
        status=failed error=$(tail -1 "$log.eval.log")
      fi
      params=$(grab 's/.* attention, \([0-9.]*\) M parameters/\1/p' "$log.train.log")
      tps=$(grab 's/^throughput \([0-9.]*\) tokens.*/\1/p' "$log.train.log")
      peak=$(grab 's/.*peak memory \([0-9.]*\) MiB.*/\1/p' "$log.train.log")
      bpc=null answer_bpc=null answer_acc=null
      if [[ $status == ok ]]; then
        bpc=$(grab 's/^test: bpc \([0-9.]*\),.*/\1/p' "$log.eval.log")
        answer_bpc=$(grab 's/^test, answers only: bpc \([0-9.]*\),.*/\1/p' "$log.eval.log")
        answer_acc=$(grab 's/^test, answers only: .*accuracy \([0-9.]*\)%.*/\1/p' "$log.eval.log")
        [[ $answer_acc == null ]] || answer_acc=$(awk -v a="$answer_acc" 'BEGIN { printf "%.6g", a / 100 }')
      fi
      error=$(printf '%s' "$error" | tr -d '"\\' | cut -c1-300)
      printf '{"task": "%s", "context": %s, "method": "%s", "status": "%s", "params_m": %s, "steps": %s, "device": "%s", "precision": "%s", "test_bpc": %s, "answer_bpc": %s, "answer_accuracy": %s, "tokens_per_s": %s, "peak_mib": %s, "error": "%s"}\n' \
        "$task" "$ctx" "$method" "$status" "$params" "$steps" "$device" "$precision" "$bpc" "$answer_bpc" \
        "$answer_acc" "$tps" "$peak" "$error" > "$row"
      echo "  $task $ctx $method: $status, test bpc $bpc, answer accuracy $answer_acc, $tps tokens/s, peak $peak MiB"
      rm -rf "$model_dir"  # the table is what is kept; a model is retrained in seconds to minutes
    done
  done
done

# The table: every row written so far, in run order.
rows=()
for task in "${task_list[@]}"; do
  for ctx in "${context_list[@]}"; do
    for method in "${method_list[@]}"; do
      [[ -f "$out/runs/$task-$ctx-$method.json" ]] && rows+=("$out/runs/$task-$ctx-$method.json")
    done
  done
done
{
  printf '{"format": "fmav-long-context", "mode": "%s", "fma_downsample": "%s", "rows": [\n' "$mode" "$downsample"
  for i in "${!rows[@]}"; do
    printf '  %s%s\n' "$(cat "${rows[$i]}")" "$([[ $i -lt $(( ${#rows[@]} - 1 )) ]] && echo ,)"
  done
  printf ']}\n'
} > "$out/results.json"
{
  echo "task,context,method,status,params_m,steps,device,precision,test_bpc,answer_bpc,answer_accuracy,tokens_per_s,peak_mib"
  for r in "${rows[@]}"; do
    sed -E 's/.*"task": "([^"]*)", "context": ([^,]*), "method": "([^"]*)", "status": "([^"]*)", "params_m": ([^,]*), "steps": ([^,]*), "device": "([^"]*)", "precision": "([^"]*)", "test_bpc": ([^,]*), "answer_bpc": ([^,]*), "answer_accuracy": ([^,]*), "tokens_per_s": ([^,]*), "peak_mib": ([^,]*),.*/\1,\2,\3,\4,\5,\6,\7,\8,\9/' "$r" |
      tr -d '\n'
    sed -E 's/.*"answer_bpc": ([^,]*), "answer_accuracy": ([^,]*), "tokens_per_s": ([^,]*), "peak_mib": ([^,]*),.*/,\1,\2,\3,\4/' "$r"
  done
} > "$out/results.csv"
"$fmav" figure --kind long-context --results "$out/results.json" --out "$out/long_context.svg"
column -s, -t "$out/results.csv" 2>/dev/null || cat "$out/results.csv"
