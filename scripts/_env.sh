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
want="$(cat setup.cfg pyproject.toml scripts/_env.sh | sha256sum | cut -d' ' -f1) ${ZEROFL_EXTRAS:-flower,emissions,dev}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing into .venv (first run takes a few minutes)" >&2
  "$VPY" -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v "is ignored: it is neither" >&2 || true
  # torch first, from the CPU build: anything that depends on torch would otherwise pull a CUDA build.
  if ! "$VPY" -c "import torch" 2>/dev/null; then
    "$VPY" -m pip install -q --disable-pip-version-check "torch==2.13.0" 2>&1 | grep -v "is ignored: it is neither" >&2 || true
  fi
  "$VPY" -m pip install -q --disable-pip-version-check -e ".[${ZEROFL_EXTRAS:-flower,emissions,dev}]" 2>&1 | grep -v "is ignored: it is neither" >&2 || true
  "$VPY" -c "import zerofl_profiler, torch" || { echo "[setup] install failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
# Keep Flower quiet and offline in everything the project starts.
export FLWR_TELEMETRY_ENABLED=0 FLWR_DISABLE_UPDATE_CHECK=1
export MPLBACKEND="${MPLBACKEND:-Agg}"
export PATH="$ROOT/.venv/bin:$PATH"
