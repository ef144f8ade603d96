"""One client's local round, pure and engine-agnostic: the in-process and Flower engines both call it.

Input: the dense global state, the client's data, the run config, round and id, and a meter.
Output: a ClientResult with the encoded upload, the ClientRoundRecord and the train loss. Nothing
here writes files or knows about the engine's loop.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from ..power import NullMeter
from ..traces.schema import FLOP_BLOCK_KEYS, ClientRoundRecord, EnergyBlock
from .config import RunConfig
from .peak_memory import peak_rss
from .data import ArrayDataset
from .worker import Worker, get_worker, load_numpy_state, state_nbytes, state_to_numpy

#: A client's data is an ArrayDataset (its share of the training split).
ClientData = ArrayDataset


@dataclass(frozen=True, eq=False)
class ClientResult:
    """What a client sends back: the upload (None if it failed), its trace record, its loss."""

    upload: Any | None
    record: ClientRoundRecord
    train_loss: float | None

    @property
    def ok(self) -> bool:
        """True when the client finished and produced an upload."""
        return self.record.status == "ok" and self.upload is not None


class ClientDiverged(Exception):
    """The local loss became NaN/inf: the client's update is unusable."""


def client_seed(seed: int, rnd: int, client_id: int) -> int:
    """Torch seed of one client-round, so a resumed round redoes exactly the same work."""
    return int(np.random.default_rng([int(seed), int(rnd), int(client_id), 0xC1]).integers(2**62))


def gemm_keys(worker: Worker) -> list[str]:
    """State keys of conv/linear weights: the only tensors top-k uploads may sparsify."""
    from ..flops import sparsifiable_layers

    return [f"{name}.weight" for name in sparsifiable_layers(worker.dense_twin)]


def _local_training(worker: Worker, client: ClientData, cfg: RunConfig, lr: float,
                    rng: np.random.Generator) -> tuple[list[int], float]:
    """SGD over the client's batches for the configured epochs; returns batch sizes and mean loss."""
    model = worker.model
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sizes: list[int] = []
    loss_sum = 0.0
    for _ in range(cfg.local_epochs):
        for xb, yb in client.batches(cfg.batch_size, rng):
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(torch.from_numpy(xb)), torch.from_numpy(yb))
            value = float(loss.detach())
            if not math.isfinite(value):
                raise ClientDiverged(f"loss became {value} at local step {len(sizes) + 1}")
            loss.backward()
            opt.step()
            sizes.append(len(yb))
            loss_sum += value * len(yb)
    return sizes, loss_sum / max(1, sum(sizes))


def count_round_flops(worker: Worker, cfg: RunConfig, batch_sizes: list[int],
                      densities: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, int]]:
    """FLOPs of the batches actually run: one count per distinct batch size, scaled by its steps."""
    from ..flops import count_from_trace

    total = {kind: {k: 0 for k in FLOP_BLOCK_KEYS} for kind in ("dense", "sparse")}
    for bs, n in sorted(Counter(batch_sizes).items()):
        rep = count_from_trace(worker.shape_trace(bs), densities=dict(densities),
                               weight_sparsity=cfg.weight_sparsity, activation_sparsity=cfg.act_sparsity,
                               dense_layers=worker.dense_layers, num_classes=worker.num_classes,
                               optimizer=cfg.optimizer_name)
        per_step = rep.trace_flops()
        for kind in total:
            for k, v in per_step[kind].items():  # FLOP_BLOCK_KEYS (the counter adds topk)
                total[kind][k] = total[kind].get(k, 0) + int(v) * n
    return total


def train_client(global_state: Mapping[str, np.ndarray], client: ClientData, cfg: RunConfig, round: int,
                 client_id: int, meter: Any = None, *, lr: float | None = None, run_id: str = "") -> ClientResult:
    """Train one client for one round from the global state; never raises for a diverged client."""
    from ..sparse import collect_densities, reset_density_stats, reset_masks
    from .uploads import make_upload

    meter = meter if meter is not None else NullMeter()
    lr = cfg.lr_for_round(round) if lr is None else float(lr)
    worker = get_worker(cfg, client.input_shape, client.num_classes)
    load_numpy_state(worker.model, global_state)
    reset_masks(worker.model)
    reset_density_stats(worker.model)
    torch.manual_seed(client_seed(cfg.seed, round, client_id))
    rng = np.random.default_rng([cfg.seed, round, client_id, 0xDA7A])

    sizes: list[int] = []
    loss: float | None = None
    error: str | None = None
    w0, c0 = time.perf_counter(), time.process_time()
    with peak_rss() as mem, meter.window(f"round-{round}/client-{client_id}") as win:
        try:
            sizes, loss = _local_training(worker, client, cfg, lr, rng)
        except ClientDiverged as exc:
            error = f"NaN/inf loss: {exc}"
        except (RuntimeError, ValueError, FloatingPointError) as exc:
            error = f"{type(exc).__name__}: {exc}"
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0

    densities = collect_densities(worker.model)
    flops = count_round_flops(worker, cfg, sizes, densities)
    upload = None
    extra: dict[str, Any] = {}
    bytes_up = 0
    bytes_up_dense = state_nbytes(global_state)
    if error is None:
        e0 = time.perf_counter()
        upload = make_upload(cfg.upload, state_to_numpy(worker.model), global_state, cfg.weight_sparsity,
                             cfg.mask_ratio, cfg.encoding, gemm_keys(worker))
        extra["encode_time_s"] = time.perf_counter() - e0
        bytes_up, bytes_up_dense = int(upload.nbytes), int(upload.nbytes_dense)
    record = ClientRoundRecord(
        run_id=run_id, round=int(round), client_id=int(client_id), samples=len(client), steps=len(sizes),
        batch_sizes=sizes, densities=densities, flops=flops, bytes_up=bytes_up, bytes_up_dense=bytes_up_dense,
        bytes_down=state_nbytes(global_state), wall_time_s=wall, cpu_time_s=cpu,
        peak_mem_bytes=mem.peak_bytes, mem_source=mem.source, energy=win.result if isinstance(win.result, EnergyBlock) else EnergyBlock.none(),
        energy_estimate=win.estimate, status="ok" if error is None else "failed", error=error,
        train_loss=loss, lr=lr, timestamp=time.time(), extra=extra)
    return ClientResult(upload, record, loss)
