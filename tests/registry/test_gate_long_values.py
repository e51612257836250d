"""A hold-out holding values of megabytes: the gate refuses with a short reason that still names the
problem, never echoing the value, and does not judge a model on a column whose cells were cut as the
file was read (KEEL_MAX_CELL_CHARS)."""

import pandas as pd
import pytest

from registry import services
from registry.models import PromotionRequest, PromotionState, TaskType
from tests.registry.promotion_helpers import csv_upload, model_with_versions

BIG = 10 * 1024 * 1024  # a 10 MB value


@pytest.fixture
def upsell(db, reviewer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return model_with_versions(owner=reviewer)


def frame(**columns):
    base = {
        "plan": ["free", "pro"] * 2,
        "country": ["DE"] * 4,
        "meeting_minutes": [1.0, 2, 3, 4],
        "upgraded": [0, 1] * 2,
    }
    return pd.DataFrame({**base, **columns})


def gate(model, actor, holdout_frame, capture) -> PromotionRequest:
    holdout = services.holdout_register(
        model=model, actor=actor, name="october", label_column="upgraded", uploaded=csv_upload(holdout_frame)
    )
    with capture(execute=True):  # the gate job runs in-process (eager Celery)
        request = services.promotion_request_create(
            version=model.versions.get(version=1), actor=actor, reason="retrained", holdout=holdout
        )
    request = PromotionRequest.objects.get(pk=request.pk)
    assert request.state == PromotionState.VALIDATION_FAILED
    return request


def test_a_10_mb_label_value_is_not_echoed(upsell, pipeline, django_capture_on_commit_callbacks):
    request = gate(upsell, pipeline, frame(upgraded=["y" * BIG, "0", "1", "0"]), django_capture_on_commit_callbacks)
    [reason] = request.failure_reasons
    assert "A binary label has two values; 'upgraded' holds 3: " in reason and "more bytes)" in reason
    assert len(reason) < 1_000 and len(str(request.evidence)) < 2_000


def test_a_10_mb_feature_value_is_not_echoed(upsell, pipeline, django_capture_on_commit_callbacks):
    minutes = ["9" * 20 + "x" * 5_000, "2", "3", "4"]  # under the cell cap, over a message's
    request = gate(upsell, pipeline, frame(meeting_minutes=minutes), django_capture_on_commit_callbacks)
    [reason] = request.failure_reasons
    assert "Column 'meeting_minutes' should be float but holds non-numeric values (1 rows; e.g. '999" in reason
    assert "more bytes)" in reason and len(reason) < 1_000


def test_a_feature_column_with_cut_cells_is_refused(upsell, pipeline, django_capture_on_commit_callbacks, settings):
    settings.KEEL_MAX_CELL_CHARS = 1_000
    request = gate(
        upsell, pipeline, frame(plan=["p" * 52_000, "free", "pro", "free"]), django_capture_on_commit_callbacks
    )
    [reason] = request.failure_reasons
    assert reason == (
        "1 cell in the hold-out's column 'plan' is longer than 1,000 characters (the longest has 52,000); "
        "the gate does not judge a model on cut values (KEEL_MAX_CELL_CHARS)."
    )


def test_a_multiclass_label_with_cut_cells_is_refused(
    db, reviewer, pipeline, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    model = model_with_versions(owner=reviewer)
    model.task_type = TaskType.MULTICLASS
    model.save(update_fields=["task_type"])
    labels = ["a" * BIG, "b", "c", "b"]
    request = gate(model, pipeline, frame(upgraded=labels), django_capture_on_commit_callbacks)
    [reason] = request.failure_reasons
    assert "column 'upgraded' is longer than 10,000 characters (the longest has 10,485,760)" in reason
