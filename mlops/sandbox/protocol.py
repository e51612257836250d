"""The scorer's wire format: length-prefixed messages, each a JSON header and raw byte blobs.

A message is 8 bytes (big-endian length of the rest), 4 bytes (length of the JSON header), the
header, then its blobs back to back; the header's "blobs" lists their sizes. Arrays travel as raw
little-endian float64 bytes with their shape in the header, frames (parent to child only) as Parquet
bytes. Nothing is ever pickled in either direction, and the parent refuses an answer larger than
the size it expects.
"""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pandas as pd

__all__ = ["ProtocolError", "decode", "encode", "array_blob", "blob_array", "frame_blob", "blob_frame"]

_TOTAL = struct.Struct(">Q")
_HEADER = struct.Struct(">I")
PREFIX = _TOTAL.size


class ProtocolError(ValueError):
    """A message that is truncated, too large or not what was expected."""


def encode(header: dict, blobs: list[bytes] = ()) -> bytes:
    header = {**header, "blobs": [len(blob) for blob in blobs]}
    text = json.dumps(header, allow_nan=True).encode("utf-8")
    body = b"".join([_HEADER.pack(len(text)), text, *blobs])
    return _TOTAL.pack(len(body)) + body


def body_size(prefix: bytes) -> int:
    return _TOTAL.unpack(prefix)[0]


def decode(body: bytes) -> tuple[dict, list[bytes]]:
    """(header, blobs) of a message's body (everything after its 8-byte length)."""
    if len(body) < _HEADER.size:
        raise ProtocolError("a message shorter than its header length")
    (size,) = _HEADER.unpack_from(body)
    start = _HEADER.size + size
    try:
        header = json.loads(body[_HEADER.size : start].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"an unreadable header ({exc})") from None
    if not isinstance(header, dict) or not isinstance(header.get("blobs"), list):
        raise ProtocolError("a header without its blob sizes")
    blobs = []
    for length in header["blobs"]:
        if not isinstance(length, int) or length < 0 or start + length > len(body):
            raise ProtocolError("a blob longer than its message")
        blobs.append(body[start : start + length])
        start += length
    if start != len(body):
        raise ProtocolError("bytes after the last blob")
    return header, blobs


def array_blob(values) -> tuple[list[int], bytes]:
    array = np.ascontiguousarray(np.asarray(values, dtype="<f8"))
    return list(array.shape), array.tobytes()


def blob_array(shape, blob: bytes, *, rows: int) -> np.ndarray:
    """The float64 array a blob holds; its shape must be (rows,) or (rows, k)."""
    if not isinstance(shape, list) or not 1 <= len(shape) <= 2 or any(not isinstance(n, int) or n < 0 for n in shape):
        raise ProtocolError(f"an array of shape {shape!r}")
    if shape[0] != rows:
        raise ProtocolError(f"{shape[0]} scores for {rows} rows")
    if int(np.prod(shape)) * 8 != len(blob):
        raise ProtocolError("an array whose bytes do not match its shape")
    return np.frombuffer(blob, dtype="<f8").reshape(shape).astype(float)


def frame_blob(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def blob_frame(blob: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(blob))
