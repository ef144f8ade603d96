"""The fit's starting point: declared units plus the schema-2 extras of ``declared.toml``.

A device whose catalogue file already holds fitted values starts from its declared (pre-fit)
file in ``prior/``, so a refit, and above all a held-out evaluation, never starts from numbers
fitted to the very rows it is judged on. Per-precision peaks, the precision each op class runs
in, the runtime's dispatch mode and unit and, where the unit is an aten op, the per-op dispatch
prior (``kernel_overhead_s``) come from ``declared.toml`` with their sources.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from types import MappingProxyType
from typing import Mapping, Sequence

from ...errors import BadInputError
from ...hardware_models.catalogue import resolve_device
from ...hardware_models.gemm_algorithms import check_algorithm
from ...hardware_models.records import DISPATCH_MODES, DISPATCH_UNITS, DeviceProfile

#: catalogue category (and unit) -> device class that shares the efficiency shape
DEVICE_CLASS = {("phone", "cpu"): "phone-cpu", ("phone", "gpu"): "phone-gpu", ("gpu", "gpu"): "gpu",
                ("jetson", "gpu"): "jetson-gpu", ("jetson", "cpu"): "jetson-cpu"}
@dataclass(frozen=True)
class DeclaredUnit:
    """A catalogue unit with the schema-2 extras of declared.toml: the fit's starting point."""

    device: str
    unit: str
    category: str
    runtime: str
    model: DeviceProfile
    extras_sources: Mapping[str, str]  # field -> source key in declared.toml
    board_power_w: float | None = None  # the board's power limit the rows ran under (transfer.py scales power by it)

    @property
    def device_class(self) -> str:
        """The class whose efficiency shape this unit shares."""
        return DEVICE_CLASS.get((self.category, self.unit), f"{self.category}-{self.unit}")


def _prior_spec(dev: str):  # type: ignore[no-untyped-def]
    """The declared (pre-fit) device file of a catalogue device the fit has written, if there is one."""
    from ...hardware_models.devicefile import load_device_file

    path = resources.files(__package__).joinpath("prior", f"{dev}.toml")
    if not path.is_file():
        return None
    with resources.as_file(path) as p:
        return load_device_file(p)


def template_text(dev: str) -> str:
    """The device file the fit writes into: the declared (pre-fit) one, so a refit never stacks on a fit."""
    from ...hardware_models.catalogue import _catalogue_files

    path = resources.files(__package__).joinpath("prior", f"{dev}.toml")
    if path.is_file():
        return path.read_text(encoding="utf-8")
    return _catalogue_files()[dev].read_text(encoding="utf-8")


def _declared_raw() -> dict:
    return tomllib.loads(resources.files(__package__).joinpath("declared.toml").read_text(encoding="utf-8"))


def declared_sources() -> Mapping[str, Mapping[str, str]]:
    """The ``[sources.*]`` tables of declared.toml."""
    return _declared_raw().get("sources", {})


def transfer_targets() -> dict[tuple[str, str], DeclaredUnit]:
    """The units declared.toml marks ``transfer``: no fitted rows, priced from their class (transfer.py)."""
    extra = _declared_raw().get("device", {})
    return declared_units([(dev, unit) for dev, units in extra.items() for unit, x in units.items()
                           if isinstance(x, dict) and "transfer" in x])


def declared_units(devices: Sequence[tuple[str, str]]) -> dict[tuple[str, str], DeclaredUnit]:
    """The catalogue's units named in ``devices`` (unknown ones left out), with declared.toml's extras."""
    from ...hardware_models.catalogue import get_device

    extra = _declared_raw().get("device", {})
    out = {}
    for dev, unit in sorted(set(devices)):
        try:
            spec = _prior_spec(dev) or get_device(dev)
            prof = spec.profile(unit if len(spec.units) > 1 else None)
        except BadInputError:
            continue
        if prof.unit != unit:
            continue
        x = extra.get(dev, {}).get(unit, {})
        peaks = {k[len("peak_flops_"):]: float(v["value"]) for k, v in x.items() if k.startswith("peak_flops_")}
        srcs = {k: v["source"] for k, v in x.items() if isinstance(v, dict) and "source" in v}
        prec = {k: v for k, v in x.get("precision", {}).items() if k != "source"}
        dispatch = x.get("dispatch", {}).get("value", prof.dispatch)
        if dispatch not in DISPATCH_MODES:
            raise BadInputError(f"declared.toml: device.{dev}.{unit}.dispatch: must be one of "
                                f"{', '.join(DISPATCH_MODES)}, got {dispatch!r}")
        unit_of = x.get("dispatch_unit", {}).get("value", prof.dispatch_unit)
        if unit_of not in DISPATCH_UNITS:
            raise BadInputError(f"declared.toml: device.{dev}.{unit}.dispatch_unit: must be one of "
                                f"{', '.join(DISPATCH_UNITS)}, got {unit_of!r}")
        overhead = x.get("kernel_overhead_s", {}).get("value", prof.kernel_overhead_s)
        if isinstance(overhead, bool) or not isinstance(overhead, (int, float)) or not 0 <= overhead <= 1:
            raise BadInputError(f"declared.toml: device.{dev}.{unit}.kernel_overhead_s: must be a number of "
                                f"seconds in [0, 1], got {overhead!r}")
        algorithm = check_algorithm(x.get("gemm_algorithm", {}).get("value", prof.gemm_algorithm),
                                    f"declared.toml: device.{dev}.{unit}.gemm_algorithm")
        runtime = str(x.get("runtime", "default"))
        model = replace(prof, peaks=MappingProxyType({**prof.peaks, **peaks}), precision=MappingProxyType(prec),
                        dispatch=dispatch, dispatch_unit=unit_of, kernel_overhead_s=float(overhead), runtime=runtime,
                        gemm_algorithm=algorithm)
        board = x.get("board_power_w", {}).get("value")
        if board is not None and (isinstance(board, bool) or not isinstance(board, (int, float)) or not board > 0):
            raise BadInputError(f"declared.toml: device.{dev}.{unit}.board_power_w: must be a positive number of "
                                f"watts, got {board!r}")
        out[(dev, unit)] = DeclaredUnit(dev, unit, spec.category, runtime, model, srcs,
                                        None if board is None else float(board))
    return out
