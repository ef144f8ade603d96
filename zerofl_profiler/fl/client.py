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

from ..config import RunConfig
from ..power import Meter, NullMeter
from ..traces.schema import FLOP_BLOCK_KEYS, ClientRoundRecord, EnergyBlock
from .augment import augment_generator
from .runtime import augmentation
from .data import ArrayDataset
from .accelerator import WindowReading, device_batches, device_ops
from .worker import Worker, get_worker, load_numpy_state, run_device, state_nbytes, to_device_state

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
                    rng: np.random.Generator, aug_gen: torch.Generator, device: str = "cpu") -> tuple[list[int], float]:
    """SGD over the client's batches for the configured epochs; returns batch sizes and mean loss.

    On an accelerator the loss is checked for NaN/inf once per epoch, on the device, so the loop
    never waits for the device between steps; a divergence still stops the client.
    """
    model = worker.model
    augment = augmentation(cfg)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sizes: list[int] = []
    on_host = device == "cpu"
    loss_sum: float | torch.Tensor = 0.0
    for epoch in range(cfg.local_epochs):
        for xb, yb in device_batches(client, cfg.batch_size, rng, device):
            opt.zero_grad(set_to_none=True)
            if augment is not None:
                xb = augment(xb, aug_gen)
            loss = F.cross_entropy(model(xb), yb)
            n = int(yb.shape[0])
            if on_host:
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise ClientDiverged(f"loss became {value} at local step {len(sizes) + 1}")
                loss_sum += value * n
            else:
                loss_sum = loss_sum + loss.detach() * n
            loss.backward()
            opt.step()
            sizes.append(n)
        if not on_host:
            value = float(loss_sum)  # one device sync per epoch
            if not math.isfinite(value):
                raise ClientDiverged(f"loss became {value} in local epoch {epoch + 1}")
    return sizes, float(loss_sum) / max(1, sum(sizes))


def out_of_memory_message(exc: BaseException, cfg: RunConfig, device: str) -> str:
    """One line naming the batch size and the device memory, so the user knows what to shrink."""
    total = None
    if device.startswith("cuda"):
        total = torch.cuda.get_device_properties(torch.device(device)).total_memory
        torch.cuda.empty_cache()
    mem = f"{total / 2**30:.3g} GiB" if total else "unknown memory"
    return f"out of device memory on {device} ({mem}) at batch size {cfg.batch_size}: {str(exc).splitlines()[0]}"


def count_round_flops(worker: Worker, cfg: RunConfig, batch_sizes: list[int],
                      densities: Mapping[str, Mapping[str, float]],
                      mask_work: Mapping[str, Any] | None = None) -> dict[str, dict[str, int]]:
    """FLOPs of the batches actually run: one count per distinct batch size, scaled by its steps.

    ``mask_work`` (``sparse.collect_mask_work``) replaces the per-step top-k estimate by the
    selections the layers really ran, so steps that reused a frozen mask add no top-k work.
    """
    from ..flops import count_from_trace
    from ..flops.topk import selections_count

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
    if mask_work is not None:
        total["sparse"]["topk"] = sum(selections_count(w.weight, w.weight_density)
                                      + selections_count(w.activation, w.activation_density)
                                      for w in mask_work.values())
    return total


def train_client(global_state: Mapping[str, np.ndarray | torch.Tensor], client: ClientData, cfg: RunConfig, round: int,
                 client_id: int, meter: Meter | None = None, *, lr: float | None = None, run_id: str = "") -> ClientResult:
    """Train one client for one round from the global state; never raises for a diverged client."""
    from ..sparse import collect_densities, collect_mask_work, reset_density_stats, reset_masks
    from .uploads import make_upload

    meter = meter if meter is not None else NullMeter()
    lr = cfg.lr_for_round(round) if lr is None else float(lr)
    worker = get_worker(cfg, client.input_shape, client.num_classes)
    device = run_device(cfg)
    global_state = to_device_state(global_state, device)  # no copy when the engine holds it there already
    load_numpy_state(worker.model, global_state)
    seed = client_seed(cfg.seed, round, client_id)
    reset_masks(worker.model)
    reset_density_stats(worker.model)
    torch.manual_seed(seed)
    rng = np.random.default_rng([cfg.seed, round, client_id, 0xDA7A])

    sizes: list[int] = []
    loss: float | None = None
    error: str | None = None
    ops = device_ops(device)
    dev = WindowReading()
    ops.synchronize()  # the download (state load) is not part of the training window
    w0, c0 = time.perf_counter(), time.process_time()
    with meter.window(f"round-{round}/client-{client_id}") as win:
        with ops.window() as dev:  # synchronised at both edges: wall time and energy cover the device work
            try:
                sizes, loss = _local_training(worker, client, cfg, lr, rng,
                                              augment_generator(cfg.seed, round, client_id), device)
            except ClientDiverged as exc:
                error = f"NaN/inf loss: {exc}"
            except torch.cuda.OutOfMemoryError as exc:
                error = out_of_memory_message(exc, cfg, device)
            except (RuntimeError, ValueError, FloatingPointError) as exc:
                error = f"{type(exc).__name__}: {exc}"
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0

    densities = collect_densities(worker.model)
    flops = count_round_flops(worker, cfg, sizes, densities, collect_mask_work(worker.model))
    upload = None
    extra: dict[str, Any] = {}
    bytes_up = 0
    bytes_up_dense = state_nbytes(global_state)
    if error is None:
        e0 = time.perf_counter()
        upload = make_upload(cfg.upload, worker.model.state_dict(), global_state, cfg.weight_sparsity,
                             cfg.mask_ratio, cfg.encoding, gemm_keys(worker))  # on the device; shares no memory
        ops.synchronize()
        extra["encode_time_s"] = time.perf_counter() - e0
        bytes_up, bytes_up_dense = int(upload.nbytes), int(upload.nbytes_dense)
    record = ClientRoundRecord(
        run_id=run_id, round=int(round), client_id=int(client_id), samples=len(client), steps=len(sizes),
        batch_sizes=sizes, densities=densities, flops=flops, bytes_up=bytes_up, bytes_up_dense=bytes_up_dense,
        bytes_down=state_nbytes(global_state), wall_time_s=wall, cpu_time_s=cpu,
        accelerator_time_s=dev.accelerator_time_s, peak_mem_bytes=dev.peak_mem_bytes, mem_source=dev.mem_source,
        energy=win.result if isinstance(win.result, EnergyBlock) else EnergyBlock.none(),
        energy_estimate=win.estimate, status="ok" if error is None else "failed", error=error,
        train_loss=loss, lr=lr, timestamp=time.time(), extra=extra)
    return ClientResult(upload, record, loss)
