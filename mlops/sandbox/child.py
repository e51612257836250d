"""The scorer process: loads one artifact and answers requests about it over the protocol pipes.

Started by ``mlops.sandbox.runner`` as ``python -I -c <bootstrap>`` with a cleared environment, in a
fresh temporary directory. Its first message names the operation modules it may call, its limits
and the read-only code roots; it imports the libraries and those modules, sets its rlimits and
installs the audit hook (``hooks``), and only then reads the artifact's bytes. Every later request
is answered with data (JSON, float64 arrays), never a pickle.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import traceback

from .protocol import PREFIX, ProtocolError, array_blob, blob_frame, body_size, decode, encode

MAX_REQUEST_BYTES = 4 * 1024**3


class _Channel:
    def __init__(self, read_fd: int, write_fd: int):
        self.read_fd, self.write_fd = read_fd, write_fd

    def _read(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = os.read(self.read_fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def receive(self) -> tuple[dict, list[bytes]]:
        size = body_size(self._read(PREFIX))
        if size > MAX_REQUEST_BYTES:
            raise ProtocolError("a request too large")
        return decode(self._read(size))

    def send(self, header: dict, blobs: list[bytes] = ()) -> None:
        data = memoryview(encode(header, blobs))
        while data:
            data = data[os.write(self.write_fd, data) :]


def _load(raw: bytes, fmt: str, trusted: list[str]):
    if fmt == "skops":
        import skops.io

        return skops.io.loads(raw, trusted=trusted)
    if fmt == "pickle":
        import joblib

        return joblib.load(io.BytesIO(raw))
    raise ValueError(f"unknown artifact format {fmt!r}")


def describe(estimator) -> dict:
    steps = getattr(estimator, "steps", None)
    final = steps[-1][1] if isinstance(steps, list) and steps and isinstance(steps[-1], tuple) else estimator
    classes = getattr(estimator, "classes_", None)
    return {
        "type": type(estimator).__name__,
        "final_type": type(final).__name__,
        "classes": None if classes is None else _plain(classes),
        "has_predict_proba": hasattr(estimator, "predict_proba"),
    }


def _plain(values) -> list:
    import numpy as np

    return np.asarray(values).tolist()


def scores(estimator, frame, task_type: str):
    """The gate's scores: binary P(label 1), multiclass probabilities with the classes, else predict."""
    import numpy as np

    if task_type == "binary_classification":
        proba = estimator.predict_proba(frame)
        classes = _plain(estimator.classes_)
        positive = classes.index(1) if 1 in classes else len(classes) - 1
        return np.asarray(proba)[:, positive], None
    if task_type == "multiclass_classification":
        return estimator.predict_proba(frame), _plain(estimator.classes_)
    return np.asarray(estimator.predict(frame), dtype=float), None


def _operation(name: str, modules: list[str]):
    module_name, _, function = name.partition(":")
    if module_name not in modules or not function or function.startswith("_"):
        raise ProtocolError(f"operation {name!r} is not allowed")
    return getattr(sys.modules[module_name], function)


def _answer(request: dict, blobs: list[bytes], state: dict) -> tuple[dict, list[bytes]]:
    op = request.get("op")
    if op == "load":
        state["estimator"] = _load(blobs[0], request["format"], list(request.get("trusted") or []))
        return {"ok": True, "describe": describe(state["estimator"])}, []
    estimator = state["estimator"]
    if op == "scores":
        values, classes = scores(estimator, blob_frame(blobs[0]), request["task_type"])
        shape, blob = array_blob(values)
        return {"ok": True, "shape": shape, "classes": classes}, [blob]
    if op == "call":
        function = _operation(request["name"], state["modules"])
        return {"ok": True, "result": function(estimator, **(request.get("kwargs") or {}))}, []
    raise ProtocolError(f"unknown request {op!r}")


def _failure(exc: BaseException) -> dict:
    from mlops.clipping import MESSAGE_LIMIT, clip

    if isinstance(exc, MemoryError):
        return {"ok": False, "kind": "memory"}
    return {"ok": False, "kind": "error", "type": type(exc).__name__, "message": clip(str(exc), MESSAGE_LIMIT)}


def _prepare(start: dict) -> None:
    import joblib  # noqa: F401  (the libraries an artifact needs, imported before the hook)
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import scipy  # noqa: F401
    import sklearn.pipeline  # noqa: F401
    import skops.io  # noqa: F401

    from mlops import clipping  # noqa: F401

    from . import hooks

    for module in start["modules"]:
        importlib.import_module(module)
    hooks.set_limits(memory_bytes=start["memory_bytes"], cpu_seconds=start["cpu_seconds"])
    hooks.install_audit_hook(start["roots"])


def main() -> None:
    # The protocol gets private copies of fds 0 and 1; fd 1 then points at stderr (so a payload's
    # prints cannot corrupt the protocol) and fd 0 at /dev/null.
    channel = _Channel(os.dup(0), os.dup(1))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    start, _ = channel.receive()
    state = {"modules": list(start["modules"])}
    _prepare(start)
    channel.send({"ok": True, "ready": True})
    while True:
        try:
            request, blobs = channel.receive()
        except EOFError:
            return
        try:
            header, answer = _answer(request, blobs, state)
        except Exception as exc:  # the artifact's code may raise anything; it is answered as data
            header, answer = _failure(exc), []
            with contextlib.suppress(Exception):  # out of memory: the answer matters, not the traceback
                traceback.print_exc(limit=5)
        channel.send(header, answer)
