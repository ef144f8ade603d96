"""Crop-and-flip augmentation: checked against an independent numpy crop/flip, seeded, and in training."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from zerofl_profiler.errors import ConfigError
from zerofl_profiler.fl.augment import AUGMENTATIONS, CropFlipParams, augment_generator
from zerofl_profiler.config import RunConfig

AUG = AUGMENTATIONS["crop4-flip"]


def numpy_crop_flip(img: np.ndarray, top: int, left: int, flip: bool, pad: int = 4) -> np.ndarray:
    """Reference: zero-pad (C, H, W) by ``pad``, cut the H x W window at (top, left), mirror columns."""
    _, h, w = img.shape
    out = np.pad(img, ((0, 0), (pad, pad), (pad, pad)))[:, top:top + h, left:left + w]
    return out[:, :, ::-1] if flip else out


def _batch(n=16, c=3, h=32, w=32, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(np.float32))


def test_matches_numpy_reference_for_given_draws():
    x = _batch(12, h=9, w=7)  # non-square, smaller than the 8-pixel range of offsets
    p = CropFlipParams(torch.tensor([0, 8, 4, 3, 0, 8, 1, 2, 5, 6, 7, 4]),
                       torch.tensor([8, 0, 4, 5, 0, 8, 7, 6, 3, 2, 1, 4]),
                       torch.tensor([True, False, False, True, True, False, True, False, True, False, True, True]))
    got = AUG.apply(x, p).numpy()
    for i in range(len(x)):
        want = numpy_crop_flip(x[i].numpy(), int(p.top[i]), int(p.left[i]), bool(p.flip[i]))
        np.testing.assert_array_equal(got[i], want, err_msg=f"image {i}")
    np.testing.assert_array_equal(got[2], x[2].numpy())  # centre crop, no flip: identity
    np.testing.assert_array_equal(got[11], x[11].numpy()[:, :, ::-1])  # centre crop, flipped: mirror
    assert np.all(got[4][:, :4, :] == 0) and np.all(got[4][:, :, -4:] == 0)  # shifted in from the corner


def test_random_outputs_are_real_crops_and_flips_with_both_kinds_drawn():
    """Each augmented image equals the numpy crop/flip for one of the 81 x 2 possible draws."""
    x = _batch(40, h=12, w=12, seed=3)
    out = AUG(x, augment_generator(0, 1, 0)).numpy()
    found = []
    for i in range(len(x)):
        hits = [(t, l, f) for t in range(9) for l in range(9) for f in (False, True)
                if np.array_equal(out[i], numpy_crop_flip(x[i].numpy(), t, l, f))]
        assert len(hits) == 1, f"image {i}: {len(hits)} matching draws"
        found.append(hits[0])
    flips = sum(f for _, _, f in found)
    assert 8 <= flips <= 32  # p = 1/2 over 40 draws (binomial, 5e-5 two-sided tail)
    assert len({(t, l) for t, l, _ in found}) > 10  # crops move around, not one fixed offset


def test_draw_distribution_and_seeding():
    p = AUG.draw(20000, augment_generator(1, 2, 3))
    assert p.top.min() == 0 and p.top.max() == 8 and p.left.min() == 0 and p.left.max() == 8
    assert np.bincount(p.top.numpy(), minlength=9).min() > 20000 / 9 * 0.85
    assert abs(float(p.flip.float().mean()) - 0.5) < 0.02
    x = _batch(8)
    a = AUG(x, augment_generator(0, 5, 7))
    b = AUG(x, augment_generator(0, 5, 7))
    assert torch.equal(a, b)
    for other in (augment_generator(1, 5, 7), augment_generator(0, 6, 7), augment_generator(0, 5, 8)):
        assert not torch.equal(a, AUG(x, other))
    before = torch.random.get_rng_state()
    AUG(x, augment_generator(0, 1, 1))
    assert torch.equal(before, torch.random.get_rng_state())  # torch's global stream untouched


def test_config_default_flag_and_wrong_data_set(cifar_dir):
    from zerofl_profiler.fl.data import DATASETS
    from zerofl_profiler.fl.runtime import augmentation
    from zerofl_profiler.vocab import DATASET_AUGMENTATIONS

    assert {n: d.augmentation for n, d in DATASETS.items() if d.augmentation} == DATASET_AUGMENTATIONS
    assert RunConfig(dataset="cifar10", data_dir=str(cifar_dir)).augment is True
    assert augmentation(RunConfig(dataset="cifar10", data_dir=str(cifar_dir))) is not None
    assert augmentation(RunConfig(dataset="cifar10", data_dir=str(cifar_dir), augment=False)) is None
    assert RunConfig().augment is False and augmentation(RunConfig()) is None
    with pytest.raises(ConfigError, match="does not apply to data set 'digits'.*cifar10"):
        RunConfig(augment=True)
    with pytest.raises(ConfigError, match="augment"):
        RunConfig.from_dict({"augment": "yes"})


SMALL = dict(dataset="cifar10", model="cnn", clients=4, clients_per_round=2, rounds=3, batch_size=4,
             local_epochs=1, sparsity=0.5, energy="none", eval_batch_size=64)

# SIGKILLs itself after the first client record of round 2.
KILLER = textwrap.dedent("""
    import json, os, signal, sys
    from zerofl_profiler.fl import engine
    from zerofl_profiler.config import RunConfig

    real = engine.RunContext.record_client

    def record(self, result):
        real(self, result)
        if result.record.round == 2:
            os.kill(os.getpid(), signal.SIGKILL)

    engine.RunContext.record_client = record
    engine.run(RunConfig(**json.loads(sys.argv[2])), sys.argv[1], progress=False)
""")
SKIP = {"wall_time_s", "cpu_time_s", "peak_mem_bytes", "accelerator_time_s", "timestamp", "run_id", "energy", "energy_estimate", "extra",
        "aggregation_time_s", "round_wall_time_s"}


def _records(path):
    return [{k: v for k, v in json.loads(x).items() if k not in SKIP} for x in path.read_text().splitlines()]


@pytest.mark.slow
def test_augmented_training_is_recorded_changes_the_run_and_resumes_exactly(tmp_path, cifar_dir):
    from zerofl_profiler.fl.checkpoint import load_checkpoint
    from zerofl_profiler.fl.engine import run

    opts = {**SMALL, "data_dir": str(cifar_dir)}
    run(RunConfig(**opts), tmp_path / "on", progress=False)
    run(RunConfig(**opts, augment=False), tmp_path / "off", progress=False)
    assert "augment = true" in (tmp_path / "on" / "config.toml").read_text()
    assert "augment = false" in (tmp_path / "off" / "config.toml").read_text()
    on, off = _records(tmp_path / "on" / "trace.jsonl"), _records(tmp_path / "off" / "trace.jsonl")
    assert [r["train_loss"] for r in on] != [r["train_loss"] for r in off]

    killed = tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-c", KILLER, str(killed), json.dumps(opts)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    run(RunConfig(**opts), killed, resume=True, progress=False)
    assert _records(killed / "trace.jsonl") == on
    got, want = load_checkpoint(killed), load_checkpoint(tmp_path / "on")
    for k in want.global_state:
        np.testing.assert_array_equal(got.global_state[k], want.global_state[k], err_msg=k)


def test_stored_config_without_the_key_resumes_unaugmented(tmp_path, cifar_dir):
    from zerofl_profiler.fl.engine import stored_config

    (tmp_path / "config.toml").write_text(f'dataset = "cifar10"\ndata_dir = "{cifar_dir}"\nrun_id = "x"\n')
    assert stored_config(tmp_path).augment is False
    (tmp_path / "config.toml").write_text(f'dataset = "cifar10"\ndata_dir = "{cifar_dir}"\naugment = true\n')
    assert stored_config(tmp_path).augment is True
