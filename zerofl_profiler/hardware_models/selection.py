"""What to cost on: names and files as typed (:class:`CostingSelection`) and the resolved :class:`Costing`.

The library entry point needs no CLI class::

    costing = Costing.from_names(["jetson-nano", "h100@..."], network="lte", runtime=None, precision=None)

``runtime`` picks a runtime profile of every unit (default: each unit's ``default_runtime``, the
one its plain fields describe); ``precision`` forces every op class to one precision (an error
for a unit without a peak for it). Both are stated in every estimate's assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import BadInputError
from .catalogue import get_network, resolve_device, resolve_device_file
from .records import DeviceProfile, NetworkSpec

if TYPE_CHECKING:  # numpy stays out of CLI start-up
    from .population import DeviceMix


@dataclass(frozen=True)
class CostingSelection:
    """What the user asked to cost on: raw names and files, resolved by :meth:`Costing.from_selection`."""

    devices: tuple[str, ...] = ()
    device_files: tuple[str, ...] = ()
    network: str | None = None
    device_mix: str | None = None
    runtime: str | None = None
    precision: str | None = None


@dataclass(frozen=True)
class Costing:
    """Resolved devices, network and optional device mix (what every costing command prices on)."""

    devices: tuple[DeviceProfile, ...]
    network: NetworkSpec | None = None
    mix: DeviceMix | None = None
    runtime: str | None = None
    precision: str | None = None

    @staticmethod
    def from_selection(sel: CostingSelection) -> "Costing":
        """Resolve names and files into device profiles, a network and a mix (errors: exit 2)."""
        def resolve(name: str) -> DeviceProfile:
            return resolve_device(name, runtime=sel.runtime, precision=sel.precision)

        profiles = [resolve(n) for n in sel.devices]
        for path in sel.device_files:
            profiles.extend(resolve_device_file(path, runtime=sel.runtime, precision=sel.precision))
        seen: set[str] = set()
        unique = tuple(p for p in profiles if not (p.name in seen or seen.add(p.name)))  # type: ignore[func-returns-value]
        mix = None
        if sel.device_mix:
            from .population import parse_mix

            mix = parse_mix(sel.device_mix, resolve)
        if not unique and mix is None:
            raise BadInputError("nothing to cost on: give --device NAME, --device-file FILE.toml or --device-mix")
        net = get_network(sel.network) if sel.network else None
        return Costing(unique, net, mix, sel.runtime, sel.precision)

    @staticmethod
    def from_names(names: Iterable[str] = (), *, device_files: Iterable[str] = (), network: str | None = None,
                   device_mix: str | None = None, runtime: str | None = None,
                   precision: str | None = None) -> "Costing":
        """The library constructor: catalogue names (or .toml paths), network and mix by name."""
        if isinstance(names, str):
            names = [names]
        return Costing.from_selection(CostingSelection(tuple(names), tuple(device_files), network, device_mix,
                                                       runtime, precision))

    @property
    def profiles(self) -> tuple[DeviceProfile, ...]:
        """Every distinct device priced: the named ones, then the mix's."""
        out: dict[str, DeviceProfile] = {p.name: p for p in self.devices}
        for p in (self.mix.profiles if self.mix else ()):
            out.setdefault(p.name, p)
        return tuple(out.values())

    def assumptions(self) -> tuple[dict[str, Any], ...]:
        """Per device: mode, runtime, precision, energy basis, curves; and the network."""
        net = self.network.name if self.network else "none (transfers free and instant)"
        return tuple({**p.assumptions(), "network": net} for p in self.profiles)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"devices": [d.name for d in self.devices],
                "network": self.network.name if self.network else None,
                "mix": self.mix.to_json() if self.mix else None, "runtime": self.runtime,
                "precision": self.precision}


def resolve_costing(sel: CostingSelection) -> Costing:
    """Turn a CostingSelection into a Costing (the same as Costing.from_selection)."""
    return Costing.from_selection(sel)
