"""NVIDIA GPU energy through NVML (package nvidia-ml-py, imported only here and only when used).

Per visible GPU: the total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, millijoules
since the driver loaded; Volta and newer) where supported, else power readings
(``nvmlDeviceGetPowerUsage``, milliwatts) sampled by the meter's shared thread and integrated with
the trapezoid rule. ``CUDA_VISIBLE_DEVICES`` is honoured the way CUDA reads it: indices, full or
prefix UUIDs (``GPU-...``) and MIG ids (``MIG-<uuid>`` or ``MIG-GPU-<uuid>/<gi>/<ci>``), mapped
to NVML devices by UUID; the list stops at the first entry that matches nothing. A MIG instance
has no energy reading of its own, so its parent GPU is measured and the window is flagged.

A window shorter than the counter's update period (measured at start) is flagged and filled with
power x duration instead of reporting the 0 J a stale counter would give.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Mapping

from ..errors import HardwareError, MissingExtraError
from ..units import MJ_PER_J, MW_PER_W
from .base import Backend, BackendStatus, Delta, Reading, now_s, register_backend

#: Used when the counter did not tick during the start-up probe. Assumption, not a citation:
#: NVML counters on current boards tick every few tens of milliseconds.
DEFAULT_UPDATE_PERIOD_S = 0.1
PROBE_LIMIT_S = 0.3
#: Tick-to-tick periods the probe times (their median is the counter's update period).
PROBE_PERIODS = 3


def import_pynvml() -> ModuleType:
    """The real pynvml module, or a MissingExtraError naming the package."""
    try:
        import pynvml
    except ImportError:
        raise MissingExtraError("the nvml backend needs nvidia-ml-py (pip install nvidia-ml-py)") from None
    return pynvml


@dataclass(frozen=True)
class GpuTarget:
    """One NVML device to measure, with the key it is reported under and why it was chosen."""

    key: str
    handle: Any
    uuid: str
    flags: tuple[str, ...] = ()


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _call(nv: ModuleType, fn: str, *args: Any) -> Any:
    """Call ``nv.<fn>(*args)``; an NVML error becomes a HardwareError naming the call."""
    try:
        return getattr(nv, fn)(*args)
    except nv.NVMLError as exc:
        raise HardwareError(f"NVML {fn} failed: {exc}") from None


def _not_supported(nv: ModuleType, exc: BaseException) -> bool:
    return getattr(exc, "value", None) == nv.NVML_ERROR_NOT_SUPPORTED


def visible_gpus(nv: ModuleType, env: str | None) -> tuple[list[GpuTarget], list[str]]:
    """Map CUDA_VISIBLE_DEVICES (None = unset) to NVML devices; also return notes on dropped entries."""
    count = int(_call(nv, "nvmlDeviceGetCount"))
    handles = [_call(nv, "nvmlDeviceGetHandleByIndex", i) for i in range(count)]
    uuids = [_text(_call(nv, "nvmlDeviceGetUUID", h)) for h in handles]
    if env is None:
        return [GpuTarget(f"gpu{i}", h, u) for i, (h, u) in enumerate(zip(handles, uuids))], []
    notes: list[str] = []
    out: list[GpuTarget] = []
    entries = [e.strip() for e in env.split(",")] if env.strip() else []
    order_flag = ("cuda-index-assumes-pci-bus-order",) if (
        count > 1 and os.environ.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID") else ()
    for e in entries:
        target: GpuTarget | None = None
        key = f"gpu{len(out)}"
        if e.lstrip("-").isdigit():
            i = int(e)
            if 0 <= i < count:
                target = GpuTarget(key, handles[i], uuids[i], order_flag)
        elif e.startswith("MIG-"):
            target = _mig_parent(nv, e, key, handles, uuids)
        else:
            want = e if e.startswith("GPU-") else f"GPU-{e}"
            hits = [i for i, u in enumerate(uuids) if u.startswith(want)]
            if len(hits) == 1:
                target = GpuTarget(key, handles[hits[0]], uuids[hits[0]])
        if target is None:
            notes.append(f"CUDA_VISIBLE_DEVICES entry {e!r} matches no GPU; it and later entries are ignored")
            break
        if any(t.uuid == target.uuid for t in out):
            notes.append(f"CUDA_VISIBLE_DEVICES entry {e!r} is on a GPU already measured")
            continue
        out.append(target)
    return out, notes


def _mig_parent(nv: ModuleType, entry: str, key: str, handles: list[Any], uuids: list[str]) -> GpuTarget | None:
    flags = ("mig-instance:parent-gpu-energy",)
    if "/" in entry:  # legacy MIG-GPU-<uuid>/<gi>/<ci>
        gpu_uuid = entry[len("MIG-"):].split("/")[0]
        hits = [i for i, u in enumerate(uuids) if u == gpu_uuid]
        return GpuTarget(key, handles[hits[0]], uuids[hits[0]], flags) if hits else None
    try:
        mig = nv.nvmlDeviceGetHandleByUUID(entry)
        parent = nv.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(mig)
        puuid = _text(nv.nvmlDeviceGetUUID(parent))
    except nv.NVMLError:
        return None
    return GpuTarget(key, parent, puuid, flags)


def probe() -> BackendStatus:
    """Available when pynvml loads, the driver answers, and CUDA_VISIBLE_DEVICES leaves a GPU."""
    try:
        nv = import_pynvml()
    except MissingExtraError as exc:
        return BackendStatus("nvml", False, str(exc))
    try:
        nv.nvmlInit()
    except nv.NVMLError as exc:
        return BackendStatus("nvml", False, f"no NVIDIA driver/GPU reachable through NVML ({exc})")
    try:
        gpus, notes = visible_gpus(nv, os.environ.get("CUDA_VISIBLE_DEVICES"))
    except HardwareError as exc:
        return BackendStatus("nvml", False, str(exc))
    finally:
        try:
            nv.nvmlShutdown()
        except nv.NVMLError:
            pass
    if not gpus:
        return BackendStatus("nvml", False, "no GPU visible (CUDA_VISIBLE_DEVICES) " + "; ".join(notes))
    return BackendStatus("nvml", True, f"{len(gpus)} GPU(s): " + ", ".join(f"{g.key}={g.uuid}" for g in gpus))


class NvmlBackend(Backend):
    """Cumulative joules per visible GPU, from the energy counter or integrated power samples."""

    name = "nvml"
    kind = "measured"
    needs_sampling = True

    def __init__(self, nvml_module: ModuleType | None = None, visible: str | None | object = ...) -> None:
        super().__init__()
        self._nv = nvml_module
        self._visible = os.environ.get("CUDA_VISIBLE_DEVICES") if visible is ... else visible
        self.gpus: list[GpuTarget] = []
        self.notes: list[str] = []
        self.counter: dict[str, bool] = {}
        self.update_period_s: dict[str, float] = {}
        self._origin_mj: dict[str, int] = {}
        self._acc_j: dict[str, float] = {}
        self._last_p: dict[str, tuple[float, float]] = {}
        self._started = False

    @property
    def method(self) -> str:  # type: ignore[override]
        """`counter`, `power-sampling`, or both joined when the GPUs differ."""
        kinds = sorted({"counter" if c else "power-sampling" for c in self.counter.values()})
        return "+".join(kinds) or "counter"

    def start(self) -> None:
        """Init NVML, map the visible GPUs, pick counter or sampling per GPU, take the zero reading."""
        nv = self._nv = self._nv or import_pynvml()
        _call(nv, "nvmlInit")
        self._started = True
        self.gpus, self.notes = visible_gpus(nv, self._visible)  # type: ignore[arg-type]
        if not self.gpus:
            raise HardwareError("no GPU visible to NVML (CUDA_VISIBLE_DEVICES) " + "; ".join(self.notes))
        t = now_s()
        for g in self.gpus:
            try:
                self._origin_mj[g.key] = int(nv.nvmlDeviceGetTotalEnergyConsumption(g.handle))
                self.counter[g.key] = True
            except nv.NVMLError as exc:
                if not _not_supported(nv, exc):
                    raise HardwareError(f"NVML nvmlDeviceGetTotalEnergyConsumption failed: {exc}") from None
                self.counter[g.key] = False
                self._acc_j[g.key] = 0.0
                self._last_p[g.key] = (t, self._power_w(g))
        self._probe_update_periods()

    def _power_w(self, g: GpuTarget) -> float:
        return float(_call(self._nv, "nvmlDeviceGetPowerUsage", g.handle)) / MW_PER_W  # type: ignore[union-attr]

    def _energy_mj(self, g: GpuTarget) -> int:
        return int(_call(self._nv, "nvmlDeviceGetTotalEnergyConsumption", g.handle))  # type: ignore[union-attr]

    def _probe_update_periods(self) -> None:
        """Time between counter ticks, so short windows can be recognised.

        Up to PROBE_PERIODS tick-to-tick periods are timed within PROBE_LIMIT_S; a tick noticed
        late (the process was descheduled) shortens one period and lengthens the next, so the
        median of three is taken, or the longest when fewer were seen (the cautious choice: a
        longer period flags more windows as shorter than the counter's resolution).
        """
        for g in self.gpus:
            if not self.counter[g.key]:
                continue
            last = self._energy_mj(g)
            t0 = now_s()
            t_tick: float | None = None
            periods: list[float] = []
            while now_s() - t0 < PROBE_LIMIT_S and len(periods) < PROBE_PERIODS:
                value = self._energy_mj(g)
                if value == last:
                    continue
                t = now_s()
                if t_tick is not None:
                    periods.append(t - t_tick)
                t_tick, last = t, value
            if periods:
                ordered = sorted(periods)
                self.update_period_s[g.key] = ordered[1] if len(ordered) >= 3 else ordered[-1]
            self.update_period_s.setdefault(g.key, DEFAULT_UPDATE_PERIOD_S)

    def _integrate_locked(self, t: float) -> None:
        for g in self.gpus:
            if self.counter[g.key]:
                continue
            p = self._power_w(g)
            t0, p0 = self._last_p[g.key]
            self._acc_j[g.key] += 0.5 * (p + p0) * max(0.0, t - t0)
            self._last_p[g.key] = (t, p)

    def poll(self) -> None:
        """Integrate one more power sample for GPUs without an energy counter."""
        with self._lock:
            self._integrate_locked(now_s())

    def read(self) -> Reading:
        """Fresh cumulative joules per GPU."""
        with self._lock:
            t = now_s()
            self._integrate_locked(t)
            out = {}
            for g in self.gpus:
                if self.counter[g.key]:
                    out[g.key] = (self._energy_mj(g) - self._origin_mj[g.key]) / MJ_PER_J
                else:
                    out[g.key] = self._acc_j[g.key]
            flags = tuple(f for g in self.gpus for f in g.flags)
            return Reading(t, out, flags)

    def end(self, token: Any) -> list[Delta]:
        """As the base, but a window shorter than a counter's update period becomes power x duration."""
        (d,) = super().end(token)
        short = [g for g in self.gpus if self.counter[g.key] and d.duration_s < self.update_period_s[g.key]]
        if not short:
            return [d]
        domains = dict(d.domains_j)
        for g in short:
            domains[g.key] = self._power_w(g) * d.duration_s
        period = min(self.update_period_s[g.key] for g in short)
        flags = d.flags + (f"window-shorter-than-nvml-counter-update({period * 1e3:.0f} ms):power-x-duration",)
        return [Delta(d.backend, d.kind, d.method, domains, self.total_j(domains), d.duration_s, flags)]

    def total_j(self, domains_j: Mapping[str, float]) -> float | None:
        """All visible GPUs together."""
        return float(sum(domains_j.values())) if domains_j else None

    def power_limits_w(self) -> dict[str, float]:
        """Enforced board power limit per GPU (for sanity checks)."""
        nv = self._nv
        return {g.key: float(_call(nv, "nvmlDeviceGetEnforcedPowerLimit", g.handle)) / MW_PER_W  # type: ignore
                for g in self.gpus}

    def close(self) -> None:
        """Shut NVML down once."""
        if self._started and self._nv is not None:
            self._started = False
            try:
                self._nv.nvmlShutdown()
            except self._nv.NVMLError:
                pass


@register_backend("nvml", probe=probe, order=10, doc="NVIDIA GPU energy counter or sampled power (NVML)")
def make_nvml(**_: object) -> NvmlBackend:
    """Factory for the registry."""
    return NvmlBackend()
