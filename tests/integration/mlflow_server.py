"""A real `mlflow server` on loopback (SQLite backend, proxied artifacts in a directory), from the
virtualenv `./run test` makes (benchmarks/.venv-mlflow; KEEL_MLFLOW_SERVER names its `mlflow`).
The MLflow import test copies from it; benchmarks/tracking_vs_mlflow.py times it beside Keel."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_EXECUTABLE = ROOT / "benchmarks" / ".venv-mlflow" / "bin" / "mlflow"
START_TIMEOUT = 120


class MlflowServerMissing(RuntimeError):
    pass


def mlflow_executable() -> Path:
    executable = Path(os.environ.get("KEEL_MLFLOW_SERVER") or DEFAULT_EXECUTABLE)
    if not executable.exists():
        raise MlflowServerMissing(
            f"No MLflow server at {executable}: `./run test` installs it into benchmarks/.venv-mlflow "
            "(or: python3 -m venv benchmarks/.venv-mlflow && "
            "benchmarks/.venv-mlflow/bin/pip install -r benchmarks/requirements-mlflow.txt)"
        )
    return executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    """`mlflow server` in a directory of its own; `url` is its tracking URI once `start()` returns."""

    def __init__(self, directory: Path, *, backend_store_uri: str | None = None, workers: int = 1):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.backend_store_uri = backend_store_uri or f"sqlite:///{self.directory / 'mlflow.db'}"
        self.workers = workers
        self.log_path = self.directory / "mlflow-server.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> MlflowServer:
        command = [
            str(mlflow_executable()),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--backend-store-uri",
            self.backend_store_uri,
            "--artifacts-destination",
            str(self.directory / "artifacts"),
        ]
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "PYTHONUNBUFFERED": "1"}
        # The server must not see Keel's tracking settings or virtualenv.
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "VIRTUAL_ENV", "PYTHONPATH"):
            env.pop(name, None)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (open while the server runs; closed by stop())
        self.process = subprocess.Popen(
            command,
            cwd=self.directory,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own process group: `mlflow server` spawns uvicorn and its workers, which outlive a
            # terminated `mlflow` command unless the whole group is signalled.
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited with code {self.process.returncode}.\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer /health within {START_TIMEOUT}s.\n{self.log()}")

    def log(self) -> str:
        if self.log_path.exists():
            return f"--- mlflow server log ({self.log_path}) ---\n{self.log_path.read_text(errors='replace')[-6000:]}"
        return ""

    def stop(self) -> None:
        if self.process:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
            # Workers that did not stop with the command, and the command itself if it hung.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
