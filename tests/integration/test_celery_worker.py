"""Artifact checks run by a real Celery worker process, through Redis, on PostgreSQL.

transaction=True: rows are committed, so the worker (another process, another connection) sees them,
and artifact_attach's on_commit hook really queues the check.
"""

import hashlib
import uuid
from pathlib import Path

import pytest
from celery.result import AsyncResult
from django.core.files.uploadedfile import SimpleUploadedFile

from registry import services
from registry.models import ArtifactCheck, TaskType
from registry.tasks import verify_artifact
from tests.artifacts import skops_artifact
from tests.integration.processes import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TIMEOUT = 30
ARTIFACT = skops_artifact()


def register_with_artifact(actor, name: str):
    model = services.model_create(
        name=name, task_type=TaskType.BINARY, owner=actor, description="Predicts which free-tier signups upgrade"
    )
    version = services.version_create(model=model, actor=actor, metrics={"roc_auc": 0.81})
    upload = SimpleUploadedFile("model.skops", ARTIFACT, content_type="application/octet-stream")
    return services.artifact_attach(version=version, uploaded=upload, sha256=hashlib.sha256(ARTIFACT).hexdigest())


def test_attaching_an_artifact_is_verified_by_the_worker(celery_worker, pipeline):
    version = register_with_artifact(pipeline, "soom-upsell")
    assert Path(version.artifact.path).read_bytes() == ARTIFACT

    check = wait_for(
        lambda: ArtifactCheck.objects.filter(version=version).first(),
        celery_worker,
        "the artifact check queued on commit",
    )

    assert check.ok, check.error
    assert check.computed_sha256 == hashlib.sha256(ARTIFACT).hexdigest() == version.artifact_sha256
    assert check.error == ""


def test_worker_records_a_tampered_artifact_once_per_check_key(celery_worker, pipeline):
    version = register_with_artifact(pipeline, "soom-upsell-tampered")
    # Let the on-commit check of the intact bytes finish before tampering, so nothing races.
    wait_for(
        lambda: ArtifactCheck.objects.filter(version=version, ok=True).exists(),
        celery_worker,
        "the artifact check queued on commit",
    )
    tampered = b"not the registered bytes"
    Path(version.artifact.path).write_bytes(tampered)
    check_key = str(uuid.uuid4())

    first = verify_artifact.delay(version.pk, check_key).get(timeout=TIMEOUT)

    check = ArtifactCheck.objects.get(check_key=check_key)
    assert first == {"check_id": check.pk, "ok": False}
    assert check.version_id == version.pk
    assert not check.ok
    assert check.computed_sha256 == hashlib.sha256(tampered).hexdigest()
    assert hashlib.sha256(tampered).hexdigest() in check.error
    assert version.artifact_sha256 in check.error

    again = verify_artifact.delay(version.pk, check_key)
    assert AsyncResult(again.id).get(timeout=TIMEOUT) == first
    assert ArtifactCheck.objects.filter(check_key=check_key).count() == 1
    assert list(version.artifact_checks.order_by("checked_at").values_list("ok", flat=True)) == [True, False]
