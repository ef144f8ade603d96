#!/usr/bin/env bash
# One short script for a machine with a CUDA build of torch and no network (at most 4 minutes).
# Uses the project's source on PYTHONPATH and only torch, numpy, click, rich, matplotlib and
# nvidia-ml-py; a section whose module is missing says so and is skipped. Each section has a time
# budget, cut to what is left of the whole script's (GPU_CHECK_TOTAL_S, default 225 s), and appends
# its figures to one results file line by line as it measures them:
#
#     bash benchmarks/gpu_check.sh [RESULTS_FILE]      (default: $OUT/gpu_results.txt or ./gpu_results.txt)
#
# Other parts of the project add sections to benchmarks/gpu_sections.py and a line here.
set -u
RES="${1:-${OUT:-.}/gpu_results.txt}"
mkdir -p "$(dirname "$RES")" && RES="$(cd "$(dirname "$RES")" && pwd)/$(basename "$RES")"  # before the cd below
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg FLWR_TELEMETRY_ENABLED=0
PY="${PYTHON:-$(command -v python3 || command -v python)}"
TOTAL="${GPU_CHECK_TOTAL_S:-225}"
: > "$RES"
echo "[gpu_check] $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname), $("$PY" --version 2>&1), total budget ${TOTAL} s" | tee -a "$RES"
run() {  # NAME BUDGET_S
  local left=$(( TOTAL - SECONDS - 5 )) budget="$2"
  (( budget > left )) && budget="$left"
  if (( budget < 8 )); then
    echo "[$1] SKIP: no time left in the ${TOTAL} s budget" | tee -a "$RES"
    return
  fi
  timeout --kill-after=3 "$(( budget + 3 ))" "$PY" benchmarks/gpu_sections.py "$1" --results "$RES" --budget-s "$budget" \
    || echo "[$1] ended with exit $? (see above)" | tee -a "$RES"
}
run env 10
run nvml 20
run train3 30
run overhead 45
run resnet18 40
run calibrate 30
run semi24 20
run swat 15
echo "[gpu_check] done in ${SECONDS} s" | tee -a "$RES"
echo "results: $RES"
