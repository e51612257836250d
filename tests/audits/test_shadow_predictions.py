"""A shadow or canary version scores the same request as production: the serving log keeps both
decisions of one request (one per version), still never the same version's twice, so a relabelling
campaign can find where the versions disagree."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction

from audits import services
from audits.models import PredictionLog
from tests.factories import ModelVersionFactory, RegisteredModelFactory

pytestmark = pytest.mark.django_db
AT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def fraud(pipeline):
    model = RegisteredModelFactory(name="fraud")
    ModelVersionFactory(model=model, created_by=pipeline)
    ModelVersionFactory(model=model, created_by=pipeline)
    return model


def record(version, request_id="req-1", label="ok"):
    return {"request_id": request_id, "version": version, "predicted_at": AT, "features": {"a": 1}, "label": label}


def test_production_and_shadow_decisions_of_one_request_are_both_kept(fraud):
    result = services.predictions_log(model=fraud, records=[record(1, label="ok"), record(2, label="fraud")])
    assert result["stored"] == 2
    assert sorted(PredictionLog.objects.filter(request_id="req-1").values_list("version__version", "label")) == [
        (1, "ok"),
        (2, "fraud"),
    ]


def test_a_resent_shadow_decision_is_skipped_like_production_s(fraud):
    services.predictions_log(model=fraud, records=[record(1), record(2)])
    again = services.predictions_log(model=fraud, records=[record(2), record(1), record(2, "req-2")])
    assert again == {"received": 3, "stored": 1, "already_logged": 2, "anonymised": 0}


def test_the_same_version_s_request_twice_in_one_bulk_is_refused(fraud):
    from mlops.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        services.predictions_log(model=fraud, records=[record(1), record(1)])
    assert "records[1].request_id" in refused.value.detail


def test_the_database_refuses_one_version_logging_a_request_twice(fraud):
    services.predictions_log(model=fraud, records=[record(1)])
    row = PredictionLog.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        PredictionLog.objects.create(
            model=fraud, version=row.version, request_id="req-1", predicted_at=AT, features={}, label="ok"
        )


def test_support_explains_the_decision_served_not_the_shadow_s(fraud, reviewer):
    from audits import selectors
    from registry.services.catalog import alias_point

    v1, v2 = fraud.versions.order_by("version")
    alias_point(model=fraud, alias="production", version=v1, actor=reviewer, reason="live")
    alias_point(model=fraud, alias="shadow", version=v2, actor=reviewer, reason="trying v2")
    first = [{**record(2, label="fraud"), "entity_id": "C1"}, {**record(1, label="ok"), "entity_id": "C1"}]
    services.predictions_log(model=fraud, records=first)
    found = selectors.latest_prediction(entity_id="C1", model=fraud)
    assert (found.version.version, found.label) == (1, "ok")
