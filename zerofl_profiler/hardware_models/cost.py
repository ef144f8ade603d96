"""The cost model: roofline time, energy and radio cost of counted work, vectorized with numpy.

Equations (also in docs/devices.md; tests check each by hand). For a device unit with FP32 peak
``P`` (FLOP/s), memory bandwidth ``BW`` (byte/s), efficiency ``eta[c]`` for op class ``c``,
per-kernel overhead ``o`` (s) and sparse efficiency ``e`` in [0, 1]:

* Roofline time of one row r (a layer in one phase) with dense FLOPs ``F_r``, bytes ``B_r`` and
  ``k_r`` kernels::

      roof_r  = max(F_r / (P * eta[c_r]), B_r / BW)
      t_dense_r  = roof_r + k_r * o
      t_sparse_r = roof_r * (1 - e * (1 - d_r)) + k_r * o          d_r = F_sparse_r / F_dense_r

  i.e. t_sparse = t_dense x (1 - e x (1 - d)) applied to the roofline term; the per-kernel
  overhead does not shrink with sparsity. e = 0 (dense kernels) gives no gain, e = 1 turns the
  whole FLOP reduction into time. Sparse steps also pay the top-k mask op (op class ``topk``).
* Energy, one declared mode per device::

      active_power:  E = P_idle * t + (P_active - P_idle) * t_busy      (t_busy = t for compute)
      per_op:        E = P_idle * t + e_flop * FLOPs + e_byte * bytes

* Communication over a network with rates ``R_up``, ``R_down`` (byte/s), radio energy per bit
  ``eps_up``, ``eps_down``, base radio power ``P_base`` while transferring, tail ``(T_tail,
  P_tail)`` and promotion ``(T_pro, P_pro)``; the download comes first, then compute (``t_c``),
  then the upload::

      t_down = T_pro + bytes_down / R_down
      t_up   = T_pro * [t_c >= T_tail] + bytes_up / R_up    (no second promotion if the radio
                                                            is still in its tail)
      E_radio = 8 * (eps_down * bytes_down + eps_up * bytes_up)
              + P_base * (bytes_down / R_down + bytes_up / R_up)
              + P_pro * T_pro * (1 + [t_c >= T_tail])
              + P_tail * (min(t_c, T_tail) + T_tail)
      E_comm = E_radio + P_idle * (t_down + t_up)        (the device is awake while it transfers)

* Client-round: t = t_down + t_c + t_up; E = E_compute + E_comm. Round: time of the slowest
  sampled client; energy = sum over clients. Clients that finish early and wait for the
  straggler draw idle power; that is reported separately as ``wait_energy_j`` and NOT included
  in ``energy_j`` (the phone would idle anyway; add it if your question is the fleet's draw).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..vocab import OP_CLASSES
from ..vocab import TRACE_PHASES as PHASES  # the trace FLOP phases the cost model prices
from .spec import DeviceProfile, NetworkSpec

#: Op class used for a phase when no layer breakdown is known.
PHASE_CLASS = {"forward": "gemm", "backward_input": "gemm", "backward_weight": "gemm",
               "elementwise": "elementwise", "optimizer": "optimizer"}
BITS_PER_BYTE = 8


@dataclass(frozen=True)
class DeviceArrays:
    """The numbers of several devices as aligned arrays (one entry per device) for vector math."""

    names: tuple[str, ...]
    peak: np.ndarray
    bw: np.ndarray
    overhead: np.ndarray
    sparse_eff: np.ndarray
    idle_w: np.ndarray
    active_w: np.ndarray
    e_flop: np.ndarray
    e_byte: np.ndarray
    per_op: np.ndarray  # bool: energy_mode == per_op
    eff: np.ndarray  # (D, len(OP_CLASSES))
    ram: np.ndarray

    @staticmethod
    def of(profiles: Sequence[DeviceProfile]) -> "DeviceArrays":
        """Stack device profiles into arrays."""
        def arr(attr: str) -> np.ndarray:
            return np.array([float(getattr(p, attr)) for p in profiles], dtype=np.float64)

        return DeviceArrays(
            names=tuple(p.name for p in profiles), peak=arr("peak_flops"), bw=arr("mem_bandwidth_bytes_per_s"),
            overhead=arr("kernel_overhead_s"), sparse_eff=arr("sparse_efficiency"), idle_w=arr("idle_power_w"),
            active_w=arr("active_power_w"), e_flop=arr("energy_per_flop_j"), e_byte=arr("energy_per_byte_j"),
            per_op=np.array([p.energy_mode == "per_op" for p in profiles], dtype=bool),
            eff=np.array([[p.eff(c) for c in OP_CLASSES] for p in profiles], dtype=np.float64),
            ram=arr("ram_bytes"))


def class_index(op_class: str) -> int:
    """Index of an op class in OP_CLASSES."""
    return OP_CLASSES.index(op_class)


def roofline(flops: np.ndarray, nbytes: np.ndarray, op_class: np.ndarray, dev: DeviceArrays) -> np.ndarray:
    """Roofline time (D, R) of R rows on D devices: max(F / (P * eta[c]), B / BW)."""
    flops = np.asarray(flops, dtype=np.float64)
    nbytes = np.asarray(nbytes, dtype=np.float64)
    eff = dev.eff[:, np.asarray(op_class, dtype=np.int64)]  # (D, R)
    t_compute = flops[None, :] / (dev.peak[:, None] * eff)
    t_memory = nbytes[None, :] / dev.bw[:, None]
    return np.maximum(t_compute, t_memory)


def sparse_factor(density: np.ndarray | float, sparse_eff: np.ndarray | float) -> np.ndarray:
    """Fraction of the dense roofline time a sparse row takes: 1 - e * (1 - d)."""
    d = np.clip(np.asarray(density, dtype=np.float64), 0.0, 1.0)
    return 1.0 - np.asarray(sparse_eff, dtype=np.float64) * (1.0 - d)


def density_of(f_sparse: np.ndarray, f_dense: np.ndarray) -> np.ndarray:
    """F_sparse / F_dense, with 1 where nothing dense was counted."""
    f_sparse = np.asarray(f_sparse, dtype=np.float64)
    f_dense = np.asarray(f_dense, dtype=np.float64)
    out = np.ones(np.broadcast(f_sparse, f_dense).shape)
    np.divide(f_sparse, f_dense, out=out, where=f_dense > 0)
    return np.clip(out, 0.0, 1.0)


def compute_energy(time_s: np.ndarray, flops: np.ndarray, nbytes: np.ndarray, dev: DeviceArrays) -> np.ndarray:
    """Compute energy (D, N) for busy time (D, N), FLOPs and bytes (N,), per device energy mode."""
    t = np.asarray(time_s, dtype=np.float64)
    # active_power: idle*t + (active - idle)*t = active*t; per_op: idle*t + e_flop*F + e_byte*B
    per_t = np.where(dev.per_op, dev.idle_w, dev.active_w)
    out = per_t[:, None] * t
    if dev.per_op.any():
        e_f = np.where(dev.per_op, dev.e_flop, 0.0)
        e_b = np.where(dev.per_op, dev.e_byte, 0.0)
        out += np.multiply.outer(e_f, np.asarray(flops, dtype=np.float64).ravel()).reshape(out.shape) \
            if np.ndim(flops) == 1 else e_f[:, None] * flops
        out += np.multiply.outer(e_b, np.asarray(nbytes, dtype=np.float64).ravel()).reshape(out.shape) \
            if np.ndim(nbytes) == 1 else e_b[:, None] * nbytes
    return out


@dataclass(frozen=True)
class CommCost:
    """Time and energy parts of the transfers of a client-round (arrays of equal shape)."""

    time_down_s: np.ndarray
    time_up_s: np.ndarray
    energy_j: np.ndarray

    @property
    def time_s(self) -> np.ndarray:
        """Download plus upload time."""
        return self.time_down_s + self.time_up_s


def comm_cost(bytes_down: np.ndarray, bytes_up: np.ndarray, compute_s: np.ndarray,
              net: NetworkSpec | None, idle_w: np.ndarray | float = 0.0) -> CommCost:
    """Radio time and energy (module docstring equations); no network = free, instant transfers."""
    compute_s = np.asarray(compute_s, dtype=np.float64)
    bd = np.asarray(bytes_down, dtype=np.float64)
    bu = np.asarray(bytes_up, dtype=np.float64)
    if net is None:
        z = np.zeros(np.broadcast(bd, bu, compute_s).shape)
        return CommCost(z, z.copy(), z.copy())
    v = net.value
    xfer_down = bd / v("downlink_bytes_per_s")
    xfer_up = bu / v("uplink_bytes_per_s")
    t_pro, t_tail = v("promotion_time_s"), v("tail_time_s")
    # terms that depend only on the bytes are computed at the bytes' (smaller) shape
    e_bytes = (BITS_PER_BYTE * (v("energy_per_bit_down_j") * bd + v("energy_per_bit_up_j") * bu)
               + v("base_power_w") * (xfer_down + xfer_up)
               + v("promotion_power_w") * t_pro + v("tail_power_w") * t_tail)
    second_promo = compute_s >= t_tail
    t_down = np.broadcast_to(t_pro + xfer_down, second_promo.shape)
    t_up = xfer_up + np.where(second_promo, t_pro, 0.0)
    e_radio = e_bytes + np.where(second_promo, v("promotion_power_w") * t_pro, 0.0) \
        + v("tail_power_w") * np.minimum(compute_s, t_tail)
    idle = np.asarray(idle_w, dtype=np.float64)
    e = e_radio + idle * (t_down + t_up) if idle.any() else e_radio
    return CommCost(t_down, t_up, e)


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak training memory of one client: weights, gradients, optimizer state, saved activations."""

    weights_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    activations_bytes: float

    @property
    def total_bytes(self) -> float:
        """Sum of the parts (the peak, as every part is live at the end of backward)."""
        return self.weights_bytes + self.gradients_bytes + self.optimizer_bytes + self.activations_bytes

    def fits(self, ram_bytes: float) -> bool:
        """Whether the peak fits the device RAM."""
        return self.total_bytes <= ram_bytes

    def to_json(self) -> dict[str, float]:
        """JSON-ready dict."""
        return {"weights_bytes": self.weights_bytes, "gradients_bytes": self.gradients_bytes,
                "optimizer_bytes": self.optimizer_bytes, "activations_bytes": self.activations_bytes,
                "total_bytes": self.total_bytes}
