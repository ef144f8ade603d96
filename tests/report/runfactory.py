"""Writes small, realistic run directories (what the training engine writes) for report/plot tests.

A 4-GEMM-layer CNN on 8x8x1 digits at batch size 32; FLOPs are closed forms (1 MAC = 2 FLOPs),
sparse counts follow SWAT with per-client measured densities, upload bytes follow CSR
(value + int32 index per kept entry). Everything is written through traces.JsonlWriter, so the
records pass the same validation as the engine's. Loaded by tests via ``load_factory()``.
"""

from __future__ import annotations

import math
from pathlib import Path

import tomli_w

from zerofl_profiler.traces import ClientRoundRecord, EnergyBlock, JsonlWriter, RoundRecord

BATCH = 32
# name, type, in_ch, out_ch, kernel, out_hw (square), first layer?
GEMM = [
    ("conv1", "Conv2d", 1, 16, 3, 8, True),
    ("conv2", "Conv2d", 16, 32, 3, 8, False),
    ("conv3", "Conv2d", 32, 32, 3, 4, False),
    ("fc", "Linear", 512, 10, 1, 1, False),
]
# name, type, channels, elements per sample
BN_ROWS = [("bn1", "BatchNorm2d", 16, 16 * 64), ("bn2", "BatchNorm2d", 32, 32 * 64), ("bn3", "BatchNorm2d", 32, 32 * 16)]


def gemm_params(row: tuple) -> int:
    """Weights of one GEMM layer (bias excluded, as top-k uploads only carry weights)."""
    _, _, cin, cout, k, _, _ = row
    return cin * cout * k * k


def params_total() -> int:
    """All trainable parameters: GEMM weights + biases + BN affine."""
    n = sum(gemm_params(r) + r[3] for r in GEMM)
    return n + sum(2 * c for _, _, c, _ in BN_ROWS)


def macs_per_sample(row: tuple) -> int:
    """Multiply-adds of the forward pass per sample."""
    _, _, cin, cout, k, hw, _ = row
    return cout * hw * hw * cin * k * k


def layer_dense_per_sample(row: tuple) -> dict[str, int]:
    """Dense FLOPs per sample by phase; the first layer computes no input gradient."""
    f = 2 * macs_per_sample(row)
    return {"forward": f, "backward_input": 0 if row[6] else f, "backward_weight": f}


def elementwise_per_sample() -> int:
    """BN (forward 4/elem, backward 6/elem) + ReLU (1/elem) + loss; a fixed documented toy formula."""
    return sum(11 * n for _, _, _, n in BN_ROWS) + 5 * 10


def layers_doc(sparsity: float) -> dict:
    """The `flops --json` document of one step at batch 32 and the configured sparsity."""
    d = 1.0 - sparsity
    layers = []
    for row in GEMM:
        dense = {k: v * BATCH for k, v in layer_dense_per_sample(row).items()}
        if row[6]:
            sparse = dict(dense)
        else:
            sparse = {k: int(round(v * d)) for k, v in dense.items()}
        w = gemm_params(row) * 4
        layers.append({"name": row[0], "type": row[1], "op_class": "gemm", "dense": dense, "sparse": sparse,
                       "bytes": {"weights": w, "weights_csr": int(round(w * d)) * 2}})
    for name, typ, _, n in BN_ROWS:
        dense = {"forward": 4 * n * BATCH, "backward_input": 6 * n * BATCH, "backward_weight": 0}
        layers.append({"name": name, "type": typ, "op_class": "norm", "dense": dense, "sparse": dict(dense),
                       "bytes": {}})
    tot = {"dense": {}, "sparse": {}}
    for kind in ("dense", "sparse"):
        for k in ("forward", "backward_input", "backward_weight"):
            tot[kind][k] = sum(layer[kind][k] for layer in layers)
        tot[kind]["total"] = sum(tot[kind].values())
    return {"model": "cnn", "batch_size": BATCH, "input_shape": [1, 8, 8], "weight_sparsity": sparsity,
            "activation_sparsity": sparsity, "layers": layers, "totals": tot, "uncounted": []}


ACCURACY = {0.0: [0.42, 0.63, 0.74, 0.81, 0.86, 0.89], 0.9: [0.35, 0.55, 0.68, 0.77, 0.82, 0.85],
            0.95: [0.30, 0.49, 0.61, 0.70, 0.76, 0.80]}


def write_run(root: Path, name: str, sparsity: float, *, rounds: int = 6, clients: int = 10, per_round: int = 4,
              upload: str = "topk-weights", mask_ratio: float = 0.0, encoding: str = "csr",
              measured: bool = True, failed: tuple[tuple[int, int], ...] = (), with_layers: bool = True,
              accuracy: list[float] | None = None, estimate: bool = True, gpu: str | None = None) -> Path:
    """Write RUN_DIR with config.toml, trace.jsonl, rounds.jsonl and layers.json; return its path.

    ``gpu`` (a CUDA device name such as "NVIDIA H100 80GB HBM3") writes a run recorded on that GPU:
    the fingerprint names it, and every record carries accelerator_time_s, NVML energy and the
    peak allocated device memory (mem_source cuda).
    """
    run = root / name
    run.mkdir(parents=True)
    upload = "dense" if sparsity == 0.0 else upload
    encoding = "dense" if upload == "dense" else encoding
    cfg = {"run_id": f"id-{name}", "name": name, "model": "cnn", "dataset": "digits", "rounds": rounds,
           "clients": clients, "clients_per_round": per_round, "local_epochs": 1, "batch_size": BATCH,
           "sparsity": sparsity, "upload": upload, "encoding": encoding, "mask_ratio": mask_ratio, "seed": 0,
           "environment": {"torch": "2.13", "python": "3.11",
                           **({"accelerator": {"device": "cuda:0", "name": gpu, "memory_bytes": 85 * 2**30}}
                              if gpu else {})},
           "trace": {"engine": "inprocess", "upload": upload, "encoding": encoding, "model": "cnn"}}
    (run / "config.toml").write_text(tomli_w.dumps(cfg), encoding="utf-8")
    if with_layers:
        import json

        (run / "layers.json").write_text(json.dumps(layers_doc(sparsity)), encoding="utf-8")
    accs = accuracy or ACCURACY.get(sparsity) or ACCURACY[0.0]
    n_params = params_total()
    gemm_w = sum(gemm_params(r) for r in GEMM)
    with JsonlWriter(run / "trace.jsonl", fsync=False) as tw, JsonlWriter(run / "rounds.jsonl", fsync=False) as rw:
        for rnd in range(1, rounds + 1):
            sampled = [(rnd * 3 + i * 7) % clients for i in range(per_round)]
            done, fail = [], []
            round_wall = 0.0
            for cid in sampled:
                samples = 40 + 13 * cid
                steps = math.ceil(samples / BATCH)
                sizes = [BATCH] * (samples // BATCH) + ([samples % BATCH] if samples % BATCH else [])
                dw = 1.0 if sparsity == 0 else (1.0 - sparsity) + 0.002 * (cid % 3)
                dens = {r[0]: {"weight": 1.0 if (r[6] or sparsity == 0) else dw,
                               "activation": 1.0 if (r[6] or sparsity == 0) else dw} for r in GEMM}
                flops = {"dense": {}, "sparse": {}}
                for kind in ("dense", "sparse"):
                    for ph in ("forward", "backward_input", "backward_weight"):
                        flops[kind][ph] = sum(
                            int(round(layer_dense_per_sample(r)[ph] * samples
                                      * (dens[r[0]]["weight" if ph != "backward_weight" else "activation"]
                                         if kind == "sparse" else 1.0)))
                            for r in GEMM)
                    flops[kind]["elementwise"] = elementwise_per_sample() * samples
                    flops[kind]["optimizer"] = 2 * n_params * steps
                    flops[kind]["total"] = sum(flops[kind].values())
                    flops[kind]["topk"] = 0
                dense_up = n_params * 4
                if upload == "dense":
                    up = dense_up
                else:
                    kept = min(1.0, 1.0 - sparsity + mask_ratio)
                    up = int(round(gemm_w * kept)) * 8 + (n_params - gemm_w) * 4
                wall = 0.004 * steps * (0.35 + 0.65 * (1 - sparsity)) + 0.01
                status = "failed" if (rnd, cid) in failed else "ok"
                energy = (EnergyBlock(source="rapl", method="counter", total_j=round(wall * 15.0, 6),
                                      domains_j={"package-0": round(wall * 15.0, 6)}, duration_s=wall)
                          if measured else EnergyBlock.none({"rapl": "no /sys/class/powercap", "nvml": "no GPU"}))
                device_fields = {}
                if gpu:
                    energy = EnergyBlock(source="nvml", method="counter", total_j=round(wall * 120.0, 6),
                                         domains_j={"gpu0": round(wall * 120.0, 6)}, duration_s=wall)
                    device_fields = {"accelerator_time_s": round(wall * 0.8, 6),
                                     "peak_mem_bytes": 200 * 2**20 + 4096 * samples, "mem_source": "cuda"}
                est = EnergyBlock(source="estimate", method="cpu-time-x-power", total_j=round(wall * 0.9 * 10.0, 6),
                                  duration_s=wall) if estimate else None
                rec = ClientRoundRecord(
                    run_id=cfg["run_id"], round=rnd, client_id=cid, samples=samples, steps=steps,
                    batch_sizes=sizes, densities=dens, flops=flops, bytes_up=up if status == "ok" else 0,
                    bytes_up_dense=dense_up, bytes_down=n_params * 4, wall_time_s=wall, cpu_time_s=wall * 0.9,
                    energy=energy, energy_estimate=est, status=status,
                    error="NaN loss" if status == "failed" else None,
                    train_loss=1.0 / rnd, **device_fields)
                tw.write(rec)
                (fail if status == "failed" else done).append(cid)
                round_wall += wall
            rw.write(RoundRecord(run_id=cfg["run_id"], round=rnd, sampled_clients=sampled, completed_clients=done,
                                 failed_clients=fail, aggregation_time_s=0.002, round_wall_time_s=round_wall + 0.002,
                                 test_accuracy=accs[rnd - 1], test_loss=1.5 - accs[rnd - 1]))
    return run


def write_sweep(root: Path, measured: bool = True) -> list[Path]:
    """Dense vs 90% vs 95% sparse, the side-by-side the issue asks for."""
    return [write_run(root, "dense", 0.0, measured=measured),
            write_run(root, "sparse90", 0.9, measured=measured),
            write_run(root, "sparse95", 0.95, mask_ratio=0.1, measured=measured)]
