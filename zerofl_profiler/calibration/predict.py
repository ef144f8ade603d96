"""Price one dense training step on one unit with the cost model itself (hardware_models.pricing).

The published-data fit and `zerofl-profile fidelity` price a row through this module only, and it
adds no equation of its own: :func:`price_step` is the dense part of ``pricing.price_step``
(``roofline``, ``utilisation``, ``DeviceArrays.dispatch_time``) plus ``pricing.compute_energy``, the
functions `compare` and `estimate` price a client-round with (tests check that a row's price equals
`compare`'s figure); it skips the sparse and per-phase sums the fit never reads. A unit is a
:class:`~zerofl_profiler.hardware_models.records.DeviceProfile`; a row's precision is applied with
``DeviceProfile.with_precision`` (the rule of docs/devices.md, "Precision"). numpy only, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from ..hardware_models.pricing import DeviceArrays, compute_energy, roofline, utilisation
from ..hardware_models.records import DeviceProfile
from ..hardware_models.workload import StepRows


@dataclass(frozen=True)
class StepPrice:
    """Time, utilisation, power and energy of one dense step on one unit."""

    time_s: float
    overhead_s: float
    utilisation: float
    power_w: float
    energy_j: float

    def to_json(self) -> dict[str, float]:
        """JSON-ready dict."""
        return {"time_s": self.time_s, "overhead_s": self.overhead_s, "utilisation": self.utilisation,
                "power_w": self.power_w, "energy_j": self.energy_j}


class IdentityMemo:
    """A small memo keyed by the identity of a frozen object (profiles hold mappings, so they do not hash).

    The fit prices hundreds of rows on the same few unit objects per evaluation; building their
    arrays once per object instead of once per row keeps `zerofl-profile fidelity` fast. The object
    is kept with its value, so an id is never reused while its entry lives.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.entries: dict[tuple[int, str], tuple[object, Any]] = {}

    def get(self, obj: object, tag: str, make: Any) -> Any:
        """The value for (``obj``, ``tag``), made by ``make()`` the first time."""
        key = (id(obj), tag)
        hit = self.entries.get(key)
        if hit is not None and hit[0] is obj:
            return hit[1]
        if len(self.entries) >= self.size:
            self.entries.clear()
        value = make()
        self.entries[key] = (obj, value)
        return value


_ARRAYS = IdentityMemo()


def with_fields(unit: DeviceProfile, **kw: Any) -> DeviceProfile:
    """A copy of ``unit`` with fields replaced (mappings frozen), as the fit moves its parameters."""
    return replace(unit, **{k: MappingProxyType(dict(v)) if isinstance(v, dict) else v for k, v in kw.items()})


def price_step(rows: StepRows, unit: DeviceProfile) -> StepPrice:
    """The dense step's time and energy on ``unit`` exactly as `compare` prices one step of it."""
    dev = _ARRAYS.get(unit, "arrays", lambda: DeviceArrays.of([unit]))
    executed = dev.executed_flops(rows)
    roof = roofline(executed, rows.nbytes, rows.row_class, dev)
    busy = float((utilisation(executed, rows.nbytes, rows.row_class, dev, roof) * roof).sum())
    x = float(dev.dispatch_time(rows.kernels, roof, rows.row_launches)[0])
    t = float(roof.sum()) + x
    e = float(compute_energy(np.array([[t]]), np.array([float(rows.flops_dense.sum())]),
                             np.array([float(rows.nbytes.sum())]), dev, np.array([[busy]]))[0, 0])
    return StepPrice(time_s=t, overhead_s=x, utilisation=busy / t if t > 0 else 0.0,
                     power_w=e / t if t > 0 else unit.idle_power_w, energy_j=e)


def energy_above_idle(price: StepPrice, unit: DeviceProfile) -> float:
    """Energy of the step beyond the idle draw over the same time."""
    return price.energy_j - unit.idle_power_w * price.time_s
