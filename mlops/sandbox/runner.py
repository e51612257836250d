"""The parent's side of a scorer: start the child process, exchange messages under a wall-clock
deadline, and turn a limit, a crash or the artifact's exception into a SandboxError whose reason
names the subject and the limit."""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
import selectors
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..clipping import MESSAGE_LIMIT, clip
from .limits import Limits, SandboxError, reason_for
from .protocol import PREFIX, ProtocolError, blob_array, body_size, decode, encode, frame_blob

__all__ = ["Scorer", "network_isolation", "open_model"]

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = "import sys; sys.path.insert(0, sys.argv[1]); from mlops.sandbox.child import main; main()"
UNSHARE = ["unshare", "--user", "--net", "--map-root-user"]
ANSWER_BYTES = 64 * 1024**2  # the most a call's JSON answer may take
STDERR_TAIL = 4096
START_SECONDS = 60  # importing the libraries, before the artifact's own wall limit applies


@functools.cache
def network_isolation() -> bool:
    """Whether the child can run in its own user and network namespace (no network at all)."""
    if not shutil.which("unshare"):
        return False
    try:
        return subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _code_roots(modules: list[str]) -> list[str]:
    """Where the child may read: the interpreter's prefixes, its site-packages, and the project's
    packages it imports (mlops and the operation modules' top packages), never the project root."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
    for package in {"mlops", *(module.split(".")[0] for module in modules)}:
        roots.add(str(PROJECT_ROOT / package))
    return sorted(roots)


def _environment(home: str) -> dict:
    one = "1"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": home,
        "TMPDIR": home,
        "MPLCONFIGDIR": home,
        "OMP_NUM_THREADS": one,
        "OPENBLAS_NUM_THREADS": one,
        "MKL_NUM_THREADS": one,
        "NUMBA_NUM_THREADS": one,
    }


class Scorer:
    """One artifact loaded in one child process. Not thread-safe: one request at a time."""

    def __init__(
        self, raw: bytes, fmt: str, trusted_types: list[str], limits: Limits, what: str, *, modules=()
    ) -> None:
        self.limits, self.what, self.modules = limits, what, list(modules)
        self.broken = False
        self._stderr: collections.deque = collections.deque(maxlen=STDERR_TAIL)
        self._home = tempfile.mkdtemp(prefix="keel-scorer-")
        command = [sys.executable, "-I", "-c", BOOTSTRAP, str(PROJECT_ROOT)]
        self._killed = False
        self.process = subprocess.Popen(
            [*UNSHARE, *command] if network_isolation() else command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_environment(self._home),
            cwd=self._home,
            close_fds=True,
            start_new_session=True,
        )
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            os.set_blocking(stream.fileno(), False)
        try:
            start = {
                "modules": self.modules,
                "roots": _code_roots(self.modules),
                "memory_bytes": limits.memory_bytes,
                "cpu_seconds": limits.cpu_seconds,
            }
            self._exchange(start, [], doing="starting", seconds=START_SECONDS + limits.wall_seconds)
            request = {"op": "load", "format": fmt, "trusted": list(trusted_types)}
            self._describe = self._exchange(request, [raw], doing="loading")[0]["describe"]
        except BaseException:
            self.close()
            raise

    # --- requests ---------------------------------------------------------------------------

    def describe(self) -> dict:
        """{"type", "final_type", "classes", "has_predict_proba"} of the loaded estimator."""
        return dict(self._describe)

    def scores(self, frame: pd.DataFrame, task_type: str) -> tuple[np.ndarray, list | None]:
        """The gate's scores of these rows: binary P(label 1) (classes None), multiclass
        probabilities and the classes, regression/ranking predictions."""
        width = max(1, len(self._describe.get("classes") or []))
        header, blobs = self._exchange(
            {"op": "scores", "task_type": task_type},
            [frame_blob(frame)],
            doing="scoring",
            max_bytes=len(frame) * width * 8 + ANSWER_BYTES,
        )
        if len(blobs) != 1:
            raise self._fail("protocol", "scoring", "no scores")
        try:
            values = blob_array(header.get("shape"), blobs[0], rows=len(frame))
        except ProtocolError as exc:
            raise self._fail("protocol", "scoring", str(exc)) from None
        classes = header.get("classes")
        matches = isinstance(classes, list) and values.ndim == 2 and values.shape[1] == len(classes)
        if classes is not None and not matches:
            raise self._fail("protocol", "scoring", "probabilities that do not match the classes")
        if task_type != "multiclass_classification" and values.ndim != 1:
            raise self._fail("protocol", "scoring", f"scores of shape {values.shape}")
        return values, classes

    def predict_fn(self, task_type: str):
        """DataFrame -> scores: for registry.evaluation.permutation_importance_top."""
        return lambda frame: self.scores(frame, task_type)[0]

    def call(self, name: str, *, doing: str = "explaining", **kwargs):
        """Run an allowlisted operation ("package.module:function") on the loaded estimator."""
        module = name.partition(":")[0]
        if module not in self.modules:
            raise ValueError(f"{name} is not an operation this scorer was started with")
        header, _ = self._exchange({"op": "call", "name": name, "kwargs": kwargs}, [], doing=doing)
        return header.get("result")

    # --- the process ------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return not self.broken and self.process.poll() is None

    def close(self) -> None:
        self.broken = True
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            with contextlib.suppress(OSError):
                stream.close()
        shutil.rmtree(self._home, ignore_errors=True)

    def _fail(self, kind: str, doing: str, detail: str = "") -> SandboxError:
        if kind != "error":
            self.close()
        tail = bytes(self._stderr).decode("utf-8", "replace").strip()
        if tail and kind not in ("error", "wall"):
            log.warning("The scorer of %s ended (%s); its last output: %s", self.what, kind, tail[-1000:])
        return SandboxError(reason_for(kind, what=self.what, doing=doing, limits=self.limits, detail=detail), kind=kind)

    def _died(self, doing: str) -> SandboxError:
        """Why the child went away: a signal or an exit status, read as the limit it means."""
        code, cpu = self._reap()
        if code is None:
            return self._fail("crash", doing, "it stopped answering")
        if code < 0:
            number = -code
            if number == signal.SIGXCPU:
                return self._fail("cpu", doing)
            if number == signal.SIGKILL:
                # Not ours: the CPU hard limit (its CPU time tells) or the kernel's OOM killer.
                return self._fail("cpu" if cpu is not None and cpu >= self.limits.cpu_seconds else "memory", doing)
            return self._fail("crash", doing, f"signal {number}")
        return self._fail("crash", doing, f"exit status {code}")

    def _reap(self, timeout: float = 10.0) -> tuple[int | None, float | None]:
        """(exit code, CPU seconds the child used), waiting up to `timeout`; (None, None) if it lives on."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            except ChildProcessError:  # already reaped elsewhere
                return self.process.returncode, None
            if pid:
                self.process.returncode = os.waitstatus_to_exitcode(status)
                return self.process.returncode, usage.ru_utime + usage.ru_stime
            if time.monotonic() > deadline:
                return None, None
            time.sleep(0.02)

    def _exchange(self, header: dict, blobs: list[bytes], *, doing: str, **bounds) -> tuple[dict, list[bytes]]:
        """Send one request and read its answer. Anything that interrupts the exchange (a time limit
        of the caller's job, a broken pipe) ends the process: it would answer out of turn."""
        try:
            return self._round_trip(header, blobs, doing=doing, **bounds)
        except SandboxError:
            raise
        except BaseException:
            self.close()
            raise

    def _round_trip(
        self, header: dict, blobs: list[bytes], *, doing: str, max_bytes: int = ANSWER_BYTES, seconds=None
    ) -> tuple[dict, list[bytes]]:
        if self.broken:
            raise self._fail("crash", doing, "an earlier request ended it")
        deadline = time.monotonic() + (self.limits.wall_seconds if seconds is None else seconds)
        outgoing = memoryview(encode(header, blobs))
        stdin, stdout, stderr = self.process.stdin, self.process.stdout, self.process.stderr
        received = bytearray()
        expected = None
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            selector.register(stderr, selectors.EVENT_READ)
            selector.register(stdin, selectors.EVENT_WRITE)
            writing = True
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._killed = True
                    raise self._fail("wall", doing)
                for key, _ in selector.select(timeout=left):
                    if key.fileobj is stdin:
                        try:
                            outgoing = outgoing[os.write(stdin.fileno(), outgoing) :]
                        except BrokenPipeError:
                            outgoing = outgoing[:0]
                        if not outgoing and writing:
                            selector.unregister(stdin)
                            writing = False
                        continue
                    try:
                        chunk = os.read(key.fileobj.fileno(), 1 << 20)
                    except BlockingIOError:
                        continue
                    if key.fileobj is stderr:
                        if chunk:
                            self._stderr.extend(chunk)
                        else:
                            selector.unregister(stderr)
                        continue
                    if not chunk:
                        raise self._died(doing)
                    received += chunk
                    if expected is None and len(received) >= PREFIX:
                        expected = PREFIX + body_size(bytes(received[:PREFIX]))
                        if expected > max_bytes + PREFIX:
                            raise self._fail("protocol", doing, "an answer larger than expected")
                    if expected is not None and len(received) >= expected:
                        if len(received) > expected:
                            raise self._fail("protocol", doing, "bytes after its answer")
                        return self._answer(bytes(received[PREFIX:]), doing)

    def _answer(self, body: bytes, doing: str) -> tuple[dict, list[bytes]]:
        try:
            header, blobs = decode(body)
        except ProtocolError as exc:
            raise self._fail("protocol", doing, str(exc)) from None
        if header.get("ok") is True:
            return header, blobs
        kind = header.get("kind")
        if kind == "memory":
            raise self._fail("memory", doing)
        name = clip(str(header.get("type") or "an error"), 100)
        message = clip(str(header.get("message") or ""), MESSAGE_LIMIT)
        raise self._fail("error", doing, f"{name}: {message}" if message else name)


@contextlib.contextmanager
def open_model(
    raw: bytes, fmt: str, trusted_types: list[str], limits: Limits, what: str, *, modules=()
) -> Iterator[Scorer]:
    """A scorer holding the artifact, closed (its process killed) when the block ends."""
    scorer = Scorer(raw, fmt, trusted_types, limits, what, modules=modules)
    try:
        yield scorer
    finally:
        scorer.close()
