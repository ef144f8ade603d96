"""Data sets: the shipped digits, CIFAR-10 pickles on disk, synthetic data, shape fitting."""

from __future__ import annotations

import pickle
from importlib import resources

import numpy as np
import pytest

from zerofl_profiler.errors import BadInputError
from zerofl_profiler.fl.data import (DATASETS, ArrayDataset, fit_shape, load_dataset,
                                     read_cifar_batch, stratified_split)


def _raw_digits() -> tuple[np.ndarray, np.ndarray]:
    with resources.files("zerofl_profiler").joinpath("data/digits.npz").open("rb") as fh:
        with np.load(fh) as z:
            return z["images"], z["labels"]


def test_shipped_digits_file_is_the_uci_test_set() -> None:
    images, labels = _raw_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert labels.dtype == np.uint8 and images.max() == 16 and images.min() == 0
    # Class counts of the UCI optdigits test set (UCI page / scikit-learn DESCR).
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    # First row of sklearn's digits.csv.gz (a zero), as printed by `zcat | head -1`.
    first = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0,
             0, 4, 12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0,
             0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0]
    assert images[0].reshape(-1).tolist() == first and labels[0] == 0
    lic = resources.files("zerofl_profiler").joinpath("data/DIGITS_LICENSE.txt").read_text()
    assert "BSD 3-Clause" in lic and "archive.ics.uci.edu" in lic


def test_digits_split_shapes_labels_and_normalisation() -> None:
    train, test = load_dataset("digits")
    assert isinstance(train, ArrayDataset) and train.num_classes == 10
    assert train.x.shape[1:] == (1, 8, 8) and train.x.dtype == np.float32
    assert train.y.dtype == np.int64 and len(train) + len(test) == 1797
    assert abs(len(test) / 1797 - 0.2) < 0.01
    # Stratified: every class's test share is ~20% of that class.
    _, labels = _raw_digits()
    ratio = np.bincount(test.y, minlength=10) / np.bincount(labels, minlength=10)
    assert np.all(np.abs(ratio - 0.2) < 0.02)
    # Normalised with training statistics only.
    assert abs(float(train.x.mean())) < 1e-5 and abs(float(train.x.std()) - 1) < 1e-4
    assert abs(float(test.x.mean())) > 1e-6  # test statistics were not used
    # Fixed split: a second load gives identical arrays; no overlap between train and test rows.
    train2, test2 = load_dataset("digits", seed=123)
    assert np.array_equal(train.x, train2.x) and np.array_equal(test.y, test2.y)
    tr_rows = {r.tobytes() for r in train.x}
    assert sum(r.tobytes() in tr_rows for r in test.x) < 5  # only literal duplicate images


def test_stratified_split_is_disjoint_and_covering() -> None:
    y = np.repeat(np.arange(3), [10, 20, 30])
    tr, te = stratified_split(y, 0.2, seed=1)
    assert np.intersect1d(tr, te).size == 0 and len(tr) + len(te) == 60
    assert np.bincount(y[te]).tolist() == [2, 4, 6]


def test_digits_fit_to_a_model_shape() -> None:
    train, test = load_dataset("digits", input_shape=(3, 32, 32))
    assert train.x.shape[1:] == (3, 32, 32) and test.x.shape[1:] == (3, 32, 32)
    small, _ = load_dataset("digits")
    # Nearest-neighbour x4 upscale: each 8x8 pixel becomes a 4x4 block, in every channel.
    assert np.array_equal(train.x[:, 1, ::4, ::4], small.x[:, 0])
    assert np.array_equal(train.x[:, 2, 3::4, 1::4], small.x[:, 0])


def test_fit_shape_downscale_and_bad_channels() -> None:
    x = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)
    y = fit_shape(x, (1, 2, 2))
    assert y.shape == (2, 1, 2, 2)
    assert np.allclose(y[:, 0], x.mean(axis=1)[:, ::2, ::2])
    with pytest.raises(BadInputError):
        fit_shape(x, (2, 4, 4))


def _write_batch(path, n: int, seed: int, protocol: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, size=n)]
    with open(path, "wb") as fh:
        pickle.dump({b"batch_label": b"x", b"labels": labels, b"data": data,
                     b"filenames": [b"f"] * n}, fh, protocol=protocol)
    return data, labels


@pytest.mark.parametrize("subdir", [False, True])
def test_cifar10_reads_pickle_batches(tmp_path, subdir: bool) -> None:
    root = tmp_path / "cifar-10-batches-py" if subdir else tmp_path
    root.mkdir(exist_ok=True)
    raw = [_write_batch(root / f"data_batch_{i}", 4, i, protocol=2) for i in range(1, 6)]
    te_data, te_labels = _write_batch(root / "test_batch", 3, 99, protocol=4)
    train, test = load_dataset("cifar10", tmp_path)
    assert train.x.shape == (20, 3, 32, 32) and test.x.shape == (3, 3, 32, 32)
    assert train.y.tolist() == sum((r[1] for r in raw), []) and test.y.tolist() == te_labels
    # Row layout: 1024 red, 1024 green, 1024 blue, each row-major 32x32 (CIFAR-10 format).
    all_u8 = np.concatenate([r[0] for r in raw]).astype(np.float64) / 255
    mean = all_u8.reshape(20, 3, 1024).mean(axis=(0, 2))
    std = all_u8.reshape(20, 3, 1024).std(axis=(0, 2))
    px = te_data[1, 1024 + 32 * 5 + 7] / 255  # green channel, row 5, col 7 of test image 1
    assert test.x[1, 1, 5, 7] == pytest.approx((px - mean[1]) / std[1], rel=1e-5)
    assert np.allclose(train.x.mean(axis=(0, 2, 3)), 0, atol=1e-5)


def test_cifar10_missing_path_and_file_name_themselves(tmp_path) -> None:
    with pytest.raises(BadInputError, match="needs --data-dir"):
        load_dataset("cifar10")
    with pytest.raises(BadInputError, match=str(tmp_path / "nope")):
        load_dataset("cifar10", tmp_path / "nope")
    _write_batch(tmp_path / "data_batch_1", 2, 0, 2)
    with pytest.raises(BadInputError, match="data_batch_2"):
        load_dataset("cifar10", tmp_path)


def test_cifar10_rejects_bad_and_hostile_files(tmp_path) -> None:
    p = tmp_path / "bad"
    p.write_bytes(b"not a pickle")
    with pytest.raises(BadInputError, match="bad"):
        read_cifar_batch(p)
    # A pickle that would call os.system when loaded must be refused, not run.
    class Evil:
        def __reduce__(self):
            import os
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))
    p.write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(BadInputError, match="not allowed"):
        read_cifar_batch(p)
    assert not (tmp_path / "pwned").exists()
    with open(p, "wb") as fh:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, fh)
    with pytest.raises(BadInputError, match="3072"):
        read_cifar_batch(p)


def test_synthetic_is_shaped_seeded_and_learnable() -> None:
    tr, te = load_dataset("synthetic", input_shape=(3, 6, 6), num_classes=5, seed=7,
                          num_train=500, num_test=200)
    assert tr.synthetic and tr.x.shape == (500, 3, 6, 6) and tr.num_classes == 5
    assert np.bincount(tr.y).tolist() == [100] * 5
    tr2, _ = load_dataset("synthetic", input_shape=(3, 6, 6), num_classes=5, seed=7,
                          num_train=500, num_test=200)
    tr3, _ = load_dataset("synthetic", input_shape=(3, 6, 6), num_classes=5, seed=8,
                          num_train=500, num_test=200)
    assert np.array_equal(tr.x, tr2.x) and not np.array_equal(tr.x, tr3.x)
    # Learnable: nearest class mean (fitted on train) classifies the test set far above chance.
    means = np.stack([tr.x[tr.y == c].mean(axis=0).ravel() for c in range(5)])
    d = ((te.x.reshape(len(te), 1, -1) - means[None]) ** 2).sum(-1)
    assert (d.argmin(1) == te.y).mean() > 0.9
    assert "SYNTHETIC" in DATASETS["synthetic"].description


def test_registry_and_bad_names() -> None:
    assert list(DATASETS) == ["digits", "cifar10", "synthetic"]
    assert DATASETS["digits"].input_shape == (1, 8, 8)
    with pytest.raises(BadInputError, match="known: digits"):
        load_dataset("mnist")
    with pytest.raises(BadInputError, match="10 classes"):
        load_dataset("digits", num_classes=100)
    with pytest.raises(BadInputError):
        load_dataset("digits", "/tmp")


def test_subset_and_batches() -> None:
    train, _ = load_dataset("digits")
    sub = train.subset([3, 1, 4])
    assert np.array_equal(sub.y, train.y[[3, 1, 4]])
    b = sub.batches(2, np.random.default_rng(0))
    assert [len(y) for _, y in b] == [2, 1]
    assert sorted(np.concatenate([y for _, y in b]).tolist()) == sorted(sub.y.tolist())
