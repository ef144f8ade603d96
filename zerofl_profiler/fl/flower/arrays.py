"""Models and ZeroFL uploads as Flower ArrayRecords, and back.

The global model travels dense, one array per state tensor. An upload travels as the arrays
``Upload.to_arrays()`` lists, each named ``<tensor>/<payload>`` (``conv2.weight/indices``,
``conv2.weight/values``; a dense tensor is just ``<tensor>``), so a sparse layer is literally its
indices + values. The server rebuilds the Upload with ``fl.uploads.from_arrays`` and checks the
names follow its own tensor order, so a reordered or truncated payload is an error, not a silent
misassignment. Flower's stock FedAvg cannot average these (their lengths vary per client).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from ...errors import BadInputError
from .extra import require_flower

require_flower(simulation=False)

from flwr.app import Array, ArrayRecord, ConfigRecord  # noqa: E402

SEP = "/"


def state_to_arrays(state: Mapping[str, Any]) -> ArrayRecord:
    """The dense model, one named array per state tensor, in state order (device tensors cross to the host here)."""
    from ..worker import to_host

    return ArrayRecord.from_array_dict({k: Array(np.asarray(v, order="C")) for k, v in to_host(state).items()})


def arrays_to_state(record: ArrayRecord) -> dict[str, np.ndarray]:
    """The dense model back as numpy arrays (dtypes kept, e.g. int64 BatchNorm counters)."""
    return {k: record[k].numpy() for k in record.keys()}


def upload_names(upload: Any) -> list[str]:
    """One name per entry of ``upload.to_arrays()``: ``tensor/payload`` or ``tensor``."""
    names: list[str] = []
    for key in upload.order:
        if key in upload.encoded:
            names.extend(f"{key}{SEP}{p}" for p in upload.encoded[key].payload)
        else:
            names.append(key)
    return names


def upload_to_records(upload: Any) -> tuple[ArrayRecord, ConfigRecord]:
    """The upload as named arrays plus what the server needs to check it (variant, encoding, bytes)."""
    arrays = upload.to_arrays()
    names = upload_names(upload)
    if len(names) != len(arrays):  # pragma: no cover - guards a change in Upload.to_arrays
        raise BadInputError(f"upload lists {len(arrays)} arrays for {len(names)} names")
    rec = ArrayRecord.from_array_dict({n: Array(np.asarray(a, order="C")) for n, a in zip(names, arrays)})
    meta = ConfigRecord({"variant": upload.variant, "encoding": upload.encoding, "nbytes": int(upload.nbytes)})
    return rec, meta


def records_to_upload(arrays: ArrayRecord, meta: Mapping[str, Any], global_state: Mapping[str, np.ndarray],
                      gemm_keys: Iterable[str]) -> Any:
    """Rebuild the client's Upload, checking names, order, and the byte count it claimed."""
    from ..uploads import from_arrays

    names = list(arrays.keys())
    tensors = [n.split(SEP, 1)[0] for n in names]
    order = {k: i for i, k in enumerate(global_state)}
    unknown = sorted(set(tensors) - set(order))
    if unknown:
        raise BadInputError(f"upload names tensors the model lacks: {unknown[:3]}")
    pos = [order[t] for t in tensors]
    if pos != sorted(pos):
        raise BadInputError("upload arrays are not in the model's tensor order")
    upload = from_arrays([arrays[n].numpy() for n in names], global_state, variant=str(meta["variant"]),
                         encoding=str(meta["encoding"]), gemm_keys=gemm_keys)
    if "nbytes" in meta and int(meta["nbytes"]) != upload.nbytes:
        raise BadInputError(f"upload claims {int(meta['nbytes'])} bytes but its arrays hold {upload.nbytes}")
    return upload
