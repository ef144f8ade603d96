"""Pricing: roofline time, sparse scaling, top-k, energy and radio cost of counted work (numpy).

Equations (docs/devices.md; tests check each by hand). For a device unit with peak ``P_c`` (FLOP/s)
for op class ``c`` (the peak of the precision ``c`` runs in), memory bandwidth ``BW`` (byte/s),
efficiency ``eta[c]``, saturating-curve constant ``h`` (FLOPs; 0 = flat), per-kernel overhead
``o`` (s) and sparse efficiency ``e(d)`` in [0, 1] (a scalar, or a curve over density):

* Roofline time of one row r (a layer in one phase) with dense FLOPs ``F_r``, bytes ``B_r`` (the
  counter's FP32 bytes times ``s_c``, the element size of the class's precision over 4) and
  ``k_r`` kernels; the achieved efficiency is ``eta[c] * F / (F + h)``::

      roof_r  = max((F_r + h) / (P_c * eta[c]), s_c * B_r / BW)          (F_r = 0: the byte term only)
      t_dense  = sum_r roof_r + X,   t_sparse = sum_r roof_r * f_r + X'       f_r = 1 - e(d_r) * (1 - d_r)
      X = sum_r k_r * o                               (serial dispatch: a CPU runtime)
      X = max(0, sum_r k_r * o - sum_r roof_r)        (async dispatch, X' at the sparse roofline)

  Async (CUDA streams): the host queues the step's kernels while the device runs earlier ones, so
  a step takes the longer of its dispatch and its device time (host-bound at small batches,
  device-bound at large ones). ``k_r`` is one per row with work, or, on a unit whose
  ``dispatch_unit`` is ``op``, the aten ops eager PyTorch dispatches for the row (the counter's
  ``launches``; one per row where a document has none). ``d_r = F_sparse_r / F_dense_r``. The
  per-kernel overhead does not shrink with sparsity. Sparse steps also pay the top-k mask rows (op classes ``topk``/``topk_kept``).
* Utilisation of a row ``u_r = max(F_r / P_c, s_c * B_r / BW) / roof_r`` (achieved FLOP/s or byte/s,
  whichever bound, over the peak); dispatch time ``X`` has utilisation 0.
* Energy, one declared mode per device::

      active_power, flat:     E = P_active * t
      active_power, dynamic:  E = P_idle * t + P_dyn * sum_r u_r * t_r      (time-weighted utilisation)
      per_op:                 E = P_idle * t + e_flop * FLOPs + e_byte * bytes

* Communication over a network with rates ``R_up``, ``R_down`` (byte/s), radio energy per bit
  ``eps_up``, ``eps_down``, base radio power ``P_base`` while transferring, tail ``(T_tail,
  P_tail)`` and promotion ``(T_pro, P_pro)``; the download comes first, then compute (``t_c``),
  then the upload::

      t_down = T_pro + bytes_down / R_down
      t_up   = T_pro * [t_c >= T_tail] + bytes_up / R_up
      E_radio = 8 * (eps_down * bytes_down + eps_up * bytes_up)
              + P_base * (bytes_down / R_down + bytes_up / R_up)
              + P_pro * T_pro * (1 + [t_c >= T_tail])
              + P_tail * (min(t_c, T_tail) + T_tail)
      E_comm = E_radio + P_idle * (t_down + t_up)        (the device is awake while it transfers)

* A client-round is priced batch by batch from the batches it ran (:class:`.workload.ClientRounds`):
  each phase's roofline seconds are summed over its batches and then matched to the record's own
  per-phase FLOPs (a factor of exactly 1 when layers.json and the trace agree); overheads and
  top-k are summed over its batches. t = t_down + t_c + t_up; E = E_compute + E_comm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .gemm_algorithms import executed_fraction
from .records import OP_CLASSES, PHASES, DeviceProfile, NetworkSpec
from .workload import ClientRounds, StepProfile, StepRows, class_index

BITS_PER_BYTE = 8
#: (id of a StepRows' gemm tuple, algorithm) -> (that tuple, executed/counted per row): a step's rows are
#: priced many times (the published-data fit) but their fractions depend only on the shapes.
_FRACTIONS: dict[tuple[int, str], tuple[object, np.ndarray]] = {}


def _fractions(rows: StepRows, algorithm: str) -> np.ndarray:
    key = (id(rows.gemm), algorithm)
    hit = _FRACTIONS.get(key)
    if hit is not None and hit[0] is rows.gemm:
        return hit[1]
    if len(_FRACTIONS) > 4096:
        _FRACTIONS.clear()
    frac = np.array([executed_fraction(algorithm, s, PHASES[p]) for s, p in zip(rows.gemm, rows.row_phase)])
    _FRACTIONS[key] = (rows.gemm, frac)
    return frac


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
    peak_class: np.ndarray | None = None  # (D, len(OP_CLASSES)); None = peak for every class
    byte_scale: np.ndarray | None = None  # (D, len(OP_CLASSES)); None = FP32 bytes for every class
    async_dispatch: np.ndarray | None = None  # (D,) bool; None = serial everywhere
    op_dispatch: np.ndarray | None = None  # (D,) bool: overhead per dispatched aten op; None = per row
    half_work: np.ndarray | None = None  # (D,) saturating-curve constant h; None = flat
    dynamic_w: np.ndarray | None = None  # (D,) dynamic power; NaN where the flat active power applies
    sparse_curves: tuple[tuple[tuple[float, ...], tuple[float, ...]] | None, ...] = ()
    gemm_algorithm: tuple[str, ...] = ()  # per device; () = direct everywhere

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
            ram=arr("ram_bytes"),
            peak_class=np.array([[p.peak(c) for c in OP_CLASSES] for p in profiles], dtype=np.float64),
            byte_scale=np.array([[p.bytes_scale(c) for c in OP_CLASSES] for p in profiles], dtype=np.float64),
            async_dispatch=np.array([p.dispatch == "async" for p in profiles], dtype=bool),
            op_dispatch=np.array([p.dispatch_unit == "op" for p in profiles], dtype=bool),
            half_work=arr("half_work_flops"),
            dynamic_w=np.array([np.nan if p.dynamic_power_w is None else p.dynamic_power_w for p in profiles]),
            sparse_curves=tuple(p.sparse_curve for p in profiles),
            gemm_algorithm=tuple(p.gemm_algorithm for p in profiles))

    def peaks(self, op_class: np.ndarray) -> np.ndarray:
        """Peak (D, R) each row is priced at."""
        if self.peak_class is None:
            return np.broadcast_to(self.peak[:, None], (len(self.names), len(op_class)))
        return self.peak_class[:, op_class]

    def row_bytes(self, nbytes: np.ndarray, op_class: np.ndarray) -> np.ndarray:
        """Bytes (D, R) each row moves: the counter's FP32 bytes times its class's element-size factor."""
        b = np.asarray(nbytes, dtype=np.float64)[None, :]
        return b if self.byte_scale is None else b * self.byte_scale[:, op_class]

    def executed_flops(self, rows: StepRows) -> np.ndarray:
        """FLOPs each device's GEMM algorithm executes for the dense rows: (R,) when every device multiplies
        directly (the counted FLOPs), else (D, R) (gemm_algorithms; the counted FLOPs stay the trace's)."""
        if all(a == "direct" for a in self.gemm_algorithm) or len(rows.gemm) != len(rows.flops_dense):
            return rows.flops_dense
        return np.stack([rows.flops_dense if a == "direct" else rows.flops_dense * _fractions(rows, a)
                         for a in self.gemm_algorithm])

    def dispatch_time(self, kernels: np.ndarray, roof: np.ndarray, launches: np.ndarray | None = None) -> np.ndarray:
        """Dispatch time X (D,) a step adds to the roofline ``roof`` (D, R) of its rows with ``kernels`` (R,).

        A device whose overhead is per aten op (``op_dispatch``) pays it per ``launches`` (R,) instead.
        """
        serial = self.overhead * float(np.asarray(kernels, dtype=np.float64).sum())
        if launches is not None and self.op_dispatch is not None and self.op_dispatch.any():
            serial = np.where(self.op_dispatch, self.overhead * float(np.asarray(launches, dtype=np.float64).sum()),
                              serial)
        if self.async_dispatch is None or not self.async_dispatch.any():
            return serial
        return np.where(self.async_dispatch, np.maximum(serial - roof.sum(axis=1), 0.0), serial)

    def sparse_efficiency(self, density: np.ndarray | float) -> np.ndarray:
        """Sparse efficiency (D, *density.shape): the curve at each density, else the scalar."""
        d = np.clip(np.asarray(density, dtype=np.float64), 0.0, 1.0)
        out = np.empty((len(self.names),) + d.shape)
        for i in range(len(self.names)):
            curve = self.sparse_curves[i] if i < len(self.sparse_curves) else None
            out[i] = self.sparse_eff[i] if curve is None else np.interp(d, curve[0], curve[1])
        return np.clip(out, 0.0, 1.0)


def dense_kernel_notes(profiles: Sequence[DeviceProfile], densities: Sequence[float]) -> list[str]:
    """One note per device whose sparse-efficiency curve is 0 at some of these (< 1) densities.

    There the measured sparse kernel was no faster than dense: the sparse GEMMs are priced at dense
    time (the dense kernel wins), never at a negative saving.
    """
    out = []
    want = sorted({float(d) for d in densities if d < 1.0}, reverse=True)
    for p in profiles:
        if p.sparse_curve is None or not want:
            continue
        lost = [d for d in want if float(np.interp(d, p.sparse_curve[0], p.sparse_curve[1])) <= 0.0]
        if lost:
            out.append(f"{p.name}: at weight density {', '.join(f'{d:g}' for d in lost)} the sparse kernel of its "
                       f"sparse-efficiency curve is no faster than dense: the dense kernel wins there (sparse "
                       f"efficiency 0, the sparse GEMMs save no time; top-k masks still cost)")
    return out


def roofline(flops: np.ndarray, nbytes: np.ndarray, op_class: np.ndarray, dev: DeviceArrays) -> np.ndarray:
    """Roofline time (D, R) of R rows on D devices: max((F + h) / (P_c * eta[c]), s_c * B / BW).

    ``flops`` is (R,) or, per device (DeviceArrays.executed_flops), (D, R)."""
    flops = np.asarray(flops, dtype=np.float64)
    nbytes = np.asarray(nbytes, dtype=np.float64)
    cls = np.asarray(op_class, dtype=np.int64)
    eff = dev.eff[:, cls]  # (D, R)
    work = flops if flops.ndim == 2 else flops[None, :]
    if dev.half_work is not None and dev.half_work.any():
        work = work + dev.half_work[:, None] * (work > 0)
    t_compute = work / (dev.peaks(cls) * eff)
    t_memory = dev.row_bytes(nbytes, cls) / dev.bw[:, None]
    return np.maximum(t_compute, t_memory)


def utilisation(flops: np.ndarray, nbytes: np.ndarray, op_class: np.ndarray, dev: DeviceArrays,
                roof: np.ndarray) -> np.ndarray:
    """Achieved FLOP/s or byte/s, whichever bound, over its peak (D, R); 0 for empty rows."""
    cls = np.asarray(op_class, dtype=np.int64)
    f = np.asarray(flops, dtype=np.float64)
    achieved = np.maximum((f if f.ndim == 2 else f[None, :]) / dev.peaks(cls),
                          dev.row_bytes(nbytes, cls) / dev.bw[:, None])
    out = np.zeros_like(roof)
    np.divide(achieved, roof, out=out, where=roof > 0)
    return out


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


def compute_energy(time_s: np.ndarray, flops: np.ndarray, nbytes: np.ndarray, dev: DeviceArrays,
                   busy_util_s: np.ndarray | None = None) -> np.ndarray:
    """Compute energy (D, N) for compute time (D, N), FLOPs and bytes (N,), per device energy mode.

    ``busy_util_s`` (D, N) is sum_r u_r t_r, used where a device states dynamic power.
    """
    t = np.asarray(time_s, dtype=np.float64)
    per_t = np.where(dev.per_op, dev.idle_w, dev.active_w)
    dyn = dev.dynamic_w if dev.dynamic_w is not None else np.full(len(dev.names), np.nan)
    has_dyn = ~np.isnan(dyn)
    if has_dyn.any():
        per_t = np.where(has_dyn, dev.idle_w, per_t)
    out = per_t[:, None] * t
    if has_dyn.any() and busy_util_s is not None:
        out = out + np.where(has_dyn, dyn, 0.0)[:, None] * busy_util_s
    if dev.per_op.any():
        e_f = np.where(dev.per_op, dev.e_flop, 0.0)
        e_b = np.where(dev.per_op, dev.e_byte, 0.0)
        f, b = np.asarray(flops, dtype=np.float64), np.asarray(nbytes, dtype=np.float64)
        out = out + e_f[:, None] * (f.reshape(1, -1) if f.ndim <= 1 else f) \
            + e_b[:, None] * (b.reshape(1, -1) if b.ndim <= 1 else b)
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
        shape = np.broadcast(bd, bu, compute_s).shape
        return CommCost(np.zeros(shape), np.zeros(shape), np.zeros(shape))  # calloc'd: no pages written
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
class StepPrice:
    """One step at one batch size on D devices: per-phase roofline seconds, overheads, top-k."""

    phase_s: np.ndarray  # (D, P) dense roofline seconds per phase
    phase_util_s: np.ndarray  # (D, P) sum of u_r * roof_r per phase
    sparse_phase_s: np.ndarray  # (D, P) with every row's own density (row-exact pricing)
    sparse_phase_util_s: np.ndarray  # (D, P)
    overhead_s: np.ndarray  # (D,) dispatch time of the dense step beyond its roofline (module docstring X)
    sparse_overhead_s: np.ndarray  # (D,) the same at the sparse rows' roofline
    topk_s: np.ndarray  # (D,) top-k roofline + its kernels x o
    topk_util_s: np.ndarray  # (D,)
    phase_flops: np.ndarray  # (P,) dense FLOPs per phase
    phase_bytes: np.ndarray  # (P,)
    topk_flops: float
    topk_bytes: float


def _phase_sum(values: np.ndarray, row_phase: np.ndarray) -> np.ndarray:
    onehot = np.zeros((len(row_phase), len(PHASES)))
    onehot[np.arange(len(row_phase)), row_phase] = 1.0
    return np.asarray(values, dtype=np.float64) @ onehot


def price_step(rows: StepRows, dev: DeviceArrays) -> StepPrice:
    """Price one step's rows on every device (the roofline, utilisation and top-k terms)."""
    executed = dev.executed_flops(rows)
    roof = roofline(executed, rows.nbytes, rows.row_class, dev)  # (D, R)
    util = utilisation(executed, rows.nbytes, rows.row_class, dev, roof)
    d_row = density_of(rows.flops_sparse, rows.flops_dense)
    factor = 1.0 - dev.sparse_efficiency(d_row) * (1.0 - d_row)[None, :]
    n_dev = len(dev.names)
    if len(rows.topk_flops):
        t_roof = roofline(rows.topk_flops, rows.topk_bytes, rows.topk_class, dev)
        topk = t_roof.sum(axis=1) + dev.dispatch_time(rows.topk_kernels, t_roof)
        topk_u = (utilisation(rows.topk_flops, rows.topk_bytes, rows.topk_class, dev, t_roof) * t_roof).sum(axis=1)
    else:
        topk, topk_u = np.zeros(n_dev), np.zeros(n_dev)
    return StepPrice(
        phase_s=_phase_sum(roof, rows.row_phase), phase_util_s=_phase_sum(util * roof, rows.row_phase),
        sparse_phase_s=_phase_sum(roof * factor, rows.row_phase),
        sparse_phase_util_s=_phase_sum(util * roof * factor, rows.row_phase),
        overhead_s=dev.dispatch_time(rows.kernels, roof, rows.row_launches),
        sparse_overhead_s=dev.dispatch_time(rows.kernels, roof * factor, rows.row_launches), topk_s=topk,
        topk_util_s=topk_u,
        phase_flops=_phase_sum(rows.flops_dense, rows.row_phase), phase_bytes=_phase_sum(rows.nbytes, rows.row_phase),
        topk_flops=float(rows.topk_flops.sum()), topk_bytes=float(rows.topk_bytes.sum()))


def topk_step_time(step: StepProfile, dev: DeviceArrays) -> np.ndarray:
    """Top-k mask time (D,) of one sparse step at the reference batch."""
    return price_step(step.at_batch(step.reference_batch or 1.0), dev).topk_s


@dataclass(frozen=True)
class RecordCosts:
    """Per device (rows) and record (columns): compute and communication, sparse and dense."""

    compute_s: np.ndarray
    comm_s: np.ndarray
    compute_energy_j: np.ndarray
    comm_energy_j: np.ndarray
    dense_compute_s: np.ndarray
    dense_comm_s: np.ndarray
    dense_compute_energy_j: np.ndarray
    dense_comm_energy_j: np.ndarray
    topk_s: np.ndarray

    @property
    def time_s(self) -> np.ndarray:
        """Client-round time: download + compute + upload."""
        return self.compute_s + self.comm_s

    @property
    def energy_j(self) -> np.ndarray:
        """Client-round energy: compute + communication."""
        return self.compute_energy_j + self.comm_energy_j

    @property
    def dense_time_s(self) -> np.ndarray:
        """The same client-round without sparsity."""
        return self.dense_compute_s + self.dense_comm_s

    @property
    def dense_energy_j(self) -> np.ndarray:
        """The same client-round energy without sparsity."""
        return self.dense_compute_energy_j + self.dense_comm_energy_j


def price_client_rounds(step: StepProfile, cols: ClientRounds, dev: DeviceArrays, net: NetworkSpec | None, *,
                        row_exact: bool = False) -> RecordCosts:
    """Price N client-rounds on D devices from the batches each one ran (module docstring).

    ``row_exact``: every row's sparse time uses its own density from the step profile (a what-if
    counted at one sparsity); otherwise the record's measured density per phase is used.
    Vectorized over records and devices: one (D, U * P) @ (U * P, N) product per quantity; the
    utilisation terms are computed only when a device states dynamic power.
    """
    prices = [price_step(step.at_batch(b), dev) for b in cols.batch_sizes]
    n, n_dev = len(cols), len(dev.names)
    fd = np.asarray(cols.fd, dtype=np.float64)
    fs = np.asarray(cols.fs, dtype=np.float64)
    if not prices:  # no batch recorded anywhere: nothing ran
        z = np.zeros((n_dev, n))
        return RecordCosts(z, z, z, z, z, z, z, z, z)
    per_rec = cols.per_record
    counts = cols.counts_matrix()  # (N, U) batches of each size per record
    f_model = per_rec(np.stack([p.phase_flops for p in prices]))  # (N, P)
    corr = np.ones_like(fd)
    np.divide(fd, f_model, out=corr, where=f_model > 0)
    dynamic = dev.dynamic_w is not None and bool((~np.isnan(dev.dynamic_w)).any())

    def acc(weights: np.ndarray, *attrs: str, rows: slice = slice(None)) -> list[np.ndarray]:
        """Per attr: sum_u count_u(n) * sum_p weights[n, p] * price_u.attr[d, p]  ->  (D, N), one matmul."""
        x = (counts[:, :, None] * weights[:, None, :]).reshape(n, -1)  # (N, U * P)
        m = np.concatenate([np.concatenate([getattr(p, a)[rows] for p in prices], axis=1) for a in attrs],
                           axis=0)  # (len(attrs) * D, U * P)
        out = m @ x.T
        k = out.shape[0] // len(attrs)
        return [out[i * k:(i + 1) * k] for i in range(len(attrs))]

    counts_t = np.ascontiguousarray(counts.T)  # (U, N): each size's counts contiguous

    def per_batch(attr: str) -> np.ndarray:
        """sum over a record's batches of a per-device scalar  ->  (D, N)."""
        v = np.stack([getattr(p, attr) for p in prices])  # (U, D)
        out = np.multiply.outer(v[0], counts_t[0])
        for u in range(1, len(prices)):
            out += np.multiply.outer(v[u], counts_t[u])
        return out

    is_sparse = (fs.sum(axis=1) < fd.sum(axis=1)).astype(np.float64)
    rec_bytes = (corr * per_rec(np.stack([p.phase_bytes for p in prices]))).sum(axis=1)
    topk_flops = per_rec(np.array([p.topk_flops for p in prices])) * is_sparse
    topk_bytes = per_rec(np.array([p.topk_bytes for p in prices])) * is_sparse
    overhead = per_batch("overhead_s")
    sparse_overhead = per_batch("sparse_overhead_s")
    topk = per_batch("topk_s") * is_sparse[None, :]
    dense_attrs = ("phase_s", "phase_util_s") if dynamic else ("phase_s",)
    ud = us = None
    if row_exact:
        parts = acc(corr, *dense_attrs, *(("sparse_phase_s", "sparse_phase_util_s") if dynamic
                                          else ("sparse_phase_s",)))
        roof_d, roof_s = parts[0], parts[len(dense_attrs)]
        if dynamic:
            ud, us = parts[1], parts[3]
    else:  # t_sparse = t_dense - e * sum_p t_p (1 - d_p), per record and phase
        dens = density_of(fs, fd)
        parts = acc(corr, *dense_attrs)
        lost = acc(corr * (1.0 - dens), *dense_attrs)
        e_col = dev.sparse_eff[:, None]
        roof_d, roof_s = parts[0], parts[0] - e_col * lost[0]
        if dynamic:
            ud, us = parts[1], parts[1] - e_col * lost[1]
        for d, curve in enumerate(dev.sparse_curves):
            if curve is not None:  # the efficiency depends on each record's density
                w = corr * (1.0 - dev.sparse_efficiency(dens)[d] * (1.0 - dens))
                got = acc(w, *dense_attrs, rows=slice(d, d + 1))
                roof_s[d] = got[0][0]
                if dynamic:
                    us[d] = got[1][0]  # type: ignore[index]
    cd = roof_d + overhead  # (D, N)
    cs = roof_s + sparse_overhead + topk
    if dynamic:
        us = us + per_batch("topk_util_s") * is_sparse[None, :]
    e_dense = compute_energy(cd, fd.sum(axis=1), rec_bytes, dev, ud)
    e_sparse = compute_energy(cs, fs.sum(axis=1) + topk_flops, rec_bytes + topk_bytes, dev, us)
    idle = dev.idle_w[:, None]
    bd = np.asarray(cols.bytes_down, dtype=np.float64)[None, :]
    comm = comm_cost(bd, np.asarray(cols.bytes_up, dtype=np.float64)[None, :], cs, net, idle)
    comm_d = comm_cost(bd, np.asarray(cols.bytes_up_dense, dtype=np.float64)[None, :], cd, net, idle)
    return RecordCosts(cs, comm.time_s, e_sparse, comm.energy_j, cd, comm_d.time_s, e_dense, comm_d.energy_j, topk)


__all__ = ["BITS_PER_BYTE", "CommCost", "DeviceArrays", "RecordCosts", "StepPrice", "class_index", "comm_cost",
           "compute_energy", "dense_kernel_notes", "density_of", "price_client_rounds", "price_step", "roofline", "sparse_factor",
           "topk_step_time", "utilisation"]
