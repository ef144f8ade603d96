"""Write the calibrated host as a device file of ``hardware_models`` (validated before writing).

Every fitted number carries ``source = {kind = "measured", ref = <the benchmark>, quote = <what
it measured>}``. Power is not measured by `calibrate` (it times, it does not meter): idle and
active power are copied from the shipped host default and stay ``assumption``, saying so.
A class the data never showed compute-bound gets efficiency 1 as an ``assumption`` (compute
puts no limit on it; its rows are priced by the bandwidth). A unit whose real sparse kernel was
timed (CSR on the CPU, ``sparse_curve.py``) gets its measured ``sparse_efficiency_curve``, which
makes the file schema 2.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..hardware_models.catalogue import HOST_NAME, get_device
from ..hardware_models.spec import OP_CLASSES, parse_device
from ..traces.atomic import atomic_write
from .run import HostCalibration, UnitCalibration, efficiencies

SHIPPED_HOST = "catalogue/host.toml"


def _src(ref: str, quote: str, kind: str = "measured") -> dict[str, str]:
    return {"kind": kind, "ref": ref, "quote": quote}


def _q(value: float, source: dict[str, str]) -> dict[str, Any]:
    return {"value": float(value), "source": source}


def _shipped_power(unit: str) -> dict[str, Any]:
    """Idle/active power of the shipped uncalibrated host (assumptions), re-sourced to say why."""
    from ..hardware_models.catalogue import _catalogue_files
    from ..hardware_models.spec import load_device_file

    spec = load_device_file(_catalogue_files()[HOST_NAME])
    u = spec.units[spec.default_unit]
    out = {}
    what = "" if unit == "cpu" else (f" -- NOT this {unit}'s power: the CPU default is a placeholder, replace it "
                                     f"with the {unit}'s idle/active power")
    for key in ("idle_power_w", "active_power_w"):
        q = getattr(u, key)
        out[key] = _q(q.value, _src(f"{q.source.ref} (copied by zerofl-profile calibrate, which does not measure "
                                    f"power){what}", q.source.quote, "assumption"))
    return out


def _unit_table(cal: UnitCalibration, bench_ref: str) -> dict[str, Any]:
    p = cal.fit.params
    n = len(cal.cases)
    fit_ref = (f"{bench_ref}: non-negative least-squares fit of the cost model to {n} micro-benchmarks "
               f"(in-sample MAPE {cal.fit.mape:.1%}, measurement spread {cal.noise_floor:.1%})")
    eff = efficiencies(cal)
    effs = {}
    for c in OP_CLASSES:
        if c not in p.rate_flops:
            continue  # no benchmark ran this class: the file leaves it out, so its fallback class prices it
        rate = p.rate_flops[c]
        if c in cal.fit.measured_classes and math.isfinite(rate):
            effs[c] = _q(max(eff[c], 1e-9), _src(fit_ref, f"achieved {rate / 1e9:.4g} GFLOP/s for {c} rows = "
                                                          f"{eff[c]:.4g} x the measured peak"))
        else:
            effs[c] = _q(1.0, _src(fit_ref, f"no benchmark was compute-bound for {c}: its rows are priced by the "
                                           f"bandwidth alone, so compute is given no limit (efficiency 1)",
                                   "assumption"))
    peak_src = _src(f"{bench_ref}: GEMM/conv2d micro-benchmarks (torch.mm, F.conv2d)",
                    f"best achieved {cal.peak_flops / 1e9:.4g} GFLOP/s ({cal.peak_case})")
    table: dict[str, Any] = {
        "peak_flops": _q(cal.peak_flops, peak_src),
        "mem_bandwidth_bytes_per_s": _q(p.mem_bandwidth_bytes_per_s, _src(
            fit_ref, f"effective bandwidth of the fit {p.mem_bandwidth_bytes_per_s / 1e9:.4g} GB/s; plain tensor "
                     f"copies alone gave {cal.fit.copy_bandwidth_bytes_per_s / 1e9:.4g} GB/s")),
        "kernel_overhead_s": _q(p.kernel_overhead_s, _src(
            fit_ref, f"{p.kernel_overhead_s * 1e6:.4g} us per counted row (layer x phase) of a training step, "
                     f"beyond its roofline time")),
        "sparse_efficiency": _q(p.sparse_efficiency, _src(
            f"{bench_ref}: SWAT micro training steps (zerofl_profiler.sparse) at sparsity 0.7 and 0.95 vs dense",
            f"fitted sparse efficiency {p.sparse_efficiency:.3g} (0 = masked dense kernels, no FLOP saving becomes "
            f"time)" if cal.fit.sparse_measured else "no sparse benchmark ran", "measured" if cal.fit.sparse_measured
            else "assumption")),
        "efficiency": effs,
    }
    if cal.sparse_curve is not None:
        from .sparse_curve import curve_entry

        table["sparse_efficiency_curve"] = curve_entry(cal.sparse_curve, bench_ref)
    table.update(_shipped_power(cal.unit))
    return table


def host_document(res: HostCalibration) -> dict[str, Any]:
    """The device-file document (a dict for ``tomlwrite.dumps``) of a host calibration."""
    if not res.units:
        raise BadInputError("nothing was calibrated")
    info = res.info
    first = res.units[0]
    bench_ref = (f"zerofl-profile calibrate{' --quick' if res.quick else ''} on {info.cpu_model}, torch "
                 f"{info.torch_version}, {info.threads} thread(s), {first.clock} clock, {info.date_utc}")
    ram_src = _src("os.sysconf(SC_PAGE_SIZE) x os.sysconf(SC_PHYS_PAGES) at calibration",
                   f"{info.ram_bytes / 2**30:.3g} GiB physical memory")
    curves = any(u.sparse_curve is not None for u in res.units)  # a schema-2 field
    doc: dict[str, Any] = {
        "schema": 2 if curves else 1, "name": HOST_NAME,
        "display_name": f"host CPU: {info.cpu_model} (calibrated {info.date_utc[:10]})",
        "category": "host", "energy_mode": "active_power", "default_unit": first.unit,
        "ram_bytes": _q(info.ram_bytes if info.ram_bytes > 0 else get_device(HOST_NAME).ram_bytes.value, ram_src),
        "notes": (f"Calibrated by zerofl-profile calibrate on {info.date_utc}: CPU {info.cpu_model}; torch "
                  f"{info.torch_version}; {info.threads} intra-op thread(s); clock {first.clock}"
                  + (f"; GPU {info.accelerator}" if info.accelerator else "")
                  + ". Power numbers are not measured (assumptions copied from the shipped host default)."),
        "units": {u.unit: _unit_table(u, bench_ref) for u in res.units},
    }
    return doc


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Fail fast (before minutes of timing) if the device file cannot be written there."""
    out = Path(path).expanduser()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".host-", suffix=".probe", dir=out.parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise BadInputError(f"cannot write device file {out}: {exc.strerror or exc}") from None
    if out.is_dir():
        raise BadInputError(f"cannot write device file {out}: it is a directory")
    return out


def write_device_file(res: HostCalibration, path: str | os.PathLike[str]) -> Path:
    """Validate the document with hardware_models' own parser, then write it atomically."""
    from ..tomlwrite import dumps

    doc = host_document(res)
    out = Path(path).expanduser()
    parse_device(doc, str(out))  # fail before touching the file
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"cannot write device file {out}: {exc.strerror or exc}") from None
    atomic_write(out, dumps(doc))  # a failing disk leaves no partial device file
    return out


def install_host(path: str | os.PathLike[str], host_target: str | os.PathLike[str]) -> str | None:
    """Copy a calibrated file to the `host` location; say what it replaced (None: nothing was there)."""
    from ..traces.atomic import atomic_write

    target = Path(host_target).expanduser()
    replaced = None
    if target.exists():
        try:
            old = target.read_text(encoding="utf-8")
        except OSError:
            old = ""
        name = next((ln.split("=", 1)[1].strip().strip('"') for ln in old.splitlines()
                     if ln.strip().startswith("display_name")), None)
        replaced = f"replaced {target}" + (f" ({name})" if name else "")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"cannot write device file {target}: {exc.strerror or exc}") from None
    atomic_write(target, Path(path).read_bytes())
    return replaced
