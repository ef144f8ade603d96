"""One sparsified model per process, reused across clients (the global state overwrites it all)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import torch
from torch import nn

from ..config import RunConfig
from ..flops.records import ModelTrace
from .runtime import sparse_config


@dataclass(frozen=True, eq=False)
class Worker:
    """A SWAT model for training/evaluation and a dense twin the FLOP counter reads shapes from."""

    model: nn.Module
    dense_twin: nn.Module
    input_shape: tuple[int, ...]
    num_classes: int
    kernel_note: str | None = None  # which layers run on real sparse kernels and why (None: kernels off)
    _traces: dict[int, ModelTrace] = field(default_factory=dict, repr=False)

    def shape_trace(self, batch_size: int) -> ModelTrace:
        """The FLOP counter's shape pass at this batch size, captured once and re-costed per client."""
        from ..flops import trace_model

        t = self._traces.get(int(batch_size))
        if t is None:
            t = self._traces[int(batch_size)] = trace_model(self.dense_twin, self.input_shape, int(batch_size))
        return t

    @property
    def dense_layers(self) -> list[str]:
        """Layers the SWAT model keeps dense (first conv by default)."""
        return list(getattr(self.model, "dense_layers", []))


_CACHE: dict[tuple, Worker] = {}


def build_dense(cfg: RunConfig, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """The run's model, initialised from the run seed (the round-0 global model)."""
    from ..models import build_model

    torch.manual_seed(cfg.seed)
    return build_model(cfg.model, num_classes, tuple(input_shape))


def host_break_even(cfg: RunConfig) -> tuple[float | None, str | None]:
    """`--sparse-kernels auto`: the host device file's measured break-even density and why; else (None, None)."""
    if cfg.sparse_kernels != "auto":
        return None, None
    from ..hardware_models.catalogue import host_break_even as measured, host_device_source

    src = host_device_source()  # read once per process and host file (every client-round asks)
    if src not in _BREAK_EVEN:
        be = measured()
        _BREAK_EVEN[src] = (be.density, be.reason)
    return _BREAK_EVEN[src]


_BREAK_EVEN: dict[str, tuple[float | None, str]] = {}


def get_worker(cfg: RunConfig, input_shape: tuple[int, ...], num_classes: int) -> Worker:
    """The cached worker for this model/sparsity; building and sparsifying happen once per process."""
    from ..sparse import sparsify
    from ..sparse.sparsify import kernel_summary

    device = run_device(cfg)
    break_even, why = host_break_even(cfg)
    key = (cfg.model, tuple(input_shape), int(num_classes), sparse_config(cfg), device, break_even, why)
    w = _CACHE.get(key)
    if w is None:
        twin = build_dense(cfg, input_shape, num_classes)  # stays on the CPU: the FLOP counter reads its shapes
        # on its device before sparsify: the kernel choice looks at where the weights live (CSR: CPU only)
        model = sparsify(build_dense(cfg, input_shape, num_classes).to(device), sparse_config(cfg),
                         break_even_density=break_even).to(device)
        note = None
        if cfg.sparse_kernels != "off":
            note = f"sparse kernels {cfg.sparse_kernels}: " + (f"{why}; " if why else "") + kernel_summary(model)
        w = Worker(model, twin, tuple(input_shape), int(num_classes), note)
        _CACHE.clear()  # one model at a time keeps memory flat in sweeps
        _CACHE[key] = w
    return w


def run_device(cfg: RunConfig) -> str:
    """The concrete device of a run (its `accelerator`, resolved once per process)."""
    from .accelerator import resolve_accelerator

    spec = cfg.accelerator
    dev = _DEVICES.get(spec)
    if dev is None:
        dev = _DEVICES[spec] = resolve_accelerator(spec)
    return dev


_DEVICES: dict[str, str] = {}


#: A model state as the engines hold it: tensors on the run's device, in state-dict order.
TensorState = dict[str, torch.Tensor]


def as_tensor(value: np.ndarray | torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """A tensor on ``device``: a host numpy array is wrapped without a copy where torch allows it."""
    dev = device if isinstance(device, torch.device) else torch.device(device)
    if isinstance(value, torch.Tensor):
        return value if value.device == dev else value.to(dev)
    arr = np.asarray(value)
    t = torch.from_numpy(arr) if arr.flags.writeable and arr.flags.c_contiguous else torch.tensor(arr)
    return t.to(dev)


def to_device_state(state: Mapping[str, np.ndarray | torch.Tensor], device: str | torch.device) -> TensorState:
    """A state (numpy from a checkpoint or Flower, or tensors) as tensors on ``device``; no copy where already there."""
    dev = torch.device(device)
    return {k: as_tensor(v, dev) for k, v in state.items()}


def to_host(state: Mapping[str, np.ndarray | torch.Tensor]) -> dict[str, np.ndarray]:
    """A state as host numpy arrays: the one crossing for what must be serialised (Flower, checkpoints)."""
    return {k: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v) for k, v in state.items()}


def model_state(model: nn.Module) -> TensorState:
    """A detached copy of the state_dict (params and buffers) on the model's own device."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def state_to_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    """A detached numpy copy of the state_dict (params and buffers), for host-side code and tests."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def load_numpy_state(model: nn.Module, state: Mapping[str, np.ndarray | torch.Tensor]) -> None:
    """Overwrite every parameter and buffer from a state of numpy arrays or tensors (strict: same keys)."""
    model.load_state_dict({k: v if isinstance(v, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(v))
                           for k, v in state.items()}, strict=True)


def state_nbytes(state: Mapping[str, np.ndarray | torch.Tensor]) -> int:
    """Bytes of a dense model transfer (what a client downloads)."""
    return int(sum(v.nbytes if isinstance(v, torch.Tensor) else np.asarray(v).nbytes for v in state.values()))
