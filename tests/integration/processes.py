"""The processes integration tests run beside pytest: `celery -A mlops worker` (or `beat`) on the test
database, and waiting for what it does."""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from mlops.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
WORKER_START_TIMEOUT = 60
TIMEOUT = 30
# Small partitions, so an integration-sized file exercises the parallel (chord) path of an audit.
SHARED_WORKER_PARTITION_ROWS = 40_000
# A file a worker takes long enough to audit that it can be killed part-way through (the big_audit fixture).
BIG_AUDIT_ROWS = 300_000


def database_url(settings_dict: dict) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "localhost"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


class CeleryProcess:
    """A `celery -A mlops <program> ...` subprocess on the test database, its log kept for failure reports."""

    def __init__(self, arguments: list[str], *, database_url: str, log_path: Path, extra_env: dict | None = None):
        self.program = arguments[0]
        self.log_path = log_path
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mlops.settings",
            "DATABASE_URL": database_url,
            "DB_CONN_MAX_AGE": "0",
            "REDIS_URL": os.environ["REDIS_URL"],
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or shutil.which("celery")
        command = ([celery] if celery else [sys.executable, "-m", "celery"]) + ["-A", "mlops", *arguments]
        self._log = open(log_path, "ab")  # noqa: SIM115 (open while the process runs; closed by stop())
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def log(self) -> str:
        self._log.flush()
        tail = self.log_path.read_text(errors="replace")[-8000:]
        return f"--- celery {self.program} log ({self.log_path}) ---\n{tail}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown: a worker finishes its current task and exits
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


class WorkerProcess(CeleryProcess):
    """A `celery -A mlops worker` on one queue, one task at a time."""

    def __init__(
        self,
        *,
        database_url: str,
        media_root: Path,
        log_path: Path,
        queues: str = "celery",
        extra_env: dict | None = None,
    ):
        self.nodename = f"keel-test-{uuid.uuid4().hex[:8]}@localhost"
        arguments = [
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=INFO",
            "-n",
            self.nodename,
            "-Q",
            queues,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        env = {"MEDIA_ROOT": str(media_root), **(extra_env or {})}
        super().__init__(arguments, database_url=database_url, log_path=log_path, extra_env=env)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                pytest.fail(
                    f"The Celery worker exited with code {self.process.returncode} before answering ping."
                    f"\n{self.log()}",
                    pytrace=False,
                )
            if celery_app.control.ping(destination=[self.nodename], timeout=0.5):
                return
            if time.monotonic() > deadline:
                pytest.fail(
                    f"The Celery worker did not answer ping within {WORKER_START_TIMEOUT}s.\n{self.log()}",
                    pytrace=False,
                )


def audit_ended(job):
    """The audit job, fresh from the database, once it has succeeded or failed (for wait_for)."""
    return type(job).objects.filter(pk=job.pk, state__in=["succeeded", "failed"]).first()


def wait_for(condition, worker, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert worker.process.poll() is None, f"The Celery worker died while waiting for {what}.\n{worker.log()}"
        time.sleep(0.2)
    pytest.fail(f"Timed out after {timeout}s waiting for {what}.\n{worker.log()}", pytrace=False)
