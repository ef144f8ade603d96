"""Where training runs (CPU, a CUDA GPU, Apple MPS), and how time and memory are read there.

A CUDA device runs asynchronously: a window that closes while kernels are still queued measures
the launch, not the work. Every client-round and aggregation window therefore synchronises the
device at both edges, times the device work with CUDA events (`accelerator_time_s`), and reads
the peak allocated device memory of the window. On the CPU the same calls are cheap no-ops, and
the peak resident memory of the process over the window is read from /proc (Linux).

One `DeviceOps` per device type, chosen from a registry; nothing here writes files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ..errors import BadInputError
from ..power.memory import read_rss_peak, reset_rss_peak
from ..config import ACCELERATOR_RE

MEM_SOURCES = ("cuda", "rss", "none")


def check_accelerator_spec(spec: str) -> str:
    """Validate the spelling of --accelerator (auto|cpu|cuda|cuda:N|mps) without touching a device."""
    s = str(spec).strip().lower()
    if not ACCELERATOR_RE.match(s):
        raise BadInputError(f"--accelerator must be auto, cpu, cuda, cuda:N or mps, got {spec!r}")
    return s


def mps_available() -> bool:
    """True where torch has a usable Apple MPS backend."""
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_accelerator(spec: str) -> str:
    """The concrete device a run trains on: auto = the first CUDA device, else MPS, else the CPU."""
    s = check_accelerator_spec(spec)
    if s == "auto":
        if torch.cuda.is_available() and torch.cuda.device_count() > 0:
            return "cuda:0"
        return "mps" if mps_available() else "cpu"
    if s == "cpu":
        return "cpu"
    if s == "mps":
        if not mps_available():
            raise BadInputError("--accelerator mps: this torch build or machine has no usable MPS backend")
        return "mps"
    if not torch.cuda.is_available():
        raise BadInputError(f"--accelerator {s}: CUDA is not available (torch {torch.__version__}, "
                            f"CUDA build: {torch.version.cuda or 'no'})")
    index = int(s.split(":")[1]) if ":" in s else 0
    count = torch.cuda.device_count()
    if index >= count:
        raise BadInputError(f"--accelerator {s}: no such CUDA device (this machine has {count}: "
                            f"{', '.join(f'cuda:{i}' for i in range(count))})")
    return f"cuda:{index}"


def check_client_gpus(share: float | None) -> float | None:
    """A Ray client actor's GPU share must be in (0, 1]."""
    if share is None:
        return None
    try:
        v = float(share)
    except (TypeError, ValueError):
        raise BadInputError(f"--client-gpus must be a number in (0, 1], got {share!r}") from None
    if not 0.0 < v <= 1.0:
        raise BadInputError(f"--client-gpus must be in (0, 1], got {share!r}")
    return v


@dataclass(frozen=True)
class AcceleratorInfo:
    """What config.toml records about the device a run trained on (TF32 changes speed and results)."""

    device: str
    name: str
    memory_bytes: int | None = None
    compute_capability: str | None = None
    driver_version: str | None = None
    cuda_version: str | None = None
    cudnn_version: int | None = None
    matmul_allow_tf32: bool | None = None
    cudnn_allow_tf32: bool | None = None
    float32_matmul_precision: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """TOML-ready: None fields are left out (TOML has no null)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def accelerator_info(device: str) -> AcceleratorInfo:
    """Name, memory, driver/CUDA versions, capability and precision settings of `device`."""
    prec = torch.get_float32_matmul_precision()
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        return AcceleratorInfo(
            device=device, name=str(props.name), memory_bytes=int(props.total_memory),
            compute_capability=f"{props.major}.{props.minor}", driver_version=_nvidia_driver(),
            cuda_version=torch.version.cuda, cudnn_version=torch.backends.cudnn.version(),
            matmul_allow_tf32=bool(torch.backends.cuda.matmul.allow_tf32),
            cudnn_allow_tf32=bool(torch.backends.cudnn.allow_tf32), float32_matmul_precision=prec)
    if device == "mps":
        return AcceleratorInfo(device="mps", name="Apple MPS", float32_matmul_precision=prec)
    return AcceleratorInfo(device="cpu", name="cpu", float32_matmul_precision=prec)


def _nvidia_driver() -> str | None:
    """The NVIDIA driver version through NVML, when nvidia-ml-py and a driver are present."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            v = pynvml.nvmlSystemGetDriverVersion()
        finally:
            pynvml.nvmlShutdown()
        return v.decode() if isinstance(v, bytes) else str(v)
    except Exception:  # noqa: BLE001 - any vendor failure just leaves the field out
        return None


@dataclass
class WindowReading:
    """What one window measured on the device: device time, peak memory and where it came from."""

    accelerator_time_s: float | None = None
    peak_mem_bytes: int | None = None
    mem_source: str = "none"


# ---------------------------------------------------------------------------------------- device ops
class DeviceOps:
    """CPU behaviour: nothing to synchronise, no device clock, peak RSS for memory."""

    def __init__(self, device: str) -> None:
        self.device = device

    def synchronize(self) -> None:
        """Wait until the device has finished every queued kernel (the CPU never queues)."""

    @contextlib.contextmanager
    def window(self) -> Iterator[WindowReading]:
        """Synchronise at both edges and fill a WindowReading for the work inside."""
        reading = WindowReading()
        ok = reset_rss_peak()
        self.synchronize()
        try:
            yield reading
        finally:
            self.synchronize()
            peak = read_rss_peak() if ok else None
            if peak is not None:
                reading.peak_mem_bytes, reading.mem_source = peak, "rss"


class CudaOps(DeviceOps):
    """CUDA: synchronise, time with events, peak allocated memory of the window."""

    def synchronize(self) -> None:
        torch.cuda.synchronize(torch.device(self.device))

    @contextlib.contextmanager
    def window(self) -> Iterator[WindowReading]:
        reading = WindowReading()
        dev = torch.device(self.device)
        torch.cuda.reset_peak_memory_stats(dev)
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        self.synchronize()
        start.record()
        try:
            yield reading
        finally:
            stop.record()
            self.synchronize()
            reading.accelerator_time_s = float(start.elapsed_time(stop)) / 1e3
            reading.peak_mem_bytes, reading.mem_source = int(torch.cuda.max_memory_allocated(dev)), "cuda"


class MpsOps(DeviceOps):
    """Apple MPS: synchronise; its allocator has no per-window peak, so memory is not measured."""

    def synchronize(self) -> None:
        torch.mps.synchronize()

    @contextlib.contextmanager
    def window(self) -> Iterator[WindowReading]:
        reading = WindowReading()
        self.synchronize()
        try:
            yield reading
        finally:
            self.synchronize()


#: device type -> its operations (one entry per backend; no if-chains at call sites).
DEVICE_OPS: dict[str, Callable[[str], DeviceOps]] = {"cpu": DeviceOps, "cuda": CudaOps, "mps": MpsOps}


def device_ops(device: str) -> DeviceOps:
    """The operations object of a resolved device string."""
    return DEVICE_OPS[torch.device(device).type](device)


# ---------------------------------------------------------------------------------------- data
@dataclass
class DeviceData:
    """Clients' tensors kept on the device while they fit in a quarter of its free memory."""

    device: str
    budget_bytes: int
    used_bytes: int = 0
    _cache: dict[int, tuple[Any, torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    def tensors(self, data: Any) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(x, y, resident): device copies when they fit the budget, else pinned host tensors."""
        hit = self._cache.get(id(data))
        if hit is not None and hit[0] is data:
            return hit[1], hit[2], True
        x, y = torch.from_numpy(data.x), torch.from_numpy(data.y)
        need = x.numel() * x.element_size() + y.numel() * y.element_size()
        if self.used_bytes + need <= self.budget_bytes:
            xd, yd = x.to(self.device), y.to(self.device)
            self._cache[id(data)] = (data, xd, yd)
            self.used_bytes += need
            return xd, yd, True
        return x, y, False


_DATA: dict[str, DeviceData] = {}


def device_data(device: str) -> DeviceData:
    """The per-process data cache of a CUDA/MPS device (budget: a quarter of its free memory)."""
    dd = _DATA.get(device)
    if dd is None:
        if device.startswith("cuda"):
            free, _total = torch.cuda.mem_get_info(torch.device(device))
        else:
            free = 0  # MPS shares host memory; batches are copied per step
        dd = _DATA[device] = DeviceData(device, int(free) // 4)
    return dd


def device_batches(data: Any, batch_size: int, rng: Any, device: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The client's mini-batches as tensors on `device`, in the same seeded order as on the CPU."""
    if device == "cpu":
        for xb, yb in data.batches(batch_size, rng):
            yield torch.from_numpy(xb), torch.from_numpy(yb)
        return
    if batch_size < 1:
        raise BadInputError(f"batch size must be >= 1, got {batch_size}")
    import numpy as np

    order = rng.permutation(len(data)) if rng is not None else np.arange(len(data))
    x, y, resident = device_data(device).tensors(data)
    idx_all = torch.from_numpy(order)
    if resident:
        idx_all = idx_all.to(device)
    for i in range(0, len(data), batch_size):
        idx = idx_all[i:i + batch_size]
        if resident:
            yield x.index_select(0, idx), y.index_select(0, idx)
        else:
            yield (x.index_select(0, idx).pin_memory().to(device, non_blocking=True),
                   y.index_select(0, idx).pin_memory().to(device, non_blocking=True))
