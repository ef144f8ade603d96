"""--accelerator: resolution, bad input before any work, synchronised windows, memory, resume rules.

The CPU path is the real one; CUDA and MPS are exercised through fakes of torch's device queries
(their real runs carry the `gpu` marker and skip without the hardware).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

from zerofl_profiler.errors import BadInputError, ConfigError
from zerofl_profiler.fl import accelerator as acc
from zerofl_profiler.config import RunConfig
from zerofl_profiler.fl.engine import run

ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(clients=4, clients_per_round=2, rounds=1, local_epochs=1, batch_size=32)


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, "-m", "zerofl_profiler", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "cuda:-1", "tpu", ""])
def test_misspelled_accelerator_is_a_config_error(spec):
    with pytest.raises(ConfigError, match="accelerator must be auto, cpu, cuda, cuda:N or mps"):
        RunConfig(accelerator=spec)


@pytest.mark.parametrize("share", [0, -0.5, 1.5])
def test_client_gpu_share_outside_0_1_is_a_config_error(share):
    with pytest.raises(ConfigError, match=r"client_gpus must be in \(0, 1\]"):
        RunConfig(client_gpus=share)


def test_auto_is_the_cpu_without_cuda_or_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(acc, "mps_available", lambda: False)
    assert acc.resolve_accelerator("auto") == "cpu"


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert acc.resolve_accelerator("auto") == "cuda:0"
    assert acc.resolve_accelerator("cuda:1") == "cuda:1"
    with pytest.raises(BadInputError, match=r"no such CUDA device \(this machine has 2: cuda:0, cuda:1\)"):
        acc.resolve_accelerator("cuda:2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert acc.resolve_accelerator("auto") == "mps" == acc.resolve_accelerator("mps")


def test_cuda_or_mps_without_the_hardware_is_one_line_exit_2_and_no_run_dir(tmp_path):
    for spec, msg in (("cuda", "CUDA is not available"), ("cuda:1", "CUDA is not available"),
                      ("mps", "no usable MPS backend")):
        if spec == "mps" and acc.mps_available():
            continue
        out = tmp_path / f"run-{spec.replace(':', '-')}"
        r = _cli(tmp_path, "train", "--out", str(out), "--accelerator", spec, "--quiet")
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 2 and len(lines) == 1 and msg in lines[0], r.stderr
        assert not out.exists()


def test_bad_client_gpu_share_on_the_cli_is_exit_2_before_any_work(tmp_path):
    out = tmp_path / "run"
    r = _cli(tmp_path, "train", "--out", str(out), "--client-gpus", "1.5", "--quiet")
    assert r.returncode == 2 and "client_gpus must be in (0, 1]" in r.stderr
    assert not out.exists()


def test_config_records_the_resolved_device_and_its_fingerprint(tmp_path):
    out = tmp_path / "run"
    run(RunConfig(**SMALL), out, progress=False)
    stored = tomllib.loads((out / "config.toml").read_text())
    assert stored["accelerator"] == "cpu"
    fp = stored["environment"]["accelerator"]
    assert fp["device"] == "cpu" and fp["float32_matmul_precision"] == torch.get_float32_matmul_precision()


def test_a_run_recorded_without_the_key_resumes_on_the_cpu(tmp_path, monkeypatch):
    out = tmp_path / "run"
    run(RunConfig(**{**SMALL, "rounds": 2}), out, progress=False)
    cfg_file = out / "config.toml"
    lines = [ln for ln in cfg_file.read_text().splitlines() if not ln.startswith("accelerator =")]
    cfg_file.write_text("\n".join(lines) + "\n")
    (out / "checkpoint.pt").unlink()  # resume from the start, so a round really runs again
    for name in ("trace.jsonl", "rounds.jsonl"):
        (out / name).write_text("")
    # even with CUDA present, a run recorded before the key continues on the CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    from zerofl_profiler.fl.engine import stored_config

    assert stored_config(out).accelerator == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    s = run(RunConfig(**{**SMALL, "rounds": 2}), out, resume=True, progress=False)
    assert s.rounds_completed == 2


def test_a_run_on_a_missing_gpu_is_refused_on_resume_unless_moved_explicitly(tmp_path):
    out = tmp_path / "run"
    run(RunConfig(**{**SMALL, "rounds": 2}), out, progress=False)
    cfg_file = out / "config.toml"
    cfg_file.write_text(cfg_file.read_text().replace('accelerator = "cpu"', 'accelerator = "cuda:0"'))
    (out / "checkpoint.pt").unlink()  # an unfinished run: the resume has work to place
    for name in ("trace.jsonl", "rounds.jsonl"):
        (out / name).write_text("")
    r = _cli(tmp_path, "train", "--out", str(out), "--resume", "--quiet")
    assert r.returncode == 2 and "CUDA is not available" in r.stderr
    r = _cli(tmp_path, "train", "--out", str(out), "--resume", "--accelerator", "cpu", "--quiet", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["rounds_completed"] == 2


class _Events:
    def __init__(self) -> None:
        self.log: list[str] = []


def test_client_window_is_synchronised_at_both_edges(monkeypatch):
    """The meter's window must open after and close after a device sync, around all training."""
    from zerofl_profiler.fl import client as client_mod
    from zerofl_profiler.fl.data import load_dataset

    ev = _Events()

    class FakeOps(acc.DeviceOps):
        def synchronize(self) -> None:
            ev.log.append("sync")

    class Meter:
        class _W:
            result = None
            estimate = None

            def __enter__(self):
                ev.log.append("meter-open")
                return self

            def __exit__(self, *a):
                ev.log.append("meter-close")

        def window(self, label):
            return self._W()

    real_training = client_mod._local_training

    def training(*a, **k):
        ev.log.append("train")
        return real_training(*a, **k)

    monkeypatch.setitem(acc.DEVICE_OPS, "cpu", FakeOps)
    monkeypatch.setattr(client_mod, "_local_training", training)
    train, _ = load_dataset("digits")
    cfg = RunConfig(**SMALL)
    res = client_mod.train_client(
        {k: v for k, v in __import__("zerofl_profiler.fl.worker", fromlist=["x"]).state_to_numpy(
            __import__("zerofl_profiler.fl.worker", fromlist=["x"]).build_dense(cfg, train.input_shape, 10)).items()},
        train.subset(range(64)), cfg, 1, 0, Meter())
    assert res.ok
    # the upload encoding is timed up to a last sync, outside the training window
    assert ev.log == ["sync", "meter-open", "sync", "train", "sync", "meter-close", "sync"]


def test_cpu_records_measured_peak_rss_and_no_device_time(tmp_path):
    out = tmp_path / "run"
    run(RunConfig(**SMALL), out, progress=False)
    recs = [json.loads(ln) for ln in (out / "trace.jsonl").read_text().splitlines()]
    for r in recs:
        x = r
        assert x.get("accelerator_time_s") is None
        if Path("/proc/self/clear_refs").exists():
            assert x["mem_source"] == "rss" and x["peak_mem_bytes"] > 50 * 2**20  # torch alone is more
        else:
            assert x["mem_source"] == "none" and x["peak_mem_bytes"] is None


def test_rss_peak_follows_a_real_allocation():
    """In a fresh process: a test worker's heap may already hold freed, resident pages a new buffer reuses."""
    if not acc.reset_rss_peak():
        pytest.skip("no /proc/self/clear_refs here")
    code = """
from zerofl_profiler.fl import accelerator as acc
assert acc.reset_rss_peak()
base = acc.read_rss_peak()
buf = bytearray(200 * 2**20)
buf[::4096] = b"x" * len(buf[::4096])  # touch every page
grown = acc.read_rss_peak()
print(base, grown)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert r.returncode == 0, r.stderr
    base, grown = (int(v) for v in r.stdout.split())
    assert grown - base >= 150 * 2**20


def test_flower_gpu_share_defaults_and_rules():
    from zerofl_profiler.fl.flower.runner import client_gpu_share

    assert client_gpu_share(RunConfig(accelerator="cpu")) == 0.0
    assert client_gpu_share(RunConfig(accelerator="cuda:0")) == 1.0
    assert client_gpu_share(RunConfig(accelerator="cuda:0", client_gpus=0.25)) == 0.25
    with pytest.raises(BadInputError, match="needs a CUDA run"):
        client_gpu_share(RunConfig(accelerator="cpu", client_gpus=0.5))


def test_out_of_memory_in_a_client_names_batch_size_and_device(monkeypatch, tmp_path):
    from zerofl_profiler.errors import TrainingError
    from zerofl_profiler.fl import client as client_mod

    def oom(*a, **k):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(client_mod, "_local_training", oom)
    with pytest.raises(TrainingError, match=r"out of device memory on cpu .* at batch size 32"):
        run(RunConfig(**SMALL), tmp_path / "stop", progress=False)
    assert (tmp_path / "stop" / "trace.jsonl").read_text().strip()  # the failed record is kept
    s = run(RunConfig(**SMALL, on_client_error="skip"), tmp_path / "skip", progress=False)
    assert s.client_rounds_failed == 2
    rec = json.loads((tmp_path / "skip" / "trace.jsonl").read_text().splitlines()[0])
    assert rec["status"] == "failed" and "batch size 32" in rec["error"]


@pytest.mark.gpu
def test_real_cuda_round_records_device_time_memory_and_energy(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    out = tmp_path / "run"
    run(RunConfig(**SMALL, accelerator="cuda"), out, progress=False)
    stored = tomllib.loads((out / "config.toml").read_text())
    assert stored["accelerator"] == "cuda:0" and stored["environment"]["accelerator"]["memory_bytes"] > 0
    for ln in (out / "trace.jsonl").read_text().splitlines():
        r = json.loads(ln)
        assert r["mem_source"] == "cuda" and r["peak_mem_bytes"] > 0
        assert 0 < r["accelerator_time_s"] <= r["wall_time_s"] * 1.05
