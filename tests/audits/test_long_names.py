"""Audits of files with over-long names: an upload is stored under a bounded name and audited; a path
longer than the file system allows is refused when it is sent or scheduled, and a schedule that
already has one alerts with the reason on each run instead of failing with an error."""

from datetime import UTC, date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits import services
from audits.models import Alert, AuditJob, AuditSchedule, DataBatch
from demo.batches import clean_batch, to_csv
from tests.audits.factories import AuditScheduleFactory

NOV_23 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
LONG_PATH = "incoming/" + "feed-" * 60 + "%Y-%m-%d.csv"  # over 300 characters, one name of them


@pytest.fixture
def data_root(settings, tmp_path):
    settings.KEEL_DATA_ROOT = tmp_path / "data"
    (settings.KEEL_DATA_ROOT / "incoming").mkdir(parents=True)
    return settings.KEEL_DATA_ROOT


def test_a_batch_uploaded_under_a_280_character_name_is_stored_and_audited(
    upsell_with_reference, api_as, pipeline, django_capture_on_commit_callbacks
):
    long_name = "signups-" + "x" * 268 + ".csv"
    content = to_csv(clean_batch(200, seed=4, first_customer=100_000, start=date(2026, 10, 1), end=date(2026, 10, 31)))
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(pipeline).post(
            "/api/v1/audits/", {"model": "upsell", "file": SimpleUploadedFile(long_name, content)}, format="multipart"
        )
    assert response.status_code == 202, response.content
    job = AuditJob.objects.get(pk=response.json()["id"])
    assert job.state == "succeeded", job.error
    base = job.batch.file.name.rsplit("/", 1)[-1]
    assert len(base.encode()) <= 255 and base.endswith(".csv")
    assert len(job.batch.name) <= 200  # the name defaults to the file's, within the column


def test_a_batch_storage_path_of_300_characters_is_a_field_error(upsell_with_reference, api_as, pipeline, data_root):
    response = api_as(pipeline).post(
        "/api/v1/audits/", {"model": "upsell", "storage_path": "b" * 296 + ".csv"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "at most 255 bytes" in response.json()["detail"]["storage_path"][0]
    assert not DataBatch.objects.filter(storage_path__startswith="bbb").exists()


@pytest.mark.parametrize(
    "path,message",
    [(LONG_PATH, "at most 255 bytes"), ("../outside/%Y-%m-%d.csv", "inside Keel's data root")],
)
def test_a_schedule_is_refused_at_creation_when_its_path_cannot_be_read(
    upsell_with_reference, api_as, reviewer, data_root, path, message
):
    response = api_as(reviewer).post(
        "/api/v1/models/upsell/audit-schedules",
        {"name": "feed", "source": "storage_path", "cron": "0 6 * * *", "storage_path": path},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]["storage_path"][0]
    assert not AuditSchedule.objects.exists()


def test_a_schedule_whose_path_cannot_be_read_alerts_with_the_reason_on_each_run(
    upsell_with_reference, reviewer, data_root
):
    schedule = AuditScheduleFactory(model=upsell_with_reference, actor=reviewer)
    AuditSchedule.objects.filter(pk=schedule.pk).update(storage_path=LONG_PATH)  # made before the check
    for tick in ("t1", "t2"):
        assert services.scheduled_audit_run(schedule_id=schedule.pk, trigger_key=tick, now=NOV_23) is None
    alert = Alert.objects.get(check_name="staleness")
    assert alert.occurrences == 2 and alert.severity == "error"
    assert "at most 255 bytes" in alert.message and "late or stopped" not in alert.message
    assert not AuditJob.objects.filter(schedule=schedule).exists()
