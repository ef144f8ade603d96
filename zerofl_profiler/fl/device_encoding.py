"""The upload encodings (dense, CSR, bitmask) on torch tensors, on whatever device the run trains on.

`zerofl_profiler.encoding` defines the encodings, their payload layout and closed-form sizes on
numpy (torch-free, for the FLOP/byte counter). This module produces the same payloads -- same
array names, dtypes, lengths and entry order -- from tensors on the run's device, so a client
encodes where it trained and the server decodes and aggregates there; only the Flower engine moves
the payload to the host, once, to serialise it. ``tests/fl/test_uploads.py`` checks every payload
array against the numpy encoding of the same tensor.

Per encoding: ``encode(flat, mask)``, ``decode(payload, numel, dtype)`` and ``sent_mask(payload,
numel)`` -- which entries the receiver can tell were sent (a dense payload carries no mask: only
its non-zero entries count as sent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import torch

from ..encoding import INDEX_BYTES, EncodedTensor, get_encoding
from ..errors import BadInputError

Payload = dict[str, torch.Tensor]
INDEX_DTYPE = torch.int32
assert torch.empty((), dtype=INDEX_DTYPE).element_size() == INDEX_BYTES
_BITS = (128, 64, 32, 16, 8, 4, 2, 1)  # np.packbits' default (big-endian) bit order


@dataclass(frozen=True)
class DeviceEncoding:
    """How one encoding encodes, decodes and reads the sent entries of a tensor on its device."""

    name: str
    encode: Callable[[torch.Tensor, torch.Tensor | None], Payload]  # mask None: every entry
    decode: Callable[[Mapping[str, torch.Tensor], int, torch.dtype], torch.Tensor]
    sent_mask: Callable[[Mapping[str, torch.Tensor], int], torch.Tensor]


def pack_bits(mask: torch.Tensor) -> torch.Tensor:
    """``np.packbits`` of a flat bool tensor: ceil(n/8) uint8, first entry in the highest bit."""
    n = int(mask.numel())
    pad = -n % 8
    bits = torch.nn.functional.pad(mask.to(torch.uint8), (0, pad)).view(-1, 8)
    weights = torch.tensor(_BITS, dtype=torch.uint8, device=mask.device)
    return (bits * weights).sum(dim=1, dtype=torch.uint8)


def unpack_bits(packed: torch.Tensor, numel: int) -> torch.Tensor:
    """``np.unpackbits(packed, count=numel)`` as a flat bool tensor."""
    shifts = torch.arange(7, -1, -1, dtype=torch.uint8, device=packed.device)
    return ((packed.view(-1, 1) >> shifts) & 1).view(-1)[:numel].bool()


def _dense_encode(flat: torch.Tensor, mask: torch.Tensor | None) -> Payload:
    if mask is None:
        return {"values": flat.clone()}
    return {"values": torch.where(mask, flat, torch.zeros((), dtype=flat.dtype, device=flat.device))}


def _dense_decode(p: Mapping[str, torch.Tensor], numel: int, dtype: torch.dtype) -> torch.Tensor:
    return p["values"].to(dtype, copy=True)


def _dense_sent(p: Mapping[str, torch.Tensor], numel: int) -> torch.Tensor:
    return p["values"].reshape(-1) != 0


def _flatnonzero_host(mask: torch.Tensor) -> torch.Tensor:
    """Positions of the set entries on the CPU: numpy's scan of the mask's own memory (about 2x torch.nonzero)."""
    return torch.from_numpy(np.flatnonzero(mask.numpy()))


def _flatnonzero_device(mask: torch.Tensor) -> torch.Tensor:
    return torch.nonzero(mask).view(-1)


#: device type -> how the set positions of a flat mask are listed (the same ascending positions everywhere).
FLATNONZERO: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"cpu": _flatnonzero_host}


def _csr_encode(flat: torch.Tensor, mask: torch.Tensor | None) -> Payload:
    if flat.numel() > torch.iinfo(INDEX_DTYPE).max:
        raise BadInputError(f"csr encoding uses int32 indices; a tensor of {flat.numel()} entries is too large")
    if mask is None:
        return {"values": flat.clone(), "indices": torch.arange(flat.numel(), dtype=INDEX_DTYPE, device=flat.device)}
    idx = FLATNONZERO.get(mask.device.type, _flatnonzero_device)(mask)  # ascending, as np.flatnonzero
    return {"values": flat[idx], "indices": idx.to(INDEX_DTYPE)}


def _csr_decode(p: Mapping[str, torch.Tensor], numel: int, dtype: torch.dtype) -> torch.Tensor:
    out = torch.zeros(numel, dtype=dtype, device=p["values"].device)
    out[p["indices"].long()] = p["values"].to(dtype)
    return out


def _csr_sent(p: Mapping[str, torch.Tensor], numel: int) -> torch.Tensor:
    idx = p["indices"].long()
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= numel):
        raise BadInputError(f"csr payload has indices outside 0..{numel - 1}")
    m = torch.zeros(numel, dtype=torch.bool, device=idx.device)
    m[idx] = True
    return m


def _bitmask_encode(flat: torch.Tensor, mask: torch.Tensor | None) -> Payload:
    if mask is None:
        mask = torch.ones(flat.numel(), dtype=torch.bool, device=flat.device)
    return {"bitmask": pack_bits(mask), "values": flat[mask]}


def _bitmask_sent(p: Mapping[str, torch.Tensor], numel: int) -> torch.Tensor:
    bits = p["bitmask"]
    if bits.dtype != torch.uint8 or bits.numel() != -(-numel // 8):
        raise BadInputError(f"bitmask payload must be {-(-numel // 8)} uint8 bytes, got {bits.dtype} {bits.numel()}")
    return unpack_bits(bits, numel)


def _bitmask_decode(p: Mapping[str, torch.Tensor], numel: int, dtype: torch.dtype) -> torch.Tensor:
    out = torch.zeros(numel, dtype=dtype, device=p["values"].device)
    out[unpack_bits(p["bitmask"], numel)] = p["values"].to(dtype)
    return out


#: name -> its torch implementation; the names are those of ``encoding.ENCODINGS`` (a test checks).
DEVICE_ENCODINGS: dict[str, DeviceEncoding] = {
    e.name: e for e in (
        DeviceEncoding("dense", _dense_encode, _dense_decode, _dense_sent),
        DeviceEncoding("csr", _csr_encode, _csr_decode, _csr_sent),
        DeviceEncoding("bitmask", _bitmask_encode, _bitmask_decode, _bitmask_sent),
    )
}


def dtype_name(dtype: torch.dtype) -> str:
    """The numpy-style name EncodedTensor.value_dtype holds ('float32'), so both encoders agree."""
    name = _NAMES.get(dtype)
    if name is None:
        name = _NAMES[dtype] = str(dtype).removeprefix("torch.")
    return name


_NAMES: dict[torch.dtype, str] = {}


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of a numpy-style name ('float32' -> torch.float32)."""
    dt = _DTYPES.get(name)
    if dt is None:
        dt = getattr(torch, name, None)
        if not isinstance(dt, torch.dtype):
            raise BadInputError(f"unknown tensor dtype {name!r}")
        _DTYPES[name] = dt
    return dt


_DTYPES: dict[str, torch.dtype] = {}


def _get(kind: str) -> DeviceEncoding:
    """The torch side of an encoding; an unknown name is the numpy registry's one-line error."""
    return DEVICE_ENCODINGS[get_encoding(kind).name]


def encode_tensor(values: torch.Tensor, mask: torch.Tensor | None, kind: str) -> EncodedTensor:
    """Encode a tensor on its device, keeping the entries where ``mask`` is True (all when None).

    The payload never aliases ``values``: the caller may go on training the model it came from.
    """
    enc = _get(kind)
    flat = values.reshape(-1)
    m = None if mask is None else mask.reshape(-1)
    if m is not None and (m.dtype != torch.bool or m.numel() != flat.numel()):
        raise BadInputError(f"mask must be {flat.numel()} booleans, got {m.numel()} {m.dtype}")
    return EncodedTensor(kind, tuple(values.shape), enc.encode(flat, m), dtype_name(flat.dtype))


def decode_tensor(t: EncodedTensor) -> torch.Tensor:
    """The dense tensor on the payload's device; entries that were not sent are 0."""
    return _get(t.kind).decode(t.payload, t.numel, torch_dtype(t.value_dtype)).reshape(t.shape)


def sent_mask(t: EncodedTensor) -> torch.Tensor:
    """Which entries (flat) the payload says were sent: what the receiver can know."""
    return _get(t.kind).sent_mask(t.payload, t.numel)


def payload_names(kind: str) -> list[str]:
    """The payload array names of an encoding, in the order ``Upload.to_arrays`` lists them."""
    return list(_get(kind).encode(torch.zeros(1), None))


__all__ = ["DEVICE_ENCODINGS", "DeviceEncoding", "decode_tensor", "dtype_name", "encode_tensor",
           "pack_bits", "payload_names", "sent_mask", "torch_dtype", "unpack_bits"]
