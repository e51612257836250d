"""A real Celery worker process for integration tests, wired to the pytest-django test database.

`./run test` starts PostgreSQL and Redis and sets KEEL_REQUIRE_SERVICES=1, so a missing service fails
these tests loudly there; a plain `pytest` on a laptop without the services skips them instead.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings

from mlops.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
WORKER_START_TIMEOUT = 60
# Small partitions, so an integration-sized file exercises the parallel (chord) path of an audit.
SHARED_WORKER_PARTITION_ROWS = 40_000


def _missing_services() -> list[str]:
    missing = []
    if not os.environ.get("REDIS_URL"):
        missing.append("REDIS_URL is not set (need a Redis broker)")
    if django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        missing.append("DATABASE_URL does not point to PostgreSQL")
    return missing


@pytest.fixture(scope="session")
def integration_services():
    missing = _missing_services()
    if missing:
        reason = "integration tests need real services: " + "; ".join(missing) + ". Run them with ./run test."
        if os.environ.get("KEEL_REQUIRE_SERVICES") == "1":
            pytest.fail(f"KEEL_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
        pytest.skip(reason)


def _database_url(settings_dict: dict) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "localhost"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


@pytest.fixture(scope="session")
def integration_media_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("integration-media")


class WorkerProcess:
    """A `celery -A mlops worker` subprocess on the test database, its log kept for failure reports."""

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
        self.log_path = log_path
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mlops.settings",
            "DATABASE_URL": database_url,
            "DB_CONN_MAX_AGE": "0",
            "REDIS_URL": os.environ["REDIS_URL"],
            "MEDIA_ROOT": str(media_root),
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or shutil.which("celery")
        command = [celery] if celery else [sys.executable, "-m", "celery"]
        command += [
            "-A",
            "mlops",
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
        self._log = open(log_path, "ab")  # noqa: SIM115 (open while the process runs; closed by stop())
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def log(self) -> str:
        self._log.flush()
        return f"--- celery worker log ({self.log_path}) ---\n{self.log_path.read_text(errors='replace')[-8000:]}"

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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown: the worker finishes its current task and exits
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


@pytest.fixture(scope="session")
def test_database_url(integration_services, django_db_setup, django_db_blocker) -> str:
    from django.db import connection

    with django_db_blocker.unblock():
        return _database_url(connection.settings_dict)  # NAME is now the test database


@pytest.fixture(scope="session")
def celery_worker_process(test_database_url, integration_media_root, tmp_path_factory):
    """The shared worker of the integration tests; yields it.

    Requests django_db_setup (through test_database_url), so the worker stops before pytest-django
    drops the test database.
    """
    worker = WorkerProcess(
        database_url=test_database_url,
        media_root=integration_media_root,
        log_path=tmp_path_factory.mktemp("celery-worker") / "worker.log",
        extra_env={"KEEL_AUDIT_PARTITION_ROWS": str(SHARED_WORKER_PARTITION_ROWS)},
    )
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def celery_worker(celery_worker_process, settings, integration_media_root, request):
    """Per test: the worker is alive, this process sends tasks to Redis (never eagerly) and shares
    MEDIA_ROOT with the worker. The worker's log is attached to a failing test's report."""
    assert celery_worker_process.process.poll() is None, "The Celery worker died.\n" + celery_worker_process.log()
    settings.MEDIA_ROOT = integration_media_root
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield celery_worker_process
    celery_app.conf.task_always_eager = eager
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        report.sections.append(("celery worker log", celery_worker_process.log()))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
