"""Data sets for the FL engines: a shipped real default, CIFAR-10 from disk, synthetic on request.

Every loader returns ``(train, test)`` as :class:`ArrayDataset` (float32 NCHW images, int64
labels), normalised with statistics of the *training* split only. Nothing here downloads.

* ``digits`` (default): the UCI optical handwritten digits as shipped by scikit-learn (1797
  8x8 grey images, 10 classes), stored in ``zerofl_profiler/data/digits.npz`` (origin and licence
  in ``DIGITS_LICENSE.txt``). Fixed stratified 80/20 split (seed ``SPLIT_SEED``).
* ``cifar10``: the standard python-pickle batches (``data_batch_1..5``, ``test_batch``) read from
  ``data_dir`` or its ``cifar-10-batches-py`` sub-folder, with a restricted unpickler.
* ``synthetic``: class prototypes plus Gaussian noise, shaped for the model; only when asked.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import BadInputError, unknown_name

#: Seed of the fixed train/test split of data sets that ship without one (digits).
SPLIT_SEED = 0
#: Fraction of each class held out for testing when we make the split ourselves.
TEST_FRACTION = 0.2


@dataclass(frozen=True, eq=False)
class ArrayDataset:
    """Images and labels in memory, so partitions are plain index arrays into one array pair."""

    x: np.ndarray  # float32, (N, C, H, W)
    y: np.ndarray  # int64, (N,)
    num_classes: int
    name: str = ""
    synthetic: bool = False

    def __post_init__(self) -> None:
        if self.x.ndim != 4 or self.x.dtype != np.float32:
            raise BadInputError(f"data set {self.name!r}: images must be float32 NCHW, got "
                                f"{self.x.dtype} {self.x.shape}")
        if self.y.ndim != 1 or self.y.dtype != np.int64 or len(self.y) != len(self.x):
            raise BadInputError(f"data set {self.name!r}: labels must be int64 (N,) matching "
                                f"{len(self.x)} images, got {self.y.dtype} {self.y.shape}")
        if len(self.y) and (self.y.min() < 0 or self.y.max() >= self.num_classes):
            raise BadInputError(f"data set {self.name!r}: labels outside 0..{self.num_classes - 1}")

    def __len__(self) -> int:
        return int(len(self.y))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one sample, the shape models are built for."""
        return tuple(int(s) for s in self.x.shape[1:])  # type: ignore[return-value]

    def subset(self, indices: np.ndarray | Sequence[int]) -> "ArrayDataset":
        """One client's share, as its own data set (copies the selected rows)."""
        idx = np.asarray(indices, dtype=np.int64)
        return ArrayDataset(self.x[idx], self.y[idx], self.num_classes, self.name, self.synthetic)

    def batches(self, batch_size: int, rng: np.random.Generator | None = None
                ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Mini-batches in one pass (shuffled when ``rng`` is given); the last may be partial."""
        if batch_size < 1:
            raise BadInputError(f"batch size must be >= 1, got {batch_size}")
        order = rng.permutation(len(self)) if rng is not None else np.arange(len(self))
        return [(self.x[order[i:i + batch_size]], self.y[order[i:i + batch_size]])
                for i in range(0, len(self), batch_size)]


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry: what the data set is, so the engine can size the model before loading."""

    name: str
    num_classes: int | None  # None: whatever the caller asks for (synthetic)
    input_shape: tuple[int, int, int] | None
    description: str
    loader: Callable[..., tuple[ArrayDataset, ArrayDataset]] = field(repr=False)
    needs_data_dir: bool = False
    #: the augmentation (fl.augment.AUGMENTATIONS) training uses by default; None: never augmented
    augmentation: str | None = None


# ----------------------------------------------------------------------------- helpers
def stratified_split(labels: np.ndarray, test_fraction: float, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per-class split so train and test keep the class mix; sorted indices, reproducible."""
    if not 0.0 < test_fraction < 1.0:
        raise BadInputError(f"test fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def fit_shape(x: np.ndarray, input_shape: Sequence[int] | None) -> np.ndarray:
    """Adapt NCHW images to a model's (C, H, W): repeat grey channels, nearest-neighbour resize."""
    if input_shape is None or tuple(input_shape) == x.shape[1:]:
        return x
    if len(input_shape) != 3:
        raise BadInputError(f"input shape must be (C, H, W), got {tuple(input_shape)}")
    c, h, w = (int(v) for v in input_shape)
    if x.shape[1] != c:
        if x.shape[1] == 1:
            x = np.repeat(x, c, axis=1)
        elif c == 1:
            x = x.mean(axis=1, keepdims=True)
        else:
            raise BadInputError(f"cannot map {x.shape[1]} channels onto {c}")
    if x.shape[2:] != (h, w):
        rows = (np.arange(h) * x.shape[2]) // h
        cols = (np.arange(w) * x.shape[3]) // w
        x = x[:, :, rows][:, :, :, cols]
    return np.ascontiguousarray(x, dtype=np.float32)


def _normalise(train_x: np.ndarray, test_x: np.ndarray, per_channel: bool, chunk: int = 2048
               ) -> tuple[np.ndarray, np.ndarray]:
    """Zero mean, unit variance with training statistics, so the test split never leaks in.

    Works in place on contiguous float32 arrays the caller owns (CIFAR-10 train is 600 MB) and
    accumulates float64 statistics chunk by chunk, so no full-size temporary is ever made.
    """
    groups = train_x.shape[1] if per_channel else 1
    tr, te = train_x.reshape(len(train_x), groups, -1), test_x.reshape(len(test_x), groups, -1)
    count = tr.shape[0] * tr.shape[2]
    total = sum(tr[i:i + chunk].sum(axis=(0, 2), dtype=np.float64) for i in range(0, len(tr), chunk))
    mean = (np.asarray(total) / count).astype(np.float32)[None, :, None]
    tr -= mean
    te -= mean
    sq = sum(np.square(tr[i:i + chunk], dtype=np.float64).sum(axis=(0, 2))
             for i in range(0, len(tr), chunk))
    std = np.sqrt(np.asarray(sq) / count)
    std = np.where(std > 0, std, 1.0).astype(np.float32)[None, :, None]
    tr /= std
    te /= std
    return train_x, test_x


# ----------------------------------------------------------------------------- digits
def _load_digits(data_dir: str | Path | None = None, *, input_shape: Sequence[int] | None = None,
                 split_seed: int = SPLIT_SEED, test_fraction: float = TEST_FRACTION,
                 **_: Any) -> tuple[ArrayDataset, ArrayDataset]:
    """The shipped default: real handwritten digits, no network, a fixed stratified split."""
    if data_dir is not None:
        raise BadInputError("--data-dir is not used by the digits data set (it ships with the package)")
    with resources.files("zerofl_profiler").joinpath("data/digits.npz").open("rb") as fh:
        with np.load(fh) as npz:
            images = npz["images"].astype(np.float32) / 16.0  # pixel counts 0..16
            labels = npz["labels"].astype(np.int64)
    x = images[:, None, :, :]
    tr, te = stratified_split(labels, test_fraction, split_seed)
    xtr, xte = _normalise(x[tr], x[te], per_channel=False)
    xtr, xte = fit_shape(xtr, input_shape), fit_shape(xte, input_shape)
    return (ArrayDataset(xtr, labels[tr], 10, "digits"), ArrayDataset(xte, labels[te], 10, "digits"))


# ----------------------------------------------------------------------------- cifar10
CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_FILE = "test_batch"
CIFAR_SUBDIR = "cifar-10-batches-py"

#: The only globals a CIFAR-10 batch needs (numpy array reconstruction, python-2 byte strings).
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    """Refuses any global but numpy arrays, so a hostile 'batch' file cannot run code."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _PICKLE_ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")


def _cifar_dir(data_dir: str | Path | None) -> Path:
    """The folder holding the batches: data_dir itself or its cifar-10-batches-py sub-folder."""
    if data_dir is None:
        raise BadInputError("the cifar10 data set needs --data-dir PATH (the folder with the "
                            "python-pickle batches; nothing is downloaded)")
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise BadInputError(f"CIFAR-10 data directory not found: {root}")
    if not (root / CIFAR_TEST_FILE).exists() and (root / CIFAR_SUBDIR).is_dir():
        root = root / CIFAR_SUBDIR
    return root


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickle batch -> (uint8 N x 3 x 32 x 32, int64 labels); a bad file names itself."""
    if not path.is_file():
        raise BadInputError(f"CIFAR-10 batch file not found: {path}")
    try:
        with path.open("rb") as fh:
            d = _BatchUnpickler(fh, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise BadInputError(f"{path}: not a CIFAR-10 python-pickle batch ({e})") from None
    if not isinstance(d, Mapping):
        raise BadInputError(f"{path}: not a CIFAR-10 batch (expected a dict)")
    data = d.get(b"data", d.get("data"))
    labels = d.get(b"labels", d.get("labels"))
    if data is None or labels is None:
        raise BadInputError(f"{path}: CIFAR-10 batch lacks 'data' or 'labels'")
    data = np.asarray(data)
    labels = np.asarray(labels, dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise BadInputError(f"{path}: expected uint8 data N x 3072 and N labels, got "
                            f"{data.dtype} {data.shape} and {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise BadInputError(f"{path}: labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def _load_cifar10(data_dir: str | Path | None = None, *, input_shape: Sequence[int] | None = None,
                  **_: Any) -> tuple[ArrayDataset, ArrayDataset]:
    """Real CIFAR-10 from the user's disk, per-channel normalised with training statistics."""
    root = _cifar_dir(data_dir)
    parts = [read_cifar_batch(root / f) for f in CIFAR_TRAIN_FILES]
    xtr = np.concatenate([p[0] for p in parts]).astype(np.float32)
    ytr = np.concatenate([p[1] for p in parts])
    del parts
    xte_u8, yte = read_cifar_batch(root / CIFAR_TEST_FILE)
    xte = xte_u8.astype(np.float32)
    xtr /= 255.0
    xte /= 255.0
    xtr, xte = _normalise(xtr, xte, per_channel=True)
    xtr, xte = fit_shape(xtr, input_shape), fit_shape(xte, input_shape)
    return ArrayDataset(xtr, ytr, 10, "cifar10"), ArrayDataset(xte, yte, 10, "cifar10")


# ----------------------------------------------------------------------------- synthetic
def _load_synthetic(data_dir: str | Path | None = None, *, input_shape: Sequence[int] | None = None,
                    num_classes: int | None = None, seed: int = 0, num_train: int = 2000,
                    num_test: int = 500, noise: float = 1.0, **_: Any
                    ) -> tuple[ArrayDataset, ArrayDataset]:
    """Synthetic, learnable data: one fixed random prototype per class plus Gaussian noise."""
    if data_dir is not None:
        raise BadInputError("--data-dir is not used by the synthetic data set")
    shape = tuple(int(v) for v in (input_shape or (3, 32, 32)))
    k = int(num_classes or 10)
    if len(shape) != 3 or min(shape) < 1 or k < 2 or num_train < k or num_test < 1:
        raise BadInputError(f"synthetic data needs a (C, H, W) shape, >= 2 classes and >= one "
                            f"training sample per class; got {shape}, {k} classes, {num_train} samples")
    rng = np.random.default_rng(seed)
    protos = rng.standard_normal((k, *shape)).astype(np.float32)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.resize(np.arange(k, dtype=np.int64), n)  # balanced classes
        y = y[rng.permutation(n)]
        x = protos[y] + noise * rng.standard_normal((n, *shape)).astype(np.float32)
        return x.astype(np.float32), y

    xtr, ytr = draw(num_train)
    xte, yte = draw(num_test)
    xtr, xte = _normalise(xtr, xte, per_channel=False)
    return (ArrayDataset(xtr, ytr, k, "synthetic", synthetic=True),
            ArrayDataset(xte, yte, k, "synthetic", synthetic=True))


# ----------------------------------------------------------------------------- registry
DATASETS: dict[str, DatasetSpec] = {
    s.name: s for s in (
        DatasetSpec("digits", 10, (1, 8, 8),
                    "UCI optical handwritten digits (1797 8x8 images, shipped; 80/20 stratified split)",
                    _load_digits),
        DatasetSpec("cifar10", 10, (3, 32, 32),
                    "CIFAR-10 from the python-pickle batches in --data-dir (not downloaded)",
                    _load_cifar10, needs_data_dir=True, augmentation="crop4-flip"),
        DatasetSpec("synthetic", None, None,
                    "SYNTHETIC: class prototypes + Gaussian noise, shaped for the model (seeded)",
                    _load_synthetic),
    )
}
DEFAULT_DATASET = "digits"


def get_dataset_spec(name: str) -> DatasetSpec:
    """Look a data set up by name; an unknown name lists the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise BadInputError(unknown_name("data set", name, DATASETS)) from None


def load_dataset(name: str = DEFAULT_DATASET, data_dir: str | Path | None = None, *,
                 input_shape: Sequence[int] | None = None, num_classes: int | None = None,
                 seed: int = 0, **options: Any) -> tuple[ArrayDataset, ArrayDataset]:
    """(train, test) for a registered data set, shaped for ``input_shape`` when given.

    ``num_classes`` sizes the synthetic set; for real sets it must match theirs (or be None).
    ``seed`` only seeds synthetic data: real splits are fixed so every run tests on the same set.
    """
    spec = get_dataset_spec(name)
    if spec.num_classes is not None and num_classes is not None and num_classes != spec.num_classes:
        raise BadInputError(f"data set {name!r} has {spec.num_classes} classes, not {num_classes}")
    return spec.loader(data_dir, input_shape=input_shape, num_classes=num_classes, seed=seed, **options)
