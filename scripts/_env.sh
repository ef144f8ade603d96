# Shared by scripts/main and scripts/test: make (or reuse) the local .venv with every dependency.
# Idempotent: reinstalls only when setup.cfg changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY="$ROOT/.venv/bin/python"
stamp=".venv/.zerofl-install.stamp"
want="$(cat setup.cfg pyproject.toml scripts/_env.sh | sha256sum | cut -d' ' -f1) ${ZEROFL_EXTRAS:-flower,emissions,data,dev}"
# A failed install stops here with pip's own message: it must never surface later as skipped tests.
pip_install() {
  local log status=0
  log="$(mktemp)"
  "$VPY" -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1 || status=$?
  # drop pip's notice about non-package folders; grep exits 1 when it drops every line, which is fine
  grep -v "is ignored: it is neither" "$log" >&2 || [ $? -eq 1 ]
  rm -f "$log"
  if [ "$status" -ne 0 ]; then
    echo "[setup] pip install $* failed (exit $status)" >&2
    exit 1
  fi
}
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing into .venv (first run takes a few minutes)" >&2
  pip_install --upgrade pip
  # torch first, from the CPU build: anything that depends on torch would otherwise pull a CUDA build.
  if ! "$VPY" -c "import torch" 2>/dev/null; then
    pip_install "torch==2.13.0"
  fi
  pip_install -e ".[${ZEROFL_EXTRAS:-flower,emissions,data,dev}]"
  "$VPY" -c "import zerofl_profiler, torch" || { echo "[setup] install failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
# Keep Flower quiet and offline in everything the project starts.
export FLWR_TELEMETRY_ENABLED=0 FLWR_DISABLE_UPDATE_CHECK=1
export MPLBACKEND="${MPLBACKEND:-Agg}"
export PATH="$ROOT/.venv/bin:$PATH"
