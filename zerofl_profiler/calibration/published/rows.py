"""Typed rows of published training measurements, read from ``rows.toml`` (package data).

A row is one measured training case: device (catalogue name) and unit, runtime, model (a name in
:data:`~.models.PUBLISHED_MODELS`), batch, precision, the measured time (per step, per epoch with
the epoch's sample count, or a throughput), optionally the average power or the energy per step,
and where every number comes from: repository, commit, file and the exact line. A row without a
source, unit or precision, or with an unknown one, is a one-line :class:`BadInputError` naming it.
This module is pure Python (no torch, no numpy).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from ...errors import BadInputError

PRECISIONS = ("fp32", "tf32", "fp16", "bf16")
#: measured-time unit -> seconds per step, given (value, batch, epoch samples)
TIME_UNITS = ("ms_per_step", "s_per_step", "s_per_epoch", "samples_per_s")
ENERGY_UNITS = ("j_per_step", "j_per_step_above_baseline")
POWER_UNITS = ("w_average",)
SOURCE_FIELDS = ("repository", "commit", "file", "quote")
#: models with a definition in .models (the fit counts their work)
MODELLED = ("mnn-lenet", "mnn-alexnet", "mnn-squeezenet", "mnn-googlenet", "shufflenet-v2", "mobilenet-v2",
            "resnet50-v1.5", "resnext101-32x4d", "se-resnext101-32x4d", "efficientnet-b0", "efficientnet-b4",
            "efficientnet-widese-b0", "efficientnet-widese-b4")
#: what a row is for: "fit" rows are fitted (and held out in turn); "check" rows come from a source
#: held back from every fit and are priced by the shipped fit, so their error is against a source the
#: model never saw (see docs/fidelity.md, "Independent check")
ROLES = ("fit", "check")
OPTIMIZER_NAMES = ("sgd", "sgd_wd", "sgd_momentum", "sgd_momentum_wd", "sgd_nesterov", "adam", "adadelta",
                   "rmsprop_momentum_wd", "none")


@dataclass(frozen=True)
class RowSource:
    """Where a published number was read: the exact line of a file at a commit."""

    repository: str
    commit: str
    file: str
    quote: str
    header: str = ""

    def to_json(self) -> dict[str, str]:
        """JSON-ready dict."""
        return {"repository": self.repository, "commit": self.commit, "file": self.file, "header": self.header,
                "quote": self.quote}


@dataclass(frozen=True)
class PublishedRow:
    """One measured training case and its sources; times are normalised to seconds per step."""

    id: str
    device: str
    unit: str
    runtime: str
    model: str
    batch: int
    optimizer: str
    precision: str
    precision_basis: str
    setup: str
    time_value: float
    time_unit: str
    step_s: float
    source: RowSource
    power_w: float | None = None
    energy_j: float | None = None
    energy_above_idle: bool = False
    energy_source: RowSource | None = None
    gpus: int = 1
    power_limit_w: float | None = None
    role: str = "fit"

    @property
    def has_energy(self) -> bool:
        """Whether the row measured power or energy."""
        return self.power_w is not None or self.energy_j is not None

    def measured_energy_j(self, idle_power_w: float) -> float | None:
        """Measured energy of one step on the row's basis (board total, or above idle)."""
        if self.energy_j is not None:
            return self.energy_j
        if self.power_w is not None:
            return self.power_w * self.step_s
        return None


def _fail(where: str, msg: str) -> BadInputError:
    return BadInputError(f"{where}: {msg}")


def _str(raw: Mapping[str, Any], key: str, where: str) -> str:
    v = raw.get(key)
    if not isinstance(v, str) or not v.strip():
        raise _fail(where, f"'{key}' is missing or empty")
    return v


def _num(raw: Mapping[str, Any], key: str, where: str) -> float:
    v = raw.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise _fail(where, f"'{key}' must be a positive finite number, got {v!r}")
    return float(v)


def _source(raw: Any, where: str) -> RowSource:
    if not isinstance(raw, Mapping):
        raise _fail(where, "has no source (repository, commit, file, quote)")
    vals = {k: _str(raw, k, where) for k in SOURCE_FIELDS}
    return RowSource(header=str(raw.get("header", "")), **vals)


def _step_seconds(m: Mapping[str, Any], batch: int, gpus: int, where: str) -> tuple[float, str, float]:
    unit = m.get("unit")
    if unit not in TIME_UNITS:
        raise _fail(where, f"measured.unit is {unit!r}; one of {', '.join(TIME_UNITS)}")
    v = _num(m, "value", f"{where} measured")
    if unit == "ms_per_step":
        return v, unit, v / 1e3
    if unit == "s_per_step":
        return v, unit, v
    if unit == "samples_per_s":
        return v, unit, batch * gpus / v  # a multi-GPU throughput counts every GPU's batch
    n = _num(m, "epoch_samples", f"{where} measured")
    _str(m, "epoch_samples_basis", f"{where} measured")
    return v, unit, v / math.ceil(n / batch)


def parse_row(raw: Mapping[str, Any], where: str) -> PublishedRow:
    """Validate one ``[[row]]`` table."""
    rid = raw.get("id")
    where = f"{where} ({rid!r})" if isinstance(rid, str) else where
    rid = _str(raw, "id", where)
    prec = _str(raw, "precision", where)
    if prec not in PRECISIONS:
        raise _fail(where, f"precision {prec!r} is not one of {', '.join(PRECISIONS)}")
    model = _str(raw, "model", where)  # a model without a definition is excluded, not an error
    opt = _str(raw, "optimizer", where)
    if opt not in OPTIMIZER_NAMES:
        raise _fail(where, f"optimizer {opt!r} is not one of {', '.join(OPTIMIZER_NAMES)}")
    batch = raw.get("batch")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise _fail(where, f"'batch' must be a positive integer, got {batch!r}")
    m = raw.get("measured")
    if not isinstance(m, Mapping):
        raise _fail(where, "has no 'measured' table (value, unit)")
    gpus = raw.get("gpus", 1)
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1:
        raise _fail(where, f"'gpus' must be a positive integer, got {gpus!r}")
    limit = _num(raw, "power_limit_w", where) if "power_limit_w" in raw else None
    role = raw.get("role", "fit")
    if role not in ROLES:
        raise _fail(where, f"role {role!r} is not one of {', '.join(ROLES)}")
    tv, tu, step_s = _step_seconds(m, batch, gpus, where)
    source = _source(raw.get("source"), where)
    power = energy = None
    above = False
    e_src = None
    if "power" in raw:
        p = raw["power"]
        if not isinstance(p, Mapping) or p.get("unit") not in POWER_UNITS:
            raise _fail(where, f"power.unit must be one of {', '.join(POWER_UNITS)}")
        power = _num(p, "value", f"{where} power")
    if "energy" in raw:
        e = raw["energy"]
        if not isinstance(e, Mapping) or e.get("unit") not in ENERGY_UNITS:
            raise _fail(where, f"energy.unit must be one of {', '.join(ENERGY_UNITS)}")
        energy = _num(e, "value", f"{where} energy")
        above = e["unit"] == "j_per_step_above_baseline"
        e_src = _source(raw.get("energy_source"), f"{where} energy_source")
    return PublishedRow(
        id=rid, device=_str(raw, "device", where), unit=_str(raw, "unit", where),
        runtime=_str(raw, "runtime", where), model=model, batch=batch, optimizer=opt, precision=prec,
        precision_basis=_str(raw, "precision_basis", where), setup=_str(raw, "setup", where),
        time_value=tv, time_unit=tu, step_s=step_s, source=source, power_w=power, energy_j=energy,
        energy_above_idle=above, energy_source=e_src, gpus=gpus, power_limit_w=limit, role=role)


def parse_rows(raw: Mapping[str, Any], where: str) -> tuple[PublishedRow, ...]:
    """Every row of a parsed ``rows.toml``; ids must be unique."""
    rows_raw = raw.get("row")
    if not isinstance(rows_raw, list) or not rows_raw:
        raise _fail(where, "has no [[row]] tables")
    rows = []
    seen: set[str] = set()
    for i, r in enumerate(rows_raw):
        if not isinstance(r, Mapping):
            raise _fail(where, f"row {i} is not a table")
        row = parse_row(r, f"{where} row {i}")
        if row.id in seen:
            raise _fail(where, f"row id {row.id!r} appears twice")
        seen.add(row.id)
        rows.append(row)
    return tuple(rows)


def load_rows(path: str | Path | None = None) -> tuple[PublishedRow, ...]:
    """The published rows: the package's ``rows.toml``, or another file in its format."""
    if path is None:
        text = resources.files(__package__).joinpath("rows.toml").read_text(encoding="utf-8")
        where = "published rows.toml"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise BadInputError(f"{path}: cannot read ({exc.strerror})") from None
        where = str(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"{where}: not valid TOML ({exc})") from None
    return parse_rows(raw, where)
