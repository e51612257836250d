"""A training reference keeps its numeric columns' values in a compressed file of its own (not in its
JSON profile), and an audit compares a batch on them exactly; when that file is missing or damaged the
audit still succeeds, on the binned statistics with their bound, and the drift finding says why."""

import json

import pytest
from django.conf import settings
from django.core.files.storage import default_storage

from audits.engine.profile import exact_values_max
from audits.models import AuditState, ReferenceProfile
from demo.batches import to_csv
from tests.audits.reference_scenario import training_reference_build, upsell_in_production, upsell_training
from tests.audits.test_extreme_values import SMALL, batch_with, send


@pytest.fixture
def upsell_reference(db, media, reviewer, pipeline, django_capture_on_commit_callbacks):
    model, version = upsell_in_production(reviewer, pipeline)
    training_reference_build(model, version, pipeline, upsell_training(SMALL), django_capture_on_commit_callbacks)
    return model


def test_the_reference_stores_its_values_in_a_file_and_a_batch_is_compared_on_them_exactly(
    upsell_reference, api_as, pipeline, django_capture_on_commit_callbacks
):
    assert exact_values_max() == settings.KEEL_EXACT_DRIFT_MAX_VALUES == 300_000  # set at start-up
    reference = ReferenceProfile.objects.get(version__model=upsell_reference)
    kept = reference.profile["kept_values"]
    assert default_storage.exists(kept["file"]) and "meeting_minutes" in kept["columns"]
    assert '"values"' not in json.dumps(reference.profile)

    job = send(api_as, pipeline, to_csv(batch_with([])), django_capture_on_commit_callbacks)

    assert job.state == AuditState.SUCCEEDED, job.error
    drift = job.findings.get(check_name="drift", column="meeting_minutes")
    assert drift.details["exact"] is True and "exact (computed on the values)" in drift.message


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_an_audit_against_a_reference_whose_value_file_is_missing_or_corrupt_is_binned_and_says_so(
    damage, upsell_reference, api_as, pipeline, django_capture_on_commit_callbacks
):
    name = ReferenceProfile.objects.get(version__model=upsell_reference).profile["kept_values"]["file"]
    if damage == "missing":
        default_storage.delete(name)
    else:
        with open(default_storage.path(name), "r+b") as handle:
            handle.seek(40)
            handle.write(b"\x00" * 64)

    job = send(api_as, pipeline, to_csv(batch_with([])), django_capture_on_commit_callbacks)

    assert job.state == AuditState.SUCCEEDED, job.error
    drift = job.findings.get(check_name="drift", column="meeting_minutes")
    assert drift.details["exact"] is False
    low, high = drift.details["wasserstein_bounds"]
    assert low <= drift.details["wasserstein"] <= high
    reason = "is missing" if damage == "missing" else "changed since it was built"
    assert reason in drift.details["exact_unavailable"]
    assert "exact figures unavailable" in drift.message and reason in drift.message
