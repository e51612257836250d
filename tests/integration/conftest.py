"""A real Celery worker process for integration tests, wired to the pytest-django test database.

`./run test` starts PostgreSQL and Redis and sets KEEL_REQUIRE_SERVICES=1, so a missing service fails
these tests loudly there; a plain `pytest` on a laptop without the services skips them instead.
"""

import os
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from mlops.celery import app as celery_app
from tests.integration.processes import BIG_AUDIT_ROWS, SHARED_WORKER_PARTITION_ROWS, WorkerProcess, database_url


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


@pytest.fixture(scope="session")
def integration_media_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("integration-media")


@pytest.fixture(scope="session")
def test_database_url(integration_services, django_db_setup, django_db_blocker) -> str:
    from django.db import connection

    with django_db_blocker.unblock():
        return database_url(connection.settings_dict)  # NAME is now the test database


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


@pytest.fixture
def upsell_model(settings, integration_media_root, reviewer, pipeline, django_capture_on_commit_callbacks):
    """The upsell model with its reference profile, built in this process (its tasks run eagerly)."""
    from tests.audits.reference_scenario import upsell_reference_for

    settings.MEDIA_ROOT = integration_media_root
    celery_app.conf.task_always_eager = True
    try:
        return upsell_reference_for(reviewer, pipeline, django_capture_on_commit_callbacks)
    finally:
        celery_app.conf.task_always_eager = False


@pytest.fixture
def big_audit(upsell_model, pipeline, monkeypatch):
    """An audit of a drifted BIG_AUDIT_ROWS-row batch, started but not sent: the test sends it to the
    queue of its own workers (audit_worker)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from audits import services
    from demo.batches import shifted_batch, to_csv

    content = to_csv(
        shifted_batch(BIG_AUDIT_ROWS, start=date(2026, 10, 1), end=date(2026, 10, 31), seed=5, first_customer=10**6)
    )
    monkeypatch.setattr(services.jobs, "_queue", lambda job_id: None)
    batch = services.batch_register(
        model=upsell_model, actor=pipeline, name="big october", uploaded=SimpleUploadedFile("october.csv", content)
    )
    return services.audit_start(batch=batch, actor=pipeline)


@pytest.fixture
def audit_worker(test_database_url, integration_media_root, tmp_path):
    """Starts a worker of the test's own on a queue: `audit_worker(name, queue)`. A killed worker's task
    comes back after a 5-second visibility timeout, found by a worker looking every second (kombu's
    default look, every ~100 s, would be most of the wait); small chunks make an audit's progress visible."""

    def start(name: str, queue: str) -> WorkerProcess:
        return WorkerProcess(
            database_url=test_database_url,
            media_root=integration_media_root,
            queues=queue,
            log_path=tmp_path / f"{name}.log",
            extra_env={
                "KEEL_BROKER_VISIBILITY_TIMEOUT": "5",
                "KEEL_BROKER_RESTORE_SECONDS": "1",
                "KEEL_AUDIT_CHUNK_ROWS": "5000",
            },
        )

    return start


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
