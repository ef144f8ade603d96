"""Sparse upload encodings (dense, CSR, bitmask) with real numpy payloads.

The FLOP/byte counter and the FL uploads share these, so a byte count in ``layers.json`` and the
bytes a client actually sends come from the same code. ``encoded_nbytes`` is the closed form
(tested equal to ``EncodedTensor.nbytes`` of real encodings):

=========  ==============================================  ======================================
kind       payload arrays                                  bytes (numel n, kept entries k, value v)
=========  ==============================================  ======================================
dense      ``values`` (all n entries, unkept ones = 0)     ``n * v``
csr        ``values`` (k), ``indices`` (k, int32)          ``k * (v + 4)`` (as the ZeroFL paper counts)
bitmask    ``bitmask`` (ceil(n/8) uint8), ``values`` (k)   ``ceil(n / 8) + k * v``
=========  ==============================================  ======================================

``csr`` of a flat vector is one row: one int32 column index per kept value (the single row
pointer is not counted, as in the paper). Index width is fixed at 32 bits, so a tensor with 2**31
or more entries cannot be CSR-encoded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol

import numpy as np

from .errors import BadInputError

INDEX_DTYPE = np.int32
INDEX_BYTES = 4


class PayloadArray(Protocol):
    """A payload array: a numpy array or a torch tensor (both have a shape and a size in bytes)."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def nbytes(self) -> int: ...


@dataclass(frozen=True)
class EncodedTensor:
    """One encoded tensor: what would go on the wire, plus what is needed to decode it.

    The payload arrays are numpy arrays here, or torch tensors on the run's device when
    ``fl.device_encoding`` encoded them; sizes read only ``.shape`` and ``.nbytes``, which both have.
    """

    kind: str
    shape: tuple[int, ...]
    payload: Mapping[str, PayloadArray] = field(default_factory=dict)
    value_dtype: str = "float32"

    @property
    def numel(self) -> int:
        """Entries of the decoded tensor."""
        return math.prod(int(d) for d in self.shape)

    @property
    def nnz(self) -> int:
        """Values actually carried by the payload."""
        return int(math.prod(self.payload["values"].shape))

    @property
    def nbytes(self) -> int:
        """Real size of the payload arrays (what the upload costs)."""
        return int(sum(a.nbytes for a in self.payload.values()))


@dataclass(frozen=True)
class Encoding:
    """How one kind encodes, decodes and sizes a tensor."""

    name: str
    encode: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
    decode: Callable[[Mapping[str, np.ndarray], int, np.dtype], np.ndarray]
    nbytes: Callable[[int, int, int], int]
    doc: str


ENCODINGS: dict[str, Encoding] = {}


def register_encoding(enc: Encoding) -> Encoding:
    """Add an encoding to the registry; a second one of the same name is a bug."""
    if enc.name in ENCODINGS:
        raise BadInputError(f"encoding {enc.name!r} is already registered")
    ENCODINGS[enc.name] = enc
    return enc


def _dense_encode(flat: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    return {"values": np.where(mask, flat, np.zeros((), dtype=flat.dtype))}


def _dense_decode(p: Mapping[str, np.ndarray], numel: int, dtype: np.dtype) -> np.ndarray:
    return np.asarray(p["values"], dtype=dtype).copy()


def _csr_encode(flat: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    if flat.size > np.iinfo(INDEX_DTYPE).max:
        raise BadInputError(f"csr encoding uses int32 indices; a tensor of {flat.size} entries is too large")
    idx = np.flatnonzero(mask).astype(INDEX_DTYPE)
    return {"values": flat[idx], "indices": idx}


def _csr_decode(p: Mapping[str, np.ndarray], numel: int, dtype: np.dtype) -> np.ndarray:
    out = np.zeros(numel, dtype=dtype)
    out[p["indices"].astype(np.int64)] = p["values"]
    return out


def _bitmask_encode(flat: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    return {"bitmask": np.packbits(mask), "values": flat[mask]}


def _bitmask_decode(p: Mapping[str, np.ndarray], numel: int, dtype: np.dtype) -> np.ndarray:
    mask = np.unpackbits(p["bitmask"], count=numel).astype(bool)
    out = np.zeros(numel, dtype=dtype)
    out[mask] = p["values"]
    return out


register_encoding(Encoding("dense", _dense_encode, _dense_decode,
                           lambda n, k, v: n * v, "every value, unkept ones sent as 0"))
register_encoding(Encoding("csr", _csr_encode, _csr_decode,
                           lambda n, k, v: k * (v + INDEX_BYTES), "value + one int32 index per kept entry"))
register_encoding(Encoding("bitmask", _bitmask_encode, _bitmask_decode,
                           lambda n, k, v: -(-n // 8) + k * v, "one bit per entry (rounded up to bytes) + kept values"))


def get_encoding(kind: str) -> Encoding:
    """Look an encoding up by name, with a one-line error naming the known ones."""
    try:
        return ENCODINGS[kind]
    except KeyError:
        raise BadInputError(f"unknown encoding {kind!r}; known: {', '.join(ENCODINGS)}") from None


def encode(values: np.ndarray, mask: np.ndarray | None, kind: str) -> EncodedTensor:
    """Encode a tensor, keeping the entries where ``mask`` is True (all of them when None)."""
    enc = get_encoding(kind)
    arr = np.asarray(values)
    flat = arr.reshape(-1)
    if mask is None:
        m = np.ones(flat.size, dtype=bool)
    else:
        m = np.asarray(mask)
        if m.dtype != np.bool_:
            raise BadInputError(f"mask must be boolean, got {m.dtype}")
        if m.size != flat.size:
            raise BadInputError(f"mask has {m.size} entries, values have {flat.size}")
        m = m.reshape(-1)
    return EncodedTensor(kind, tuple(int(s) for s in arr.shape), enc.encode(flat, m), str(flat.dtype))


def decode(t: EncodedTensor) -> np.ndarray:
    """Rebuild the dense tensor; entries that were not sent are 0."""
    enc = get_encoding(t.kind)
    return enc.decode(t.payload, t.numel, np.dtype(t.value_dtype)).reshape(t.shape)


def encoded_nbytes(numel: int, nnz: int, kind: str, value_bytes: int = 4) -> int:
    """Closed-form payload size, so byte counts need no tensor (equals ``encode(...).nbytes``)."""
    n, k = int(numel), int(nnz)
    if n < 0 or k < 0 or k > n:
        raise BadInputError(f"need 0 <= nnz <= numel, got nnz={nnz}, numel={numel}")
    return int(get_encoding(kind).nbytes(n, k, int(value_bytes)))
