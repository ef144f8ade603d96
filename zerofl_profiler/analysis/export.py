"""Estimated time and energy columns for the export tables: per client-round and per round, per device.

Client-round columns come from the same vectorized pricing as ``estimate`` (one
:func:`~zerofl_profiler.hardware_models.pricing.price_client_rounds` call over every successful record); failed records get NaN
(not costed). Round columns are ``estimate``'s per-round figures (the slowest client's time,
every client's energy). Column names: ``est.<device>.time_s``, ``est.<device>.energy_j`` and the
dense baseline ``est.<device>.dense_time_s``, ``est.<device>.dense_energy_j``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import BadInputError
from ..hardware_models.pricing import DeviceArrays, price_client_rounds
from .estimate import Costing, estimate_run, records_from_columns, run_step_profile

#: (column suffix, RecordCosts attribute / per-round table key)
MEASURES = (("time_s", "time_s"), ("energy_j", "energy_j"), ("dense_time_s", "dense_time_s"),
            ("dense_energy_j", "dense_energy_j"))


def estimate_tables(run: Any, costing: Costing) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(client-round columns, round columns) of estimated cost on each device of ``costing``."""
    if costing.mix is not None:
        raise BadInputError("export prices named devices (--device, --device-file); --device-mix is not supported")
    cols = run.columns
    clients: dict[str, np.ndarray] = {}
    rounds: dict[str, np.ndarray] = {}
    if not costing.devices:
        return clients, rounds
    ok = cols.ok
    n = len(cols)
    if ok.any():
        step = run_step_profile(run)
        cfg = run.config
        recs = records_from_columns(cols.select(ok), step.reference_batch or float(cfg.batch_size if cfg else 1))
        c = price_client_rounds(step, recs, DeviceArrays.of(costing.devices), costing.network)
    for i, dev in enumerate(costing.devices):
        for suffix, attr in MEASURES:
            col = np.full(n, np.nan)
            if ok.any():
                col[ok] = getattr(c, attr)[i]
            clients[f"est.{dev.name}.{suffix}"] = col
    round_ids = np.array([r.round for r in run.rounds], dtype=np.int64)
    est = estimate_run(run, costing) if ok.any() else None
    for i, dev in enumerate(costing.devices):
        for suffix, key in MEASURES:
            col = np.full(len(round_ids), np.nan)
            if est is not None:
                d = est.devices[i]
                pos = {int(r): k for k, r in enumerate(d.round_ids)}
                for j, r in enumerate(round_ids.tolist()):
                    if r in pos:
                        col[j] = d.round_table[key][pos[r]]
            rounds[f"est.{dev.name}.{suffix}"] = col
    return clients, rounds
