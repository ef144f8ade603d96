"""Every `train` option in one frozen record, validated before any work, round-tripped via TOML."""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import BadInputError, ConfigError, check_fraction

UPLOADS = ("dense", "topk-weights", "diff-topk-weights", "topk-diff")
ENCODINGS = ("csr", "bitmask", "dense")
PARTITIONS = ("lda", "iid")
CLIENT_ERROR_POLICIES = ("stop", "skip")
ENGINES = ("inprocess", "flower")
#: Keys a run's config.toml holds besides the options (run metadata, never an option).
METADATA_KEYS = ("run_id", "environment", "partition_stats", "trace")


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
    threads: int = 1
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
                    "eval_batch_size"):
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
                             ("on_client_error", CLIENT_ERROR_POLICIES), ("engine", ENGINES)):
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{key} must be one of {', '.join(allowed)}, got {getattr(self, key)!r}")
        if self.upload == "dense" and self.mask_ratio > 0:
            raise ConfigError(f"mask ratio {self.mask_ratio} needs a top-k upload; with --upload dense "
                              "every weight is sent already")
        from .aggregate import AGGREGATORS

        if self.aggregation not in AGGREGATORS:
            raise ConfigError(f"aggregation must be one of {', '.join(AGGREGATORS)}, got {self.aggregation!r}")
        self._validate_data()

    def _validate_data(self) -> None:
        from .data import get_dataset_spec

        spec = get_dataset_spec(self.dataset)
        if self.data_dir is not None and not Path(self.data_dir).expanduser().exists():
            raise ConfigError(f"data path not found: {self.data_dir}")
        if spec.needs_data_dir and self.data_dir is None:
            raise ConfigError(f"data set {self.dataset!r} needs --data-dir PATH (nothing is downloaded)")

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

    def lr_for_round(self, rnd: int) -> float:
        """Exponential decay per round from lr_start (round 1) to lr_end (last round), as ZeroFL."""
        if self.rounds == 1:
            return float(self.lr_start)
        t = (int(rnd) - 1) / (self.rounds - 1)
        return float(self.lr_start * (self.lr_end / self.lr_start) ** t)

    def apply_threads(self) -> int:
        """Set torch's intra-op threads for training (0 keeps torch's default); returns the old value.

        One thread is the default: the models that fit a phone-sized budget gain nothing from
        intra-op parallelism, and several runs (pytest -n 2, sweeps) then never oversubscribe cores.
        """
        import torch

        old = torch.get_num_threads()
        if self.threads > 0:
            torch.set_num_threads(self.threads)
        return old

    def sparse_config(self) -> Any:
        """The SparseConfig for sparsify()."""
        from ..sparse import SparseConfig

        return SparseConfig(self.weight_sparsity, self.activation_sparsity, self.dense_layers, self.mask_every)

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

    def to_toml(self, path: str | Path, **metadata: Any) -> None:
        """Write the resolved configuration (and run metadata) as TOML."""
        import tomli_w

        Path(path).write_text(tomli_w.dumps(self.to_toml_dict(**metadata)), encoding="utf-8")

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> "RunConfig":
        """Read a config file (a user's or a run's config.toml); overrides win over the file."""
        return from_mapping({**read_toml(path), **overrides})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RunConfig":
        """Build from a plain mapping; unknown keys are a ConfigError."""
        return from_mapping(d)


def read_toml(path: str | Path) -> dict[str, Any]:
    """The option keys of a TOML file (metadata such as run_id and [environment] removed)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: malformed TOML ({exc})") from None
    return {k: v for k, v in data.items() if k not in METADATA_KEYS}


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
             "tuple[str, ...] | None": _opt(_names)}[str(f.type)]
    for f in fields(RunConfig)
}


def from_mapping(d: Mapping[str, Any]) -> RunConfig:
    """Validate keys and types, then build (which validates values)."""
    unknown = sorted(set(d) - set(CONVERTERS))
    if unknown:
        raise ConfigError(f"unknown config key(s): {', '.join(unknown)} (known: {', '.join(CONVERTERS)})")
    kw: dict[str, Any] = {}
    for k, v in d.items():
        try:
            kw[k] = CONVERTERS[k](v)
        except (TypeError, ValueError):
            raise ConfigError(f"config key {k!r} has the wrong type: {v!r}") from None
    return RunConfig(**kw)


__all__ = ["RunConfig", "read_toml", "from_mapping", "UPLOADS", "ENCODINGS"]
