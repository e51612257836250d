"""Who builds a version's training reference: a pipeline builds the first one of a new version; once
the version has one (or one is being built), replacing it changes what its batches are checked
against, so only a reviewer (audits.edit_audit_checks) does it."""

from django.core.files.uploadedfile import SimpleUploadedFile

from audits.models import AuditJob, AuditKind
from demo.batches import to_csv
from tests.audits.reference_scenario import UPSELL_COLUMNS, upsell_in_production, upsell_training

COLUMNS = {
    "id_columns": ",".join(UPSELL_COLUMNS["id_columns"]),
    "timestamp_columns": ",".join(UPSELL_COLUMNS["timestamp_columns"]),
    "label_column": UPSELL_COLUMNS["label_column"],
}


def send_reference(client, version):
    upload = SimpleUploadedFile("training.csv", to_csv(upsell_training(rows=200)))
    return client.post(f"/api/v1/models/upsell/versions/{version.version}/reference", {"file": upload, **COLUMNS})


def test_a_pipeline_builds_a_new_versions_reference_but_cannot_replace_it(
    reviewer, pipeline, api_as, django_capture_on_commit_callbacks
):
    model, version = upsell_in_production(reviewer, pipeline)
    with django_capture_on_commit_callbacks(execute=True):
        first = send_reference(api_as(pipeline), version)
    assert first.status_code == 202, first.content
    assert hasattr(version.__class__.objects.get(pk=version.pk), "reference_profile")

    again = send_reference(api_as(pipeline), version)
    assert again.status_code == 403
    assert "already has a training reference" in again.json()["message"]
    assert AuditJob.objects.filter(kind=AuditKind.REFERENCE).count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        replaced = send_reference(api_as(reviewer), version)
    assert replaced.status_code == 202, replaced.content


def test_a_pipeline_cannot_queue_a_second_build_while_one_is_queued(reviewer, pipeline, api_as):
    model, version = upsell_in_production(reviewer, pipeline)
    assert send_reference(api_as(pipeline), version).status_code == 202  # queued: nothing commits here
    assert send_reference(api_as(pipeline), version).status_code == 403
