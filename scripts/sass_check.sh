#!/usr/bin/env bash
# The SASS check of the FlashAttention-2-class kernels (docs/CUDA.md), run where nvcc is, no
# GPU needed: compiles kernels/fma_forward.cu and kernels/fma_backward.cu for sm_90 as the
# build does, then, for each instantiation of fma_forward_fa2_kernel, fma_backward_fa2_dq_kernel
# and fma_backward_fa2_dkv_kernel,
#   - ptxas -v: registers, and no spill stores or loads;
#   - cuobjdump -sass: HMMA (tensor-core) instructions, all inside a loop (between a backward
#     branch and its target), LDSM (ldmatrix) and LDGSTS (cp.async) present, and no local
#     memory (LDL / STL).
# Prints one line per kernel (registers, spills, static shared memory is 0: it is all dynamic)
# and exits non-zero if any check fails.
#   bash scripts/sass_check.sh [OUT_DIR]      (default /tmp/fmav_sass; the cubin, SASS, ptxas log)
# cuobjdump and nvdisasm come with a full CUDA toolkit; where none is on PATH, this script
# installs NVIDIA's pinned PyPI packages of them (scripts/setup.sh, fmav_install_sass_tools).
# The ctest `sass_check` runs it wherever the kernels are compiled.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-/tmp/fmav_sass}
mkdir -p "$out"
command -v nvcc > /dev/null || { echo "sass_check: no nvcc on PATH"; exit 1; }
if ! command -v cuobjdump > /dev/null; then
  source "$root/scripts/setup.sh"
  fmav_install_sass_tools
fi
command -v cuobjdump > /dev/null || { echo "sass_check: no cuobjdump on PATH, and it could not be installed"; exit 1; }
arch=${FMAV_CUDA_ARCHITECTURES:-90}

status=0
# compile SOURCE: kernels/SOURCE.cu to $out/SOURCE.cubin, its ptxas log and its SASS.
compile() {
  local source=$1
  nvcc -std=c++17 --expt-relaxed-constexpr -O3 -arch="sm_$arch" -cubin -Xptxas -v -I "$root/kernels" \
    "$root/kernels/$source.cu" -o "$out/$source.cubin" > "$out/ptxas_$source.txt" 2>&1
  cuobjdump -sass "$out/$source.cubin" > "$out/$source.sass"
}

# check_kernels SOURCE NAME_PREFIX: checks each kernel of the compiled SOURCE whose mangled
# name starts with NAME_PREFIX (none is a failure).
check_kernels() {
  local source=$1 prefix=$2
  local kernels
  kernels=$(grep -o "${prefix}[A-Za-z0-9_]*" "$out/ptxas_$source.txt" | sort -u)
  [[ -n $kernels ]] || { echo "FAIL no kernel named $prefix* in $source.cu"; status=1; }
  for kernel in $kernels; do
    check_kernel "$source" "$kernel"
  done
}

check_kernel() {
  local source=$1 kernel=$2
  # ptxas: the "Function properties" block of this kernel, then its "Used N registers".
  local resources registers spills summary hmma in_loop ldsm ldgsts local_ops verdict
  resources=$(awk -v k="$kernel" '$0 ~ "Function properties for " k "$" { on = 1; next }
                                  on && /spill/ { spill = $0 } on && /Used/ { print $5, spill; exit }' "$out/ptxas_$source.txt")
  registers=${resources%% *}
  spills=$(grep -oE '[0-9]+ bytes spill stores, [0-9]+ bytes spill loads' <<< "$resources" | grep -oE '[0-9]+' | awk '{ s += $1 } END { print s + 0 }')
  # SASS: instructions of this function, with their addresses.
  summary=$(awk -v k="$kernel" '
    function hex(s,   v, i) { v = 0; for (i = 1; i <= length(s); ++i) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
    /Function : / { on = ($3 == k); next }
    !on { next }
    match($0, /\/\*[0-9a-f]+\*\//) {
      addr = hex(substr($0, RSTART + 2, RLENGTH - 4))
      if ($0 ~ /HMMA/) hmma[++n] = addr
      if ($0 ~ /LDSM/) ldsm++
      if ($0 ~ /LDGSTS/) ldgsts++
      if ($0 ~ /[^A-Z](LDL|STL)[ .]/) local_ops++
      if (match($0, /BRA[^;]*0x[0-9a-f]+/)) {
        t = substr($0, RSTART, RLENGTH); sub(/.*0x/, "", t); target = hex(t)
        if (target < addr) { lo[++loops] = target; hi[loops] = addr }
      }
    }
    END {
      inside = 0
      for (i = 1; i <= n; ++i) for (j = 1; j <= loops; ++j) if (hmma[i] >= lo[j] && hmma[i] <= hi[j]) { inside++; break }
      printf "%d %d %d %d %d\n", n, inside, ldsm + 0, ldgsts + 0, local_ops + 0
    }' "$out/$source.sass")
  read -r hmma in_loop ldsm ldgsts local_ops <<< "$summary"
  verdict=ok
  if [[ $hmma -eq 0 || $in_loop -ne $hmma || $ldsm -eq 0 || $ldgsts -eq 0 || $local_ops -ne 0 || ${spills:-0} -ne 0 ]]; then
    verdict=FAIL
    status=1
  fi
  printf '%-4s %s: %s registers, spill bytes %s, HMMA %s (%s in a loop), LDSM %s, LDGSTS %s, local memory ops %s\n' \
    "$verdict" "$(c++filt <<< "$kernel")" "$registers" "${spills:-0}" "$hmma" "$in_loop" "$ldsm" "$ldgsts" "$local_ops"
}

compile fma_forward
compile fma_backward
check_kernels fma_forward _ZN4fmav22fma_forward_fa2_kernel
check_kernels fma_backward _ZN4fmav26fma_backward_fa2_dq_kernel
check_kernels fma_backward _ZN4fmav27fma_backward_fa2_dkv_kernel
exit $status
