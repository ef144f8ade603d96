"""Write a published-data fit into catalogue device files as schema-2 fields (DEVICE_V2.md).

The shipped v1 file is edited as text so its comments, sources and v1 fields stay as they are:
``schema = 2``; the unit table gains the declared per-precision peaks, ``default_runtime`` (the
runtime the fitted rows ran: PyTorch eager on the GPUs, MNN on the phone CPU; the plain fields then
describe it), its ``dispatch`` where it is not serial (CUDA: async), its ``dispatch_unit`` where it
is not a row (eager PyTorch: an aten op; with the declared per-op prior as ``kernel_overhead_s``
where the fit could not identify it) and the fitted ``dynamic_power_w``; the fitted values replace the v1 values of
``kernel_overhead_s``, ``mem_bandwidth_bytes_per_s`` (the effective bandwidth) and
``efficiency.*`` (gemm, gemm_grouped, optimizer, elementwise) in place (their old sources stay in the file); ``efficiency_curve`` holds the
fitted ``half_work_flops``; a fitted power-limit mode becomes ``[modes.<mode>.units.<u>]`` with the
peaks times its fitted clock factor and its ``dynamic_power_w``. Every fitted number cites ``[sources.fit_published]`` (kind
``measured``), which lists the rows used. A device that ``declared.toml`` marks ``transfer`` (no
published rows) is written the same way with the values :mod:`.transfer` carries over from its
class's fitted devices, citing ``[sources.transfer_published]`` (kind ``assumption``), and so is
the dynamic power of a fitted device without power rows. Files are written whole and atomically.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import BadInputError
from ...hardware_models.catalogue import _catalogue_files
from ...traces.atomic import atomic_write
from dataclasses import replace

from .declared import DeclaredUnit, declared_sources, template_text
from .fidelity import FidelityReport
from .fit import ClassFit, DeviceFit
from .transfer import TRANSFERRED, transfer_fit, transferred_units

FIT_SOURCE = "fit_published"
TRANSFER_SOURCE = "transfer_published"


def _q(v: float, source: str = FIT_SOURCE) -> str:
    return f"{{value = {v:.6g}, source = \"{source}\"}}"


def _section_bounds(lines: list[str], header: str) -> tuple[int, int] | None:
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == header)
    except StopIteration:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    return start, end


def _set_in_section(lines: list[str], header: str, key: str, value: str) -> None:
    """Replace ``key = ...`` in the section, or add it at the section's end (creating the section)."""
    b = _section_bounds(lines, header)
    if b is None:
        lines += ["", header, f"{key} = {value}"]
        return
    start, end = b
    pat = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for i in range(start + 1, end):
        if pat.match(lines[i]):
            lines[i] = f"{key} = {value}"
            return
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    lines.insert(end, f"{key} = {value}")


def _transfer_block(d: DeviceFit, cls: ClassFit, decl: DeclaredUnit) -> list[str]:
    """The source of carried-over values: the rule, the devices they came from and the values."""
    if d.status == TRANSFERRED:
        what = (f"no published training rows for this device; carried over from the fitted devices of its class "
                f"({cls.device_class}: {', '.join(d.sources)}): efficiency.gemm and the effective bandwidth as a "
                f"fraction of the datasheet's are their geometric means, the class's shared efficiencies "
                f"(gemm_grouped / gemm, optimizer, elementwise) and efficiency curve as fitted, kernel_overhead_s "
                f"the geometric mean of theirs")
        vals = (f"efficiency.gemm {d.gemm_efficiency:.4g}; bandwidth {d.mem_bandwidth_bytes_per_s:.4g} B/s "
                f"({d.mem_bandwidth_bytes_per_s / decl.model.mem_bandwidth_bytes_per_s:.3g} of "
                f"{decl.model.mem_bandwidth_bytes_per_s:.4g}); kernel_overhead_s {d.kernel_overhead_s:.4g}")
    else:
        what, vals = "this device's rows hold no power or energy measurement", ""
    if d.dynamic_power_w is not None and d.power_status == TRANSFERRED:
        scale, name = ((decl.board_power_w, "the board power limit (board_power_w in declared.toml)")
                       if d.power_basis == "board_power_w" else (decl.model.active_power_w, "active_power_w"))
        what += (f"; dynamic_power_w is {name} times the geometric mean of dynamic power / {name} of "
                 f"the devices whose power was fitted ({', '.join(d.power_sources)})")
        vals += ("; " if vals else "") + (f"dynamic_power_w {d.dynamic_power_w:.4g} = "
                                          f"{d.dynamic_power_w / scale:.3g} x {scale:g} W")
    ref = (f"zerofl-profile calibrate --from-published (calibration/published/transfer.py): {what}; the error "
           f"of this rule, each fitted device priced from the others: docs/fidelity.md, Devices without rows")
    return ["", f"[sources.{TRANSFER_SOURCE}]", 'kind = "assumption"', f"ref = {_toml_str(ref)}",
            f"quote = {_toml_str(vals)}"]


def _source_block(d: DeviceFit, cls: ClassFit) -> list[str]:
    rows = sorted(set(d.rows) | set(d.power_rows))
    return ["", f"[sources.{FIT_SOURCE}]", 'kind = "measured"',
            f'ref = "zerofl-profile calibrate --from-published: fit to {len(rows)} published rows '
            f'(zerofl_profiler/calibration/published/rows.toml; device class {cls.device_class})"',
            f'quote = "rows: {", ".join(rows)}"']


#: name of the mode without a power limit below the board's own, when the fit adds modes to a device without any
UNLIMITED_MODE = "max"


def mode_text(text: str, decl: DeclaredUnit, base: DeviceFit, m: DeviceFit) -> str:
    """Add a fitted power mode: ``[modes.<mode>.units.<u>]`` with the clock-scaled peaks and its dynamic power.

    A device that had no modes gets ``default_mode = "max"`` and an empty ``[modes.max]`` (the
    unit's own fields: no power limit below the board's).
    """
    lines = text.splitlines()
    if not any(re.match(r"^\s*default_mode\s*=", ln) for ln in lines):
        at = next(i for i, ln in enumerate(lines) if re.match(r"^\s*energy_mode\s*=", ln))
        lines.insert(at + 1, f'default_mode = "{UNLIMITED_MODE}"')
        lines += ["", f"[modes.{UNLIMITED_MODE}]"]
    head = f"[modes.{m.mode}.units.{decl.unit}]"
    _set_in_section(lines, head, "peak_flops", _q(decl.model.peak_flops * m.clock))
    for p, v in sorted(decl.model.peaks.items()):
        _set_in_section(lines, head, f"peak_flops_{p}", _q(v * m.clock))
    if m.dynamic_power_w is not None:
        _set_in_section(lines, head, "dynamic_power_w", _q(m.dynamic_power_w))
    return "\n".join(lines) + "\n"


def device_text(text: str, decl: DeclaredUnit, d: DeviceFit, cls: ClassFit) -> str:
    """The catalogue file ``text`` with the fit written in."""
    lines = text.splitlines()
    lines = [("schema = 2" if re.match(r"^\s*schema\s*=", ln) else ln) for ln in lines]
    unit = f"[units.{decl.unit}]"
    for p, v in sorted(decl.model.peaks.items()):
        src = decl.extras_sources.get(f"peak_flops_{p}", FIT_SOURCE)
        _set_in_section(lines, unit, f"peak_flops_{p}", f"{{value = {v:.6g}, source = \"{src}\"}}")
    _set_in_section(lines, unit, "default_runtime", f'"{d.runtime}"')
    if decl.model.dispatch != "serial":
        _set_in_section(lines, unit, "dispatch", f'"{decl.model.dispatch}"')
    if decl.model.dispatch_unit != "row":
        _set_in_section(lines, unit, "dispatch_unit", f'"{decl.model.dispatch_unit}"')
    if "kernel_overhead_s" in decl.extras_sources and not (d.status == "fitted" and "overhead" in d.fitted):
        src = decl.extras_sources["kernel_overhead_s"]
        _set_in_section(lines, unit, "kernel_overhead_s", f"{{value = {decl.model.kernel_overhead_s:.6g}, "
                                                          f"source = \"{src}\"}}")
    if decl.model.gemm_algorithm != "direct":
        _set_in_section(lines, unit, "gemm_algorithm", f'"{decl.model.gemm_algorithm}"')
    if d.dynamic_power_w is not None:
        _set_in_section(lines, unit, "dynamic_power_w",
                        _q(d.dynamic_power_w, TRANSFER_SOURCE if d.power_status == TRANSFERRED else FIT_SOURCE))
    for cls_name, prec in sorted(decl.model.precision.items()):
        _set_in_section(lines, f"[units.{decl.unit}.precision]", cls_name, f'"{prec}"')
    base = f"units.{decl.unit}"
    if d.status in ("fitted", TRANSFERRED):
        src = FIT_SOURCE if d.status == "fitted" else TRANSFER_SOURCE
        head = unit
        if "overhead" in d.fitted or d.status == TRANSFERRED:
            _set_in_section(lines, head, "kernel_overhead_s", _q(d.kernel_overhead_s, src))
        if "bandwidth" in d.fitted or d.status == TRANSFERRED:
            _set_in_section(lines, head, "mem_bandwidth_bytes_per_s", _q(d.mem_bandwidth_bytes_per_s, src))
        eff = f"[{base}.efficiency]"
        _set_in_section(lines, eff, "gemm", _q(d.gemm_efficiency, src))
        if cls.grouped_ratio is not None:
            _set_in_section(lines, eff, "gemm_grouped", _q(d.gemm_efficiency * cls.grouped_ratio, src))
        if cls.optimizer_efficiency is not None and "optimizer" in cls.fitted:
            _set_in_section(lines, eff, "optimizer", _q(cls.optimizer_efficiency, src))
        if cls.elementwise_efficiency is not None and "elementwise" in cls.fitted:
            _set_in_section(lines, eff, "elementwise", _q(cls.elementwise_efficiency, src))
        if cls.half_work_flops is not None:
            _set_in_section(lines, f"[{base}.efficiency_curve]", "half_work_flops", _q(cls.half_work_flops, src))
    # board_power_w is the fit's, not a device-file field: its source stays in declared.toml
    used = [k for k in declared_sources() if any(k == s for f, s in decl.extras_sources.items() if f != "board_power_w")]
    for k in used:
        if _section_bounds(lines, f"[sources.{k}]") is None:
            s = declared_sources()[k]
            lines += ["", f"[sources.{k}]", f'kind = "{s["kind"]}"', f"ref = {_toml_str(s['ref'])}",
                      f"quote = {_toml_str(s['quote'])}"]
    if d.status == "fitted" and _section_bounds(lines, f"[sources.{FIT_SOURCE}]") is None:
        lines += _source_block(d, cls)
    if TRANSFERRED in (d.status, d.power_status) and _section_bounds(lines, f"[sources.{TRANSFER_SOURCE}]") is None:
        lines += _transfer_block(d, cls, decl)
    return "\n".join(lines) + "\n"


def _toml_str(s: str) -> str:
    import json

    return json.dumps(s, ensure_ascii=False)


def write_catalogue(rep: FidelityReport, out_dir: str | Path) -> list[Path]:
    """Write every fitted device's file into ``out_dir`` (the shipped file plus the fit); returns the paths."""
    out = Path(out_dir)
    if not out.is_dir():
        raise BadInputError(f"--write-catalogue {out}: not a directory")
    files = _catalogue_files()
    written = []
    for cls in rep.fits.values():
        for key, d in cls.devices.items():
            if key[2] is not None or (d.status != "fitted" and d.power_status != "fitted"):
                continue
            decl = rep.declared[key[:2]]
            if d.power_status == "no power rows":  # power carried over from the devices with power rows
                tf = transfer_fit(decl, cls, rep.declared)
                if tf is not None and tf.dynamic_power_w is not None:
                    d = replace(d, dynamic_power_w=tf.dynamic_power_w, power_status=TRANSFERRED,
                                power_sources=tf.power_sources, power_basis=tf.power_basis)
            text = device_text(template_text(decl.device), decl, d, cls)
            for mkey, m in cls.devices.items():
                if mkey[:2] == key[:2] and mkey[2] is not None and m.status == "fitted":
                    text = mode_text(text, decl, d, m)
            path = out / files[decl.device].name
            atomic_write(path, text)
            written.append(path)
    for decl, tf, cls in transferred_units(rep.fits, rep.declared):
        path = out / files[decl.device].name
        atomic_write(path, device_text(template_text(decl.device), decl, tf, cls))
        written.append(path)
    return written
