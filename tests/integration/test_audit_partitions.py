"""A large file is profiled in partitions by the workers (a Celery chord) and merged: the verdict and
every finding equal what one process auditing the whole file concludes."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits import selectors, services
from audits.engine import audit as engine
from audits.models import AuditState
from demo.batches import festival_batch, to_csv
from tests.integration.processes import SHARED_WORKER_PARTITION_ROWS, audit_ended, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROWS = 150_000


def test_partitioned_profiles_merge_into_the_same_audit(celery_worker, upsell_model, pipeline):
    model = upsell_model
    content = to_csv(
        festival_batch(ROWS, start=date(2026, 11, 1), end=date(2026, 11, 30), seed=9, first_customer=10**6)
    )
    job = services.audit_submit(
        model=model, actor=pipeline, name="november", uploaded=SimpleUploadedFile("november.csv", content)
    )
    job = wait_for(lambda: audit_ended(job), celery_worker, "the partitioned audit", timeout=120)
    assert job.state == AuditState.SUCCEEDED, job.error
    partitions = -(-ROWS // SHARED_WORKER_PARTITION_ROWS)
    assert celery_worker.log().count("profile_partition") >= partitions  # the work really was split
    assert job.rows_done == ROWS and job.profile["rows"] == ROWS

    reference = job.version.reference_profile
    specs = selectors.column_specs(reference)
    whole, verdict, profile = engine.audit_file(
        selectors.batch_path(job.batch),
        "csv",
        reference=reference.profile,
        specs=specs,
        suite=services.suite_for(model, reference),
        facts=job.facts,
        roles=reference.roles,
        target_column=reference.label_column or None,
    )
    assert job.verdict == verdict == "fail"
    assert sorted(job.findings.values_list("check_name", "column", "status")) == sorted(
        (f.check, f.column or "", f.status) for f in whole
    )
    assert job.profile["columns"]["event_type"]["counts"] == profile["columns"]["event_type"]["counts"]
    assert job.findings.filter(check_name="target_correlation").exists()  # label statistics merged too
