"""Every `train` option in one frozen record, validated before any work, round-tripped via TOML.

Torch-free on purpose: readers of a run (report, estimate, plot) get this typed record back from
``traces.load_run`` without importing the engine. The torch-side helpers that act on a RunConfig
(threads, SparseConfig) live in ``fl/runtime.py``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tomllib
from contextvars import ContextVar
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import BadInputError, ConfigError, check_fraction
from .vocab import (AGGREGATIONS, CLIENT_ERROR_POLICIES, DATA_DIR_DATASETS, DATASET_AUGMENTATIONS, DATASETS,
                    ENCODINGS, ENGINES, MASK_SCHEDULES, MASK_STRUCTURES, PARTITIONS, SPARSE_KERNEL_MODES, UPLOADS)

#: --accelerator spellings: auto (first CUDA device, else MPS, else CPU), cpu, cuda, cuda:N, mps.
ACCELERATOR_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
#: Which model the server evaluates: the top-k (SWAT) model ZeroFL evaluates, the dense weights, or both.
EVAL_MODES = ("sparse", "dense", "both")
#: Keys a run's config.toml holds besides the options (run metadata, never an option).
METADATA_KEYS = ("run_id", "environment", "partition_stats", "trace")
#: False while a stored run's config is read back: its data need not be on this machine.
_CHECK_PATHS: ContextVar[bool] = ContextVar("zerofl_check_paths", default=True)


@dataclass(frozen=True)
class RunConfig:
    """One federated run: data, model, FL schedule, SWAT sparsity, uploads, and failure policy.

    The defaults are the offline default run (digits + cnn), sized to finish in well under two
    minutes on a 2-core CPU and reach >= 80 % test accuracy (see docs/engine.md for the figures).
    """

    dataset: str = "digits"
    data_dir: str | None = None
    model: str = "cnn"
    clients: int = 10
    clients_per_round: int = 5
    rounds: int = 20
    local_epochs: int = 2
    batch_size: int = 16
    lr_start: float = 0.1
    lr_end: float = 0.02
    momentum: float = 0.9
    weight_decay: float = 0.0
    sparsity: float = 0.9
    activation_sparsity: float | None = None
    mask_every: int = 1
    mask_schedule: str = "fixed-positions"
    dense_layers: tuple[str, ...] | None = None
    upload: str = "dense"
    mask_ratio: float = 0.0
    encoding: str = "csr"
    aggregation: str = "fedavg"
    partition: str = "lda"
    alpha: float = 1.0
    seed: int = 0
    on_client_error: str = "stop"
    engine: str = "inprocess"
    energy: str = "auto"
    eval_batch_size: int = 256
    eval_every: int = 1  # evaluate every N rounds (and always the last)
    eval_mode: str = "sparse"
    augment: bool | None = None  # None: the data set's default (on for cifar10), resolved when built
    threads: int = 1
    accelerator: str = "auto"
    client_gpus: float | None = None
    sparse_kernels: str = "off"
    mask_structure: str = "unstructured"
    name: str | None = None

    def __post_init__(self) -> None:
        try:
            self._validate()
        except ConfigError:
            raise
        except BadInputError as exc:
            raise ConfigError(str(exc)) from None

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        for key in ("clients", "clients_per_round", "rounds", "local_epochs", "batch_size", "mask_every",
                    "eval_batch_size", "eval_every"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"{key} must be a positive integer, got {v!r}")
        if not isinstance(self.threads, int) or isinstance(self.threads, bool) or self.threads < 0:
            raise ConfigError(f"threads must be a non-negative integer (0 = torch's default), got {self.threads!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.clients_per_round > self.clients:
            raise ConfigError(f"clients per round K={self.clients_per_round} exceeds the number of "
                              f"clients N={self.clients}")
        check_fraction("sparsity", self.sparsity)
        if self.activation_sparsity is not None:
            check_fraction("activation sparsity", self.activation_sparsity)
        check_fraction("mask ratio", self.mask_ratio, allow_one=True)
        for key in ("lr_start", "lr_end"):
            v = getattr(self, key)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"{key} must be a positive number, got {v!r}")
        for key in ("momentum", "weight_decay"):
            v = getattr(self, key)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"{key} must be a non-negative number, got {v!r}")
        if not isinstance(self.alpha, (int, float)) or not math.isfinite(self.alpha) or self.alpha <= 0:
            raise ConfigError(f"alpha must be > 0, got {self.alpha!r}")
        for key, allowed in (("upload", UPLOADS), ("encoding", ENCODINGS), ("partition", PARTITIONS),
                             ("on_client_error", CLIENT_ERROR_POLICIES), ("engine", ENGINES),
                             ("eval_mode", EVAL_MODES), ("mask_schedule", MASK_SCHEDULES)):
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{key} must be one of {', '.join(allowed)}, got {getattr(self, key)!r}")
        if not isinstance(self.accelerator, str) or not ACCELERATOR_RE.match(self.accelerator):
            raise ConfigError(f"accelerator must be auto, cpu, cuda, cuda:N or mps, got {self.accelerator!r}")
        if self.client_gpus is not None and (not isinstance(self.client_gpus, (int, float))
                                             or not 0.0 < self.client_gpus <= 1.0):
            raise ConfigError(f"client_gpus must be in (0, 1], got {self.client_gpus!r}")
        if self.sparse_kernels not in SPARSE_KERNEL_MODES:
            raise ConfigError(f"sparse_kernels must be one of {', '.join(SPARSE_KERNEL_MODES)}, "
                              f"got {self.sparse_kernels!r}")
        if self.mask_structure not in MASK_STRUCTURES:
            raise ConfigError(f"mask_structure must be one of {', '.join(MASK_STRUCTURES)}, got {self.mask_structure!r}")
        if self.mask_structure == "2:4" and self.weight_sparsity != 0.5:
            raise ConfigError(f"--mask-structure 2:4 keeps exactly half of the weights: weight sparsity must be "
                              f"0.5, got {self.weight_sparsity:g}")
        if self.upload == "dense" and self.mask_ratio > 0:
            raise ConfigError(f"mask ratio {self.mask_ratio} needs a top-k upload; with --upload dense "
                              "every weight is sent already")
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, got {self.aggregation!r}")
        self._validate_data()

    def _validate_data(self) -> None:
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown data set {self.dataset!r}; known: {', '.join(DATASETS)}")
        if self.data_dir is not None and _CHECK_PATHS.get() and not Path(self.data_dir).expanduser().exists():
            raise ConfigError(f"data path not found: {self.data_dir}")
        if self.dataset in DATA_DIR_DATASETS and self.data_dir is None:
            raise ConfigError(f"data set {self.dataset!r} needs --data-dir PATH (nothing is downloaded)")
        if self.augment and self.dataset not in DATASET_AUGMENTATIONS:
            raise ConfigError(f"augmentation does not apply to data set {self.dataset!r} "
                              f"(only to: {', '.join(DATASET_AUGMENTATIONS)}); drop --augment")
        if self.augment is None:  # resolved here so config.toml records what ran
            object.__setattr__(self, "augment", self.dataset in DATASET_AUGMENTATIONS)

    # ------------------------------------------------------------------ derived
    @property
    def weight_sparsity(self) -> float:
        """Weight sparsity of the SWAT layers."""
        return float(self.sparsity)

    @property
    def act_sparsity(self) -> float:
        """Activation sparsity (the weight sparsity unless set)."""
        return float(self.sparsity if self.activation_sparsity is None else self.activation_sparsity)

    @property
    def optimizer_name(self) -> str:
        """The FLOP counter's name for the SGD variant the clients run (flops.training.OPTIMIZERS)."""
        name = "sgd_momentum" if self.momentum > 0 else "sgd"
        return name + "_wd" if self.weight_decay > 0 else name

    def evaluates_round(self, rnd: int) -> bool:
        """Every ``eval_every``-th round is evaluated, and always the last, so a run ends with an accuracy."""
        return int(rnd) % self.eval_every == 0 or int(rnd) == self.rounds

    def lr_for_round(self, rnd: int) -> float:
        """Exponential decay per round from lr_start (round 1) to lr_end (last round), as ZeroFL."""
        if self.rounds == 1:
            return float(self.lr_start)
        t = (int(rnd) - 1) / (self.rounds - 1)
        return float(self.lr_start * (self.lr_end / self.lr_start) ** t)

    def with_updates(self, **changes: Any) -> "RunConfig":
        """A validated copy with some options changed."""
        return from_mapping({**self.to_dict(), **changes})

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every option (tuples become lists)."""
        d = asdict(self)
        if d["dense_layers"] is not None:
            d["dense_layers"] = list(d["dense_layers"])
        return d

    def to_toml_dict(self, **metadata: Any) -> dict[str, Any]:
        """TOML-ready dict: None values are omitted (TOML has no null), metadata keys appended."""
        d = {k: v for k, v in self.to_dict().items() if v is not None}
        for k, v in metadata.items():
            if k not in METADATA_KEYS:
                raise ValueError(f"not a metadata key: {k}")
            if v is not None:
                d[k] = v
        return d

    def to_toml_text(self, **metadata: Any) -> str:
        """The resolved configuration (and run metadata) as TOML text (traces.rundir writes it)."""
        from .tomlwrite import dumps

        return dumps(self.to_toml_dict(**metadata))

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> "RunConfig":
        """Read a config file (a user's or a run's config.toml); overrides win over the file."""
        return from_mapping({**read_toml(path), **overrides})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RunConfig":
        """Build from a plain mapping; unknown keys are a ConfigError."""
        return from_mapping(d)


def load_toml(path: str | os.PathLike[str], *, missing: str | None = None) -> dict[str, Any]:
    """A whole TOML file; a missing (message ``missing``) or malformed one is one ConfigError line."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(missing or f"config file not found: {p}")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: malformed TOML ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{p}: malformed TOML (nested too deeply)") from None


def option_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    """The option keys of a config document (run metadata such as run_id and [environment] removed)."""
    return {k: v for k, v in data.items() if k not in METADATA_KEYS}


def read_toml(path: str | Path) -> dict[str, Any]:
    """The option keys of a TOML file (metadata such as run_id and [environment] removed)."""
    return option_keys(load_toml(path))


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        raise TypeError
    return v


def _float(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError
    return float(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError
    return v


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError
    return v


def _opt(conv: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else conv(v)


def _names(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        return tuple(s.strip() for s in v.split(",") if s.strip())
    if not isinstance(v, (list, tuple)) or not all(isinstance(s, str) for s in v):
        raise TypeError
    return tuple(v)


_TYPE_NAMES = {"int": "an integer", "float": "a number", "str": "a string"}
#: field -> converter (rejects wrong types so a TOML typo is a one-line error, not a crash)
CONVERTERS: dict[str, Callable[[Any], Any]] = {
    f.name: {"int": _int, "float": _float, "str": _str, "str | None": _opt(_str), "float | None": _opt(_float),
             "tuple[str, ...] | None": _opt(_names), "bool | None": _opt(_bool)}[str(f.type)]
    for f in fields(RunConfig)
}


def from_stored(d: Mapping[str, Any]) -> RunConfig:
    """A run's stored options as a RunConfig: validated as any config, except that ``data_dir`` need
    not exist here (reports and estimates read runs on machines without the data)."""
    token = _CHECK_PATHS.set(False)
    try:
        return from_mapping(d)
    finally:
        _CHECK_PATHS.reset(token)


def config_digest(options: Mapping[str, Any]) -> str:
    """A short digest of a run's option mapping (as config.toml stores it): the checkpoint's proof of
    which configuration it belongs to. Options a later version adds with a default are not in an
    older run's file, so they do not change its digest."""
    blob = json.dumps({k: v for k, v in options.items() if k not in METADATA_KEYS}, sort_keys=True,
                      separators=(",", ":"), default=list)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def convert_mapping(d: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """Check keys and types only (a file's keys are checked even where a flag will override them)."""
    at = f"{where}: " if where else ""
    unknown = sorted(set(d) - set(CONVERTERS))
    if unknown:
        raise ConfigError(f"{at}unknown config key(s): {', '.join(unknown)} (known: {', '.join(CONVERTERS)})")
    kw: dict[str, Any] = {}
    for k, v in d.items():
        try:
            kw[k] = CONVERTERS[k](v)
        except (TypeError, ValueError):
            raise ConfigError(f"{at}config key {k!r} has the wrong type: {v!r}") from None
    return kw


def from_mapping(d: Mapping[str, Any]) -> RunConfig:
    """Validate keys and types, then build (which validates values)."""
    return RunConfig(**convert_mapping(d))


__all__ = ["RunConfig", "read_toml", "load_toml", "option_keys", "from_mapping", "from_stored", "config_digest",
           "METADATA_KEYS", "EVAL_MODES"]
