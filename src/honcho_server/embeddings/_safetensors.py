"""Reads a .safetensors file (an 8-byte header length, a JSON header, raw little-endian tensors) into numpy
arrays: the format is small enough that the `safetensors` package is not needed for it."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

_DTYPES = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
           "U8": "u1", "BOOL": "?"}


def read_tensors(path: Path, data: bytes | None = None) -> dict[str, np.ndarray]:
    """Every tensor of the file, as read-only arrays over one buffer (`data`: the file's bytes, when read)."""
    raw = path.read_bytes() if data is None else data
    if len(raw) < 8:
        raise ValueError(f"{path} is not a safetensors file (too short)")
    (header_size,) = struct.unpack_from("<Q", raw, 0)
    if 8 + header_size > len(raw):
        raise ValueError(f"{path} is not a safetensors file (header runs past the end)")
    header = json.loads(raw[8 : 8 + header_size])
    body = memoryview(raw)[8 + header_size :]
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        dtype = np.dtype(_DTYPES[info["dtype"]])
        shape = tuple(info["shape"])
        if end > len(body) or end - start != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{path}: tensor {name!r} does not match its declared shape")
        tensors[name] = np.frombuffer(body[start:end], dtype=dtype).reshape(shape)
    return tensors
