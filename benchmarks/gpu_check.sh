#!/usr/bin/env bash
# One short script for a machine with a CUDA build of torch and no network (at most 4 minutes).
# Uses the project's source on PYTHONPATH and only torch, numpy, click, rich, matplotlib and
# nvidia-ml-py; a section whose module is missing says so and is skipped. Each section has a fixed
# time budget and appends its figures to one results file as it goes:
#
#     bash benchmarks/gpu_check.sh [RESULTS_FILE]      (default: $OUT/gpu_results.txt or ./gpu_results.txt)
#
# Other parts of the project add sections to benchmarks/gpu_sections.py and a line here.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg FLWR_TELEMETRY_ENABLED=0
PY="${PYTHON:-python}"
RES="${1:-${OUT:-.}/gpu_results.txt}"
mkdir -p "$(dirname "$RES")"
: > "$RES"
run() {  # NAME BUDGET_S
  timeout --kill-after=5 "$(( $2 + 10 ))" "$PY" benchmarks/gpu_sections.py "$1" --results "$RES" --budget-s "$2" \
    || echo "[$1] ended with exit $? (see above)" | tee -a "$RES"
}
run env 20
run nvml 30
run train3 40
run overhead 50
run resnet18 40
run calibrate 30
run swat 15
echo "results: $RES"
