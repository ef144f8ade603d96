"""The optional Flower extra: environment set before flwr loads, and a clear error when it is missing.

Flower reads ``FLWR_TELEMETRY_ENABLED`` and ``FLWR_DISABLE_UPDATE_CHECK`` when it is imported, and
its simulation runtime calls ``sys.exit`` when Ray is missing, so both checks happen here, before
any flwr import anywhere in the package.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Mapping

from ...errors import MissingExtraError

#: Set in this process before flwr is imported, and passed to every process the project starts.
FLOWER_ENV: Mapping[str, str] = {
    "FLWR_TELEMETRY_ENABLED": "0",
    "FLWR_DISABLE_UPDATE_CHECK": "1",
    # A SuperLink would otherwise `uv sync` the app's dependencies (a GPU build of torch).
    "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
}
INSTALL_HINT = "pip install 'zerofl-profiler[flower]'"
MIN_FLWR = (1, 42)


def quiet_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for Flower processes with telemetry and update checks off."""
    env = dict(os.environ if base is None else base)
    env.update(FLOWER_ENV)
    return env


def _version_tuple(text: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in text.split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


def require_flower(*, simulation: bool = True) -> None:
    """Turn telemetry off and fail with one line naming the extra if flwr (or Ray) is missing."""
    os.environ.update(FLOWER_ENV)
    if importlib.util.find_spec("flwr") is None:
        raise MissingExtraError(f"the Flower engine needs flwr >= 1.42; install it with: {INSTALL_HINT}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("flwr")
    except PackageNotFoundError:  # pragma: no cover - importable but not installed as a dist
        found = "0"
    if _version_tuple(found) < MIN_FLWR:
        raise MissingExtraError(f"the Flower engine needs flwr >= 1.42, found {found}; "
                                f"upgrade with: {INSTALL_HINT}")
    if simulation and importlib.util.find_spec("ray") is None:
        raise MissingExtraError("Flower's simulation runtime needs Ray (it would exit the process "
                                f"without it); install it with: {INSTALL_HINT}")
