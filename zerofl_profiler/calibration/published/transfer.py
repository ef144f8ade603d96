"""Price a device that has no fitted rows from the fitted devices of its class.

A fit's values are relative to the unit's own datasheet: efficiencies are fractions of its peaks
(in the precision each op class runs in), the effective bandwidth a fraction of its datasheet
bandwidth, and the dynamic power a fraction of its board's power limit (``board_power_w`` in
declared.toml; where the target or no source declares one, of the declared busy power
``active_power_w``). Those fractions
are what carries over to another device of the same class; the absolute numbers (peaks, bandwidth,
busy power) stay the target's own. The transferred value of each is the geometric mean over the
class's fitted devices (each counts once, whatever its row count); the per-op overhead, a host
cost, is carried over as it is between units that pay it per the same dispatch unit. How well this
predicts an unseen device is measured by holding each fitted device out in turn
(:func:`.fidelity.run_fidelity`, "held out by device").
"""

from __future__ import annotations

import math
from dataclasses import replace
from types import MappingProxyType
from typing import Mapping, Sequence

from .declared import DeclaredUnit, transfer_targets
from .fit import ClassFit, DeviceFit, Key

#: status of a unit whose values were carried over from its class's fitted devices
TRANSFERRED = "transferred"


def _gmean(xs: Sequence[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def transfer_fit(decl: DeclaredUnit, cls: ClassFit, declared: Mapping[tuple[str, str], DeclaredUnit]) -> DeviceFit | None:
    """``decl``'s values carried over from ``cls``'s fitted devices (not ``decl`` itself); None if it has none.

    Only a device's unlimited mode (no power limit below its board's) is a source. The overhead
    comes from the sources with ``decl``'s dispatch unit (else the declared value stays); the
    dynamic power from those whose power was fitted (else none: the declared busy power stays).
    """
    src = [(k, d) for k, d in sorted(cls.devices.items(), key=lambda kv: kv[0][:2])
           if k[2] is None and k[:2] != (decl.device, decl.unit) and d.status == "fitted"]
    if not src:
        return None
    fracs = [d.mem_bandwidth_bytes_per_s / declared[k[:2]].model.mem_bandwidth_bytes_per_s for k, d in src]
    same_unit = [d.kernel_overhead_s for k, d in src
                 if declared[k[:2]].model.dispatch_unit == decl.model.dispatch_unit]
    power = [(k, d) for k, d in src if d.power_status == "fitted" and d.dynamic_power_w]
    by_board = [(k, d) for k, d in power if declared[k[:2]].board_power_w] if decl.board_power_w else []
    basis = "active_power_w"
    if by_board:
        power, basis = by_board, "board_power_w"
        dyn = decl.board_power_w * _gmean([d.dynamic_power_w / declared[k[:2]].board_power_w for k, d in power])  # type: ignore[operator]
    else:
        power = [(k, d) for k, d in power if declared[k[:2]].model.active_power_w > 0]
        dyn = (decl.model.active_power_w * _gmean([d.dynamic_power_w / declared[k[:2]].model.active_power_w
                                                  for k, d in power])
               if power and decl.model.active_power_w > 0 else None)
    return DeviceFit(
        device=decl.device, unit=decl.unit, mode=None, runtime=decl.runtime, status=TRANSFERRED,
        gemm_efficiency=_gmean([d.gemm_efficiency for _, d in src]),
        kernel_overhead_s=_gmean(same_unit) if same_unit else decl.model.kernel_overhead_s,
        mem_bandwidth_bytes_per_s=decl.model.mem_bandwidth_bytes_per_s * _gmean(fracs),
        fitted=(), rows=(), idle_power_w=decl.model.idle_power_w, dynamic_power_w=dyn,
        power_status=TRANSFERRED if dyn is not None else "no power rows",
        sources=tuple(f"{k[0]}-{k[1]}" for k, _ in src), power_sources=tuple(f"{k[0]}-{k[1]}" for k, _ in power),
        power_basis=basis if dyn is not None else None)


def with_transferred(cls: ClassFit, fit: DeviceFit) -> ClassFit:
    """``cls`` with ``fit`` added as one of its devices (so :func:`.fit.unit_model` prices it)."""
    key: Key = (fit.device, fit.unit, None)
    return replace(cls, devices=MappingProxyType({**cls.devices, key: fit}))


def transferred_units(fits: Mapping[str, ClassFit], declared: Mapping[tuple[str, str], DeclaredUnit]
                      ) -> list[tuple[DeclaredUnit, DeviceFit, ClassFit]]:
    """Every unit declared.toml marks ``transfer``, with its carried-over values and its class's fit."""
    out = []
    for decl in transfer_targets().values():
        cls = fits.get(decl.device_class)
        tf = transfer_fit(decl, cls, declared) if cls is not None else None
        if tf is not None:
            out.append((decl, tf, cls))
    return out
