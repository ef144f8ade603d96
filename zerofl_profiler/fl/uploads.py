"""ZeroFL uploads: which entries a client sends, encoded for real so bytes are measured, not guessed.

Variants (registry ``UPLOADS``), applied per Conv2d/Linear weight tensor (the ``gemm_keys`` the
engine passes); biases, BatchNorm parameters and buffers always go dense, as trained:

==================  ===============================  ==========================  ===========
variant             positions kept                   values sent                 values are
==================  ===============================  ==========================  ===========
dense               all (encoded ``dense``)          trained weights w           weights
topk-weights        top-k of |w|                     w                           weights
diff-topk-weights   top-k of |w| (same positions)    w - w_global                diffs
topk-diff           top-k of |w - w_global|          w - w_global                diffs
==================  ===============================  ==========================  ===========

k = vocab.kept_count(numel, min(1, 1 - sparsity + mask_ratio)) per tensor (the same rule the SWAT
masks use). The kept entries are encoded with ``zerofl_profiler.encoding`` (csr | bitmask | dense);
``Upload.nbytes`` is the size of the real payload arrays, ``Upload.nbytes_dense`` what a dense
upload of the same tensors costs (equal to the client's dense download).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from ..encoding import EncodedTensor, decode, encode, get_encoding
from ..errors import BadInputError, check_fraction, unknown_name
from ..vocab import kept_count
from .aggregate import Contribution

ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class UploadVariant:
    """A registry entry: how positions are ranked and what is sent at them."""

    name: str
    score: ScoreFn | None  # None: every entry is sent
    values_are: str  # "weights" or "diffs"
    doc: str


UPLOADS: dict[str, UploadVariant] = {
    v.name: v for v in (
        UploadVariant("dense", None, "weights", "every weight, dense"),
        UploadVariant("topk-weights", lambda new, glob: np.abs(new), "weights",
                      "top-k trained weights by magnitude"),
        UploadVariant("diff-topk-weights", lambda new, glob: np.abs(new), "diffs",
                      "new - global at the top-k trained weights' positions"),
        UploadVariant("topk-diff", lambda new, glob: np.abs(new - glob), "diffs",
                      "new - global at the top-k largest changes"),
    )
}


def get_upload_variant(name: str) -> UploadVariant:
    """Look a variant up by name; an unknown name lists the known ones."""
    try:
        return UPLOADS[name]
    except KeyError:
        raise BadInputError(unknown_name("upload", name, UPLOADS)) from None


def kept_fraction(sparsity: float, mask_ratio: float) -> float:
    """ZeroFL's upload density 1 - sparsity + mask_ratio, clamped to 1."""
    s = check_fraction("sparsity", sparsity)
    m = check_fraction("mask ratio", mask_ratio, allow_one=True)
    return min(1.0, 1.0 - s + m)


def topk_positions(score: np.ndarray, density: float) -> np.ndarray:
    """Boolean mask (flat) of the k highest scores; k rounded as the SWAT masks round it."""
    flat = np.asarray(score).reshape(-1)
    k = kept_count(flat.size, density)
    mask = np.zeros(flat.size, dtype=bool)
    if k >= flat.size:
        mask[:] = True
    elif k > 0:
        mask[np.argpartition(-flat, k - 1)[:k]] = True
    return mask


@dataclass(frozen=True, eq=False)
class Upload:
    """One client's upload: encoded conv/linear weights plus the dense rest, with its real size."""

    variant: str
    encoding: str  # encoding of the conv/linear weight tensors ("dense" for the dense variant)
    values_are: str  # of the encoded tensors; raw tensors are always weights
    encoded: Mapping[str, EncodedTensor]
    raw: Mapping[str, np.ndarray]
    order: tuple[str, ...]  # state-dict order, fixes the layout of to_arrays()

    @property
    def nbytes(self) -> int:
        """Bytes actually sent: the encoded payload arrays plus the dense tensors."""
        return int(sum(e.nbytes for e in self.encoded.values()) + sum(a.nbytes for a in self.raw.values()))

    @property
    def nbytes_dense(self) -> int:
        """Bytes of a dense upload of the same tensors (fp32 weights, buffers at their dtype)."""
        enc = sum(e.numel * np.dtype(e.value_dtype).itemsize for e in self.encoded.values())
        return int(enc + sum(a.nbytes for a in self.raw.values()))

    def to_arrays(self) -> list[np.ndarray]:
        """A flat list for Flower: per tensor in state order, its payload arrays (or the raw array)."""
        out: list[np.ndarray] = []
        for key in self.order:
            if key in self.encoded:
                out.extend(self.encoded[key].payload.values())
            else:
                out.append(self.raw[key])
        return out


def _check_states(new_state: Mapping[str, np.ndarray], global_state: Mapping[str, np.ndarray],
                  gemm_keys: Iterable[str]) -> set[str]:
    """Same keys and shapes in both states; gemm keys exist and are floating point."""
    if set(new_state) != set(global_state):
        diff = sorted(set(new_state) ^ set(global_state))
        raise BadInputError(f"client and global model differ in tensors: {diff[:5]}")
    gk = set(gemm_keys)
    missing = sorted(gk - set(global_state))
    if missing:
        raise BadInputError(f"gemm keys not in the model state: {missing[:5]}")
    for k, v in new_state.items():
        if np.shape(v) != np.shape(global_state[k]):
            raise BadInputError(f"{k}: client shape {np.shape(v)} != global {np.shape(global_state[k])}")
        if k in gk and not np.issubdtype(np.asarray(v).dtype, np.floating):
            raise BadInputError(f"{k}: only floating-point weights can be top-k'd, got {np.asarray(v).dtype}")
    return gk


def make_upload(kind: str, new_state: Mapping[str, np.ndarray], global_state: Mapping[str, np.ndarray],
                sparsity: float, mask_ratio: float, encoding: str, gemm_keys: Iterable[str]) -> Upload:
    """What one client sends after local training, encoded as it would go on the wire."""
    variant = get_upload_variant(kind)
    get_encoding(encoding)
    gk = _check_states(new_state, global_state, gemm_keys)
    density = kept_fraction(sparsity, mask_ratio)
    enc_kind = "dense" if variant.score is None else encoding
    encoded: dict[str, EncodedTensor] = {}
    raw: dict[str, np.ndarray] = {}
    for key in global_state:  # the server's order, so to_arrays() matches from_arrays()
        new = np.asarray(new_state[key])
        if key not in gk:
            raw[key] = np.array(new, copy=True)
            continue
        glob = np.asarray(global_state[key]).astype(new.dtype, copy=False)
        mask = None if variant.score is None else topk_positions(variant.score(new, glob), density)
        sent = new if variant.values_are == "weights" else (new - glob)
        encoded[key] = encode(np.ascontiguousarray(sent), mask, enc_kind)
    return Upload(kind, enc_kind, variant.values_are, encoded, raw, tuple(global_state))


# ----------------------------------------------------------------------------- decoding
def _mask_dense(t: EncodedTensor) -> np.ndarray:
    """A dense payload carries no mask: the server can only take non-zero entries as sent."""
    return np.asarray(t.payload["values"]).reshape(-1) != 0


def _mask_csr(t: EncodedTensor) -> np.ndarray:
    idx = np.asarray(t.payload["indices"], dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= t.numel):
        raise BadInputError(f"csr payload has indices outside 0..{t.numel - 1}")
    m = np.zeros(t.numel, dtype=bool)
    m[idx] = True
    return m


def _mask_bitmask(t: EncodedTensor) -> np.ndarray:
    bits = np.asarray(t.payload["bitmask"])
    if bits.dtype != np.uint8 or bits.size != -(-t.numel // 8):
        raise BadInputError(f"bitmask payload must be {-(-t.numel // 8)} uint8 bytes, got {bits.dtype} {bits.size}")
    return np.unpackbits(bits, count=t.numel).astype(bool)


#: Which entries a payload says were sent, per encoding (what the receiver can know).
SENT_MASK: dict[str, Callable[[EncodedTensor], np.ndarray]] = {
    "dense": _mask_dense, "csr": _mask_csr, "bitmask": _mask_bitmask,
}


@dataclass(frozen=True, eq=False)
class DecodedUpload:
    """An upload as the server reads it: full-shape values (0 where unsent) and sent masks."""

    values: Mapping[str, np.ndarray]
    masks: Mapping[str, np.ndarray | None]  # None: every entry sent (dense tensors)
    values_are: Mapping[str, str]

    def contribution(self, num_samples: int) -> Contribution:
        """The aggregation input, weighted by the client's sample count."""
        return Contribution(self.values, self.masks, self.values_are, int(num_samples))

    def client_model(self, global_state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The client model the server can rebuild: diffs added to w_global, unsent weights 0."""
        return {k: (np.asarray(global_state[k]) + v).astype(np.asarray(global_state[k]).dtype)
                if self.values_are[k] == "diffs" else v for k, v in self.values.items()}


def decode_upload(upload: Upload, global_state: Mapping[str, np.ndarray]) -> DecodedUpload:
    """Decode every tensor and its sent mask, checked against the global model's tensors."""
    keys = set(upload.encoded) | set(upload.raw)
    if keys != set(global_state):
        raise BadInputError(f"upload tensors differ from the global model: {sorted(keys ^ set(global_state))[:5]}")
    every_entry = get_upload_variant(upload.variant).score is None  # the dense variant sent all
    values: dict[str, np.ndarray] = {}
    masks: dict[str, np.ndarray | None] = {}
    kinds: dict[str, str] = {}
    for key in global_state:
        shape = np.shape(global_state[key])
        if key in upload.encoded:
            t = upload.encoded[key]
            if tuple(t.shape) != tuple(shape):
                raise BadInputError(f"{key}: upload shape {t.shape} != global {shape}")
            mask = SENT_MASK[t.kind](t)
            carried = t.numel if t.kind == "dense" else int(mask.sum())
            if t.nnz != carried:
                raise BadInputError(f"{key}: {t.kind} payload carries {t.nnz} values for {carried} positions")
            values[key] = decode(t)
            masks[key] = None if every_entry else mask.reshape(shape)
            kinds[key] = upload.values_are
        else:
            arr = np.asarray(upload.raw[key])
            if arr.shape != shape:
                raise BadInputError(f"{key}: upload shape {arr.shape} != global {shape}")
            values[key], masks[key], kinds[key] = arr, None, "weights"
    return DecodedUpload(values, masks, kinds)


def from_arrays(arrays: Sequence[np.ndarray], global_state: Mapping[str, np.ndarray], *, variant: str,
                encoding: str, gemm_keys: Iterable[str]) -> Upload:
    """Rebuild an Upload from ``Upload.to_arrays()`` output, given what the server already knows."""
    v = get_upload_variant(variant)
    enc_kind = "dense" if v.score is None else encoding
    names = list(encode(np.zeros(1, np.float32), None, get_encoding(enc_kind).name).payload)
    gk = set(gemm_keys)
    need = sum(len(names) if k in gk else 1 for k in global_state)
    if len(arrays) != need:
        raise BadInputError(f"upload has {len(arrays)} arrays; {variant}/{enc_kind} for this model needs {need}")
    it = iter(arrays)
    encoded: dict[str, EncodedTensor] = {}
    raw: dict[str, np.ndarray] = {}
    for key, g in global_state.items():
        g = np.asarray(g)
        if key in gk:
            payload = {n: np.asarray(next(it)) for n in names}
            encoded[key] = EncodedTensor(enc_kind, tuple(g.shape), payload, str(payload["values"].dtype))
        else:
            raw[key] = np.asarray(next(it))
    return Upload(variant, enc_kind, v.values_are, encoded, raw, tuple(global_state))


def aggregate_uploads(global_state: Mapping[str, np.ndarray], uploads: Sequence[tuple[Upload, int]],
                      method: str = "fedavg") -> dict[str, np.ndarray]:
    """Server step: decode each (upload, num_samples) and aggregate into the next global model."""
    from .aggregate import aggregate

    contribs = [decode_upload(u, global_state).contribution(n) for u, n in uploads]
    return aggregate(global_state, contribs, method)


__all__ = ["UPLOADS", "Upload", "UploadVariant", "DecodedUpload", "make_upload",
           "decode_upload", "from_arrays", "aggregate_uploads", "kept_fraction", "topk_positions",
           "get_upload_variant", "SENT_MASK"]
