"""The Flower adapter: the only package that imports flwr (lazily, with telemetry off).

``run_flower(cfg, out_dir)`` runs a ZeroFL experiment on Flower's simulation runtime and writes the
same run directory as the in-process engine; ``client_app.make_client_app`` and
``server_app.make_server_app`` are the components ``flower_app/`` deploys on a real SuperLink.
Importing this package imports nothing from flwr.
"""

from __future__ import annotations

from typing import Any


def run_flower(*args: Any, **kwargs: Any) -> Any:
    """Run the experiment on Flower (imports flwr only now; a missing extra is a one-line error)."""
    from .runner import run_flower as _run

    return _run(*args, **kwargs)


__all__ = ["run_flower"]
