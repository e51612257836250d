"""A customer asks to be forgotten: they are blacklisted everywhere for good (reason privacy), their
boosts end, their logged features and predictions are erased by the audits app, and Keel records
that it was done (how many rows, not what) — and never lets the blacklist be lifted."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from mlops.errors import ApplicationError
from support import selectors, services
from support.models import EntryReason, EraseState, ListEntry, PrivacyRequest
from support.services import privacy
from support.tasks import erase_privacy_request
from tests.factories import BlacklistEntryFactory, BoostEntryFactory

PRIVACY = "/api/v1/support/privacy-requests"


def test_a_privacy_request_blacklists_everywhere_and_erases_logged_data(
    surfaces, agent, api, pipeline, erasures, commit, served_rows
):
    with commit():
        BoostEntryFactory(entity_type="customer", entity_id="cust-7", surfaces=["email"])
        BlacklistEntryFactory(entity_type="customer", entity_id="cust-7", surfaces=["search"], reason="fraud")
    response = api(agent).post(
        PRIVACY, {"entity_id": "cust-7", "reference": "GDPR-2026-19", "note": "Asked by email"}, format="json"
    )
    assert response.status_code == 201, response.json()
    request = PrivacyRequest.objects.get(pk=response.json()["id"])

    assert erasures == ["cust-7"]  # the audits app was asked to erase, once
    assert request.erase_state == EraseState.DONE and request.erased_at is not None
    assert request.erase_counts == {"prediction_rows": 12, "audit_rows": 3}
    assert request.reference == "GDPR-2026-19" and request.requested_by == agent

    entry = request.entry
    assert entry.reason == EntryReason.PRIVACY and entry.all_surfaces and entry.expires_at is None
    reader = api(pipeline)
    for surface in ("home", "search", "email"):
        served = reader.get("/api/v1/support/lists", {"surface": surface}).json()
        expected = {"entity_type": "customer", "entity_id": "cust-7", "expires_at": None}
        assert expected in served_rows(served["blacklist"])
        assert served["boosts"] == []
    boost = ListEntry.objects.get(kind="boost", entity_id="cust-7")
    assert boost.lift_reason == f"Privacy request #{request.pk}" and boost.lifted_by == agent

    detail = api(agent).get(f"{PRIVACY}/{request.pk}").json()
    assert detail["erase_state"] == "done" and detail["erase_counts"]["prediction_rows"] == 12


def test_a_forgotten_customer_is_excluded_from_later_sampling(surfaces, agent, erasures, commit):
    with commit():
        services.privacy_request_create(actor=agent, entity_id="cust-7")
    assert selectors.privacy_excluded_ids() == {"cust-7"}


def test_a_privacy_blacklist_is_never_lifted(surfaces, agent, api, erasures, commit):
    with commit():
        request = services.privacy_request_create(actor=agent, entity_id="cust-7")
    response = api(agent).post(
        f"/api/v1/support/entries/{request.entry_id}/lift", {"reason": "Customer came back"}, format="json"
    )
    assert response.status_code == 409 and "forgotten" in response.json()["message"]
    assert ListEntry.objects.get(pk=request.entry_id).lifted_at is None


def test_a_repeated_request_erases_again_under_the_same_blacklist(surfaces, agent, erasures, commit):
    with commit():
        first = services.privacy_request_create(actor=agent, entity_id="cust-7")
    with commit():
        second = services.privacy_request_create(actor=agent, entity_id="cust-7", reference="second letter")
    assert second.entry_id == first.entry_id
    assert erasures == ["cust-7", "cust-7"]
    assert ListEntry.objects.filter(entity_id="cust-7").count() == 1


def test_a_privacy_request_is_about_a_customer_id(surfaces, agent, api, erasures):
    response = api(agent).post(PRIVACY, {"entity_id": "cust 7"}, format="json")
    assert response.status_code == 400 and "entity_id" in response.json()["detail"]
    assert not PrivacyRequest.objects.exists() and erasures == []


def test_a_crashing_erasure_ends_failed_with_the_reason_and_filing_again_erases(
    surfaces, agent, api, client, monkeypatch, commit, clock
):
    attempts = []

    def broken(*, entity_id):
        attempts.append(entity_id)
        raise ConnectionError("prediction store unreachable " + "x" * 100_000)

    monkeypatch.setattr(privacy, "entity_data_erase", broken)
    monkeypatch.setattr(privacy, "_queue_erase", lambda pk: None)
    with commit():
        request = services.privacy_request_create(actor=agent, entity_id="cust-7", reference="GDPR-7")
    monkeypatch.undo()
    monkeypatch.setattr(privacy, "entity_data_erase", broken)
    # As a worker runs it: each failure is retried (with backoff; at once here) until none are left.
    monkeypatch.setitem(erase_privacy_request.app.conf, "task_eager_propagates", False)
    erase_privacy_request.apply(args=[request.pk])
    request.refresh_from_db()
    # The retries ran out: failed, with the last error, not pending for ever.
    assert len(attempts) == 9 and request.erase_attempts == 9
    assert request.erase_state == EraseState.FAILED and request.erased_at is None
    assert request.erase_error.startswith("The erasure failed 9 times; the last error: ConnectionError: prediction")
    assert len(request.erase_error) < 1100  # the error is clipped
    assert ListEntry.objects.get(pk=request.entry_id).is_active()  # the blacklist holds meanwhile
    clock.advance(hours=1)
    assert services.privacy_erasures_requeue(older_than_seconds=600) == 0  # the sweep leaves it
    assert services.privacy_request_erase(request_id=request.pk).erase_state == EraseState.FAILED
    with pytest.raises(IntegrityError), transaction.atomic():  # the failure is recorded once
        PrivacyRequest.objects.filter(pk=request.pk).update(erase_state=EraseState.PENDING, erase_error="")

    detail = api(agent).get(f"{PRIVACY}/{request.pk}").json()
    assert detail["erase_state"] == "failed" and "prediction store unreachable" in detail["erase_error"]
    client.force_login(agent)
    page = client.get("/support/history/", {"entity_type": "customer", "entity_id": "cust-7"}).content.decode()
    assert "erasure failed" in page and "File the request again to retry" in page

    # Filing again erases, under the same blacklist.
    monkeypatch.setattr(privacy, "entity_data_erase", lambda *, entity_id: {"prediction_rows": 1})
    with commit():
        again = services.privacy_request_create(actor=agent, entity_id="cust-7", reference="GDPR-7")
    again.refresh_from_db()
    assert again.erase_state == EraseState.DONE and again.erase_counts == {"prediction_rows": 1}
    assert again.entry_id == request.entry_id and again.erase_error == ""


def test_an_erasure_attempt_that_fails_stays_pending_and_is_retried(surfaces, agent, monkeypatch, commit):
    monkeypatch.setattr(privacy, "_queue_erase", lambda pk: None)
    with commit():
        request = services.privacy_request_create(actor=agent, entity_id="cust-7")
    monkeypatch.setattr(privacy, "entity_data_erase", lambda *, entity_id: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        services.privacy_request_erase(request_id=request.pk)
    request.refresh_from_db()
    assert request.erase_state == EraseState.PENDING and request.erase_error.startswith("ZeroDivisionError")
    monkeypatch.setattr(privacy, "entity_data_erase", lambda *, entity_id: {"prediction_rows": 1})
    done = services.privacy_request_erase(request_id=request.pk)
    assert done.erase_state == EraseState.DONE and done.erase_error == ""
    monkeypatch.setattr(privacy, "entity_data_erase", lambda *, entity_id: 1 / 0)
    assert services.privacy_request_erase(request_id=request.pk).erase_counts == {"prediction_rows": 1}


def test_pending_erasures_are_queued_again_by_the_sweep(surfaces, agent, monkeypatch, clock, erasures, commit):
    queue = privacy._queue_erase
    monkeypatch.setattr(privacy, "_queue_erase", lambda pk: None)  # the broker was down
    with commit():
        request = services.privacy_request_create(actor=agent, entity_id="cust-7")
    assert erasures == []
    monkeypatch.setattr(privacy, "_queue_erase", queue)
    assert services.privacy_erasures_requeue(older_than_seconds=600) == 0  # too recent to be stalled
    clock.advance(minutes=11)
    assert services.privacy_erasures_requeue(older_than_seconds=600) == 1
    request.refresh_from_db()
    assert request.erase_state == EraseState.DONE and erasures == ["cust-7"]


def test_a_finished_erasure_record_cannot_be_rewritten(surfaces, agent, erasures, commit):
    from django.db import IntegrityError, transaction

    with commit():
        request = services.privacy_request_create(actor=agent, entity_id="cust-7")
    with pytest.raises(IntegrityError), transaction.atomic():
        PrivacyRequest.objects.filter(pk=request.pk).update(erase_counts={"prediction_rows": 0})
    with pytest.raises(IntegrityError), transaction.atomic():
        PrivacyRequest.objects.filter(pk=request.pk).update(entity_id="cust-8")


def test_the_audits_app_erases_the_customers_logged_predictions(surfaces, agent, api, commit):
    """The real eraser (audits.services.entity_erase), end to end: only this customer's rows change."""
    from audits.models import ErasedEntity, PredictionLog
    from tests.factories import ModelVersionFactory

    version = ModelVersionFactory()
    for n, customer in enumerate(["cust-7", "cust-7", "cust-8"]):
        PredictionLog.objects.create(
            model=version.model,
            version=version,
            request_id=f"r{n}",
            entity_id=customer,
            predicted_at=timezone.now(),
            raw_features={"customer": customer, "plan": "free"},
            features={"plan": "free"},
            score=0.7,
        )
    response = api(agent).post(PRIVACY, {"entity_id": "cust-7", "reference": "GDPR-7"}, format="json")
    assert response.status_code == 201
    request = PrivacyRequest.objects.get(pk=response.json()["id"])
    assert request.erase_state == EraseState.DONE
    assert request.erase_counts["predictions"] == 2
    assert not PredictionLog.objects.filter(entity_id="cust-7").exists()
    assert PredictionLog.objects.filter(erased_at__isnull=False, raw_features={}).count() == 2
    assert PredictionLog.objects.get(entity_id="cust-8").raw_features["plan"] == "free"
    assert ErasedEntity.objects.filter(entity_id="cust-7").exists()  # later sampling leaves them out


def test_the_erasure_goes_through_the_audits_app(surfaces, agent, monkeypatch):
    import audits.services

    calls = []
    monkeypatch.setattr(
        audits.services, "entity_erase", lambda *, entity_id: calls.append(entity_id) or {"predictions": 2}
    )
    assert services.entity_data_erase(entity_id="cust-7") == {"predictions": 2}
    assert calls == ["cust-7"]


def test_history_keeps_no_erased_data_only_counts(surfaces, agent, erasures, commit):
    with commit():
        services.privacy_request_create(actor=agent, entity_id="cust-7", note="Phoned in")
    events = selectors.entity_history(entity_type="customer", entity_id="cust-7")
    erased = [e for e in events if e.action == "data_erased"]
    assert len(erased) == 1 and erased[0].actor is None
    assert erased[0].note == "audit_rows: 3, prediction_rows: 12"
    tomorrow = timezone.now() + timedelta(days=1)
    with pytest.raises(ApplicationError):
        BoostEntryFactory(actor=agent, entity_type="customer", entity_id="cust-7", weight=2, expires_at=tomorrow)
