"""Explanations (support.services.explanations and its API and pages): an agent asks why the production
model scored a customer as it did, by ID (the latest logged prediction) or by typed features.

Two tiny models, trained once per module: the upsell tree model (explained inline by the tree path)
and a logistic regression (model-agnostic path, through the Celery task, eager here)."""

import math
import os
import re
from datetime import date

import numpy as np
import pytest

from demo.batches import clean_batch
from demo.training import FEATURES
from registry import services as registry_services
from registry.models import TaskType
from support import shap_engine as ex
from support.models import ExplainerBackground, Explanation
from support.services import backgrounds, explanations
from tests.audits.reference_scenario import training_reference_build
from tests.factories import RegisteredModelFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("one_thread")]

API = "/api/v1/support/explanations"
FORM = "/support/explain/"


def detail_url(pk: int) -> str:
    return f"{API}/{pk}"


def text(response) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).replace("&#x27;", "'").strip()


@pytest.fixture
def computed(monkeypatch):
    """Every explanation_compute call, by explanation id (inline or from the task)."""
    calls: list[int] = []
    real = explanations.explanation_compute

    def spy(*, explanation_id):
        calls.append(explanation_id)
        return real(explanation_id=explanation_id)

    monkeypatch.setattr(explanations, "explanation_compute", spy)
    return calls


def _total(result) -> float:
    return result["base_value"] + math.fsum(item["shap"] for item in result["contributions"])


# --- the cache -----------------------------------------------------------------------------------------------


def test_by_id_and_by_typed_features_are_one_explanation_computed_once(soom, agent, reviewer, api_as, computed):
    customer = soom.by_score()[-1]
    by_id = api_as(agent).post(API, {"model": "upsell", "entity_id": customer}, format="json")
    assert by_id.status_code == 200, by_id.json()
    body = by_id.json()
    assert body["state"] == "succeeded" and body["entity_id"] == customer and body["version"] == 1
    assert body["prediction"]["request_id"].startswith("web-") and body["result"]["method"] == "tree"

    # Another person types the same customer's features, as a form sends them (text, any order).
    typed = dict(reversed(list(soom.features_of(customer, as_text=True).items())))
    by_features = api_as(reviewer).post(API, {"model": "upsell", "features": typed}, format="json")
    assert by_features.status_code == 200
    assert by_features.json()["id"] == body["id"] and by_features.json()["result"] == body["result"]
    assert computed == [body["id"]] and Explanation.objects.count() == 1
    # And asked again by ID: still the cache.
    assert api_as(agent).post(API, {"model": "upsell", "entity_id": customer}, format="json").json()["id"] == body["id"]
    assert computed == [body["id"]]


def test_typed_first_then_by_id_links_the_customer(soom, agent, computed):
    customer = soom.by_score()[0]
    typed = explanations.explanation_request(actor=agent, model=soom.model, features=soom.features_of(customer))
    assert typed.entity_id == "" and typed.prediction is None
    by_id = explanations.explanation_request(actor=agent, model=soom.model, entity_id=customer)
    assert by_id.pk == typed.pk and computed == [typed.pk]
    typed.refresh_from_db()
    assert typed.entity_id == customer and typed.prediction.entity_id == customer  # an erasure finds it


def test_the_json_adds_up_and_decides_against_the_threshold(soom, agent, api_as):
    low, high = soom.by_score()[0], soom.by_score()[-1]
    for customer in (low, high):
        result = api_as(agent).post(API, {"model": "upsell", "entity_id": customer}, format="json").json()["result"]
        assert result["units"] == "probability"
        assert result["score"] == pytest.approx(soom.scores[customer], abs=1e-9)  # the model's own score
        assert _total(result) == pytest.approx(result["score"], abs=1e-6)  # base + Σ contributions = score
        assert result["threshold"] == pytest.approx(soom.version.decision_threshold)
        assert result["decision"] == ("yes" if result["score"] >= result["threshold"] else "no")
        assert [item["feature"] for item in result["contributions"]] != [] and len(result["contributions"]) == 5
        assert result["background"] == {"rows": 40, "source": "training sample"}
        reason = result["reasons"][0]
        top = result["contributions"][0]
        assert reason.startswith(
            f"{top['feature']} = {top['value']} {'raised' if top['shap'] > 0 else 'lowered'} the score by "
        )
    decisions = {customer: Explanation.objects.get(entity_id=customer).result["decision"] for customer in (low, high)}
    assert decisions == {low: "no", high: "yes"}


# --- refusals, on their field --------------------------------------------------------------------------------


def test_unknown_erased_and_bad_inputs_are_400_on_their_field(soom, agent, api_as):
    from audits import services as audit_services

    client = api_as(agent)

    def refused(body, field, words):
        response = client.post(API, body, format="json")
        assert response.status_code == 400, response.json()
        assert field in response.json()["detail"], response.json()
        assert words in " ".join(response.json()["detail"][field]), response.json()

    refused({"model": "upsell", "entity_id": "C999999"}, "entity_id", "No logged prediction")
    erased = soom.by_score()[3]
    audit_services.entity_erase(entity_id=erased)
    refused({"model": "upsell", "entity_id": erased}, "entity_id", "asked to be forgotten")
    refused({"model": "upsell", "entity_id": soom.broken_customer}, "entity_id", "no value for meeting_minutes")

    features = soom.features_of(soom.by_score()[5])
    refused(
        {"model": "upsell", "features": {**features, "attendees": "many"}}, "features.attendees", "should be a number"
    )
    refused({"model": "upsell", "features": {**features, "attendees": 2.5}}, "features.attendees", "whole number")
    refused(
        {"model": "upsell", "features": {k: v for k, v in features.items() if k != "plan"}},
        "features.plan",
        "Missing feature",
    )
    refused({"model": "upsell", "features": {**features, "colour": "red"}}, "features.colour", "Unknown feature")
    refused({"model": "upsell", "entity_id": "C090001", "features": features}, "entity_id", "not both")
    refused({"model": "upsell"}, "entity_id", "Give a customer ID")
    unknown = api_as(agent).post(API, {"model": "nope", "entity_id": "C090001"}, format="json")
    assert unknown.status_code == 404 and "No model named" in unknown.json()["detail"]["model"][0]
    refused({"model": "upsell", "entity_id": "C090001", "colour": "red"}, "colour", "Unknown field")
    assert Explanation.objects.count() == 0  # nothing half-made


def test_a_customer_with_a_pending_privacy_request_is_not_explained(soom, agent):
    from support import services as support_services

    customer = soom.by_score()[-2]
    support_services.privacy_request_create(actor=agent, entity_id=customer)  # erasure queued on commit, not run
    with pytest.raises(explanations.ApplicationError, match="asked to be forgotten"):
        explanations.explanation_request(actor=agent, model=soom.model, entity_id=customer)


# --- who may ----------------------------------------------------------------------------------------------------


def test_api_permission_matrix(soom, agent, reviewer, pipeline, labeller, outsider, api_as, anonymous_api):
    customer = soom.by_score()[-1]
    made = explanations.explanation_request(actor=agent, model=soom.model, entity_id=customer)
    urls = [detail_url(made.pk), f"{detail_url(made.pk)}/waterfall.png"]
    body = {"model": "upsell", "entity_id": customer}
    assert anonymous_api.post(API, body, format="json").status_code == 401
    for url in urls:
        assert anonymous_api.get(url).status_code == 401
    for person in (labeller, outsider):
        client = api_as(person)
        assert client.post(API, body, format="json").status_code == 403
        assert all(client.get(url).status_code == 403 for url in urls)
    for person in (agent, reviewer, pipeline):
        client = api_as(person)
        assert client.post(API, body, format="json").status_code == 200
        assert all(client.get(url).status_code == 200 for url in urls)
    assert api_as(agent).get(detail_url(made.pk + 1000)).status_code == 404


def test_page_permission_matrix(soom, client, agent, reviewer, labeller, outsider):
    made = explanations.explanation_request(actor=agent, model=soom.model, entity_id=soom.by_score()[-1])
    pages = [FORM, f"{FORM}{made.pk}/", f"{FORM}{made.pk}/waterfall.png"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    for person, status in ((agent, 200), (reviewer, 200), (labeller, 403), (outsider, 403)):
        client.force_login(person)
        assert [client.get(url).status_code for url in pages] == [status] * 3, person
        assert client.post(FORM, {"model": "upsell", "entity_id": soom.by_score()[0]}).status_code in (
            (302,) if status == 200 else (403,)
        )


# --- the model-agnostic path: a Celery job with progress ----------------------------------------------------


def test_model_agnostic_path_runs_in_the_task_and_shows_progress(
    soom_linear, agent, api_as, client, monkeypatch, django_capture_on_commit_callbacks
):
    stages = []
    real_progress = explanations._progress

    def record(explanation_id, stage, share):
        real_progress(explanation_id, stage, share)
        stages.append((Explanation.objects.get(pk=explanation_id).state, stage, share))

    monkeypatch.setattr(explanations, "_progress", record)
    customer = soom_linear.by_score()[-1]
    with django_capture_on_commit_callbacks() as queued:
        response = api_as(agent).post(API, {"model": "upsell-linear", "entity_id": customer}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["state"] == "queued" and body["result"] is None and body["links"]["waterfall"] is None
    assert response["Location"] == detail_url(body["id"])
    # While queued: the page shows the progress and refreshes itself; there is no plot yet.
    client.force_login(agent)
    page = client.get(f"{FORM}{body['id']}/")
    assert page.status_code == 200 and '<meta http-equiv="refresh"' in page.content.decode()
    assert "Waiting for a worker" in text(page) and 'role="progressbar"' in page.content.decode()
    assert client.get(f"{FORM}{body['id']}/waterfall.png").status_code == 404
    assert api_as(agent).get(f"{detail_url(body['id'])}/waterfall.png").status_code == 404

    assert len(queued) == 1
    queued[0]()  # the transaction commits: the task runs (eagerly here)
    done = api_as(agent).get(detail_url(body["id"])).json()
    assert done["state"] == "succeeded" and done["progress"] == 1.0 and done["stage"] == "Done", done["error"]
    assert stages and all(state == "running" for state, _, _ in stages)
    assert any("Building v1's explainer" in stage for _, stage, _ in stages)
    result = done["result"]
    assert result["method"] == "exact" and result["units"] == "probability"
    assert result["score"] == pytest.approx(soom_linear.scores[customer], abs=1e-9)
    assert _total(result) == pytest.approx(result["score"], abs=1e-6)
    assert Explanation.objects.get(pk=body["id"]).attempts == 1
    page = client.get(f"{FORM}{body['id']}/")
    assert '<meta http-equiv="refresh"' not in page.content.decode() and result["reasons"][0] in text(page)

    # Asked again: the cached row, no new job.
    with django_capture_on_commit_callbacks() as queued_again:
        again = api_as(agent).post(API, {"model": "upsell-linear", "entity_id": customer}, format="json")
    assert again.status_code == 200 and again.json()["id"] == body["id"] and queued_again == []


def test_the_task_is_idempotent_and_survives_a_deleted_row(soom_linear, agent, django_capture_on_commit_callbacks):
    from support.tasks import compute_explanation

    with django_capture_on_commit_callbacks(execute=True):
        made = explanations.explanation_request(
            actor=agent, model=soom_linear.model, entity_id=soom_linear.by_score()[0]
        )
    made.refresh_from_db()
    assert made.state == "succeeded" and made.attempts == 1
    assert compute_explanation.delay(made.pk).get()["state"] == "succeeded"  # redelivered: nothing recomputed
    made.refresh_from_db()
    assert made.attempts == 1
    Explanation.objects.filter(pk=made.pk).delete()
    assert compute_explanation.delay(made.pk).get() == {"explanation_id": made.pk, "state": "deleted"}


def test_a_model_agnostic_version_without_background_is_refused(soom_linear, agent):
    ExplainerBackground.objects.filter(version=soom_linear.version).delete()
    with pytest.raises(explanations.Conflict, match="needs a background"):
        explanations.explanation_request(actor=agent, model=soom_linear.model, entity_id=soom_linear.by_score()[0])


def test_a_failed_explanation_records_why_and_is_retried_when_asked_again(soom, agent, monkeypatch):
    real = explanations._explain

    def broken(*args, **kwargs):
        raise ValueError("The model refused the row.")

    monkeypatch.setattr(explanations, "_explain", broken)
    customer = soom.by_score()[-1]
    failed = explanations.explanation_request(actor=agent, model=soom.model, entity_id=customer)
    assert failed.state == "failed" and failed.error == "The model refused the row." and failed.finished_at
    assert explanations.explanation_compute(explanation_id=failed.pk).state == "failed"  # idempotent
    monkeypatch.setattr(explanations, "_explain", real)
    retried = explanations.explanation_request(actor=agent, model=soom.model, entity_id=customer)
    assert retried.pk == failed.pk and retried.state == "succeeded" and retried.error == "" and retried.attempts == 2


# --- the plot ------------------------------------------------------------------------------------------------------


def test_waterfall_png_is_served_as_image_png_with_private_caching(soom, agent, api_as, client):
    made = explanations.explanation_request(actor=agent, model=soom.model, entity_id=soom.by_score()[-1])
    client.force_login(agent)
    for response in (
        api_as(agent).get(f"{detail_url(made.pk)}/waterfall.png"),
        client.get(f"{FORM}{made.pk}/waterfall.png"),
    ):
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        assert response.content.startswith(b"\x89PNG\r\n\x1a\n") and len(response.content) > 5_000
        assert "private" in response["Cache-Control"] and "max-age=3600" in response["Cache-Control"]


# --- pages ------------------------------------------------------------------------------------------------------------


def test_the_form_offers_an_id_or_one_input_per_feature(soom, client, agent):
    client.force_login(agent)
    customer = soom.by_score()[-1]
    page = client.get(f"{FORM}?entity_id={customer}")
    html = page.content.decode()
    assert page.status_code == 200 and f'value="{customer}"' in html
    for name in FEATURES:
        assert f'name="features.{name}"' in html
    assert 'list="values-plan"' in html and '<option value="free">' in html  # suggestions from the background

    response = client.post(FORM, {"model": "upsell", "entity_id": customer})
    made = Explanation.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{FORM}{made.pk}/"
    result = client.get(response["Location"])
    words = text(result)
    assert f"Why upsell scored {customer} {made.result['score']:.3f}" in words
    assert made.result["reasons"][0] in words and f"Decision {made.result['decision']}" in words
    assert f'src="{FORM}{made.pk}/waterfall.png"' in result.content.decode()
    assert f"/support/history/?entity_type=customer&amp;entity_id={customer}" in result.content.decode()
    # The form now knows the customer is explained.
    assert f'href="{FORM}{made.pk}/"' in client.get(f"{FORM}?entity_id={customer}").content.decode()

    # Typed features with a bad value: the error sits under that feature's input, with the service's status.
    typed = {f"features.{k}": v for k, v in soom.features_of(customer, as_text=True).items()}
    refused = client.post(FORM, {"model": "upsell", **typed, "features.attendees": "lots"})
    assert refused.status_code == 400 and "attendees should be a number" in text(refused)
    assert re.search(r'has-error[^>]*>\s*<label for="id_features.attendees"', refused.content.decode())
    nothing = client.post(FORM, {"model": "upsell"})
    assert nothing.status_code == 400 and "Give a customer ID, or type the features below." in text(nothing)
    typed_ok = client.post(FORM, {"model": "upsell", **typed})
    assert typed_ok.status_code == 302 and typed_ok["Location"] == f"{FORM}{made.pk}/"  # the same cached row


def test_categorical_inputs_are_selects_of_the_training_values(
    db, media, reviewer, pipeline, tree, client, agent, register_production, django_capture_on_commit_callbacks
):
    """With a training reference, categorical features are selects of the values v1 trained on, and
    the background is sampled from the reference's file on first use."""
    model, version = register_production(
        "upsell", tree.pipeline, tree.feature_schema, tree.decision_threshold, owner=reviewer, pipeline=pipeline
    )
    assert backgrounds.explainer_background_from_reference(version=version) is None  # no reference yet
    training = clean_batch(400, start=date(2026, 1, 1), end=date(2026, 6, 30), seed=12, first_customer=1)
    training_reference_build(model, version, pipeline, training, django_capture_on_commit_callbacks)
    client.force_login(agent)
    html = client.get(FORM).content.decode()
    select = re.search(r'<select name="features.plan".*?</select>', html, flags=re.S).group(0)
    assert set(re.findall(r'<option value="([^"]+)"', select)) == set(training["plan"])

    made = explanations.explanation_request(actor=agent, model=model, features=training[FEATURES].iloc[0].to_dict())
    background = ExplainerBackground.objects.get(version=version)
    assert made.state == "succeeded" and made.result["background"]["rows"] == background.rows == 100
    assert "training data 'training'" in background.source and background.created_by is None
    assert set(background.records[0]) == set(FEATURES)  # no id, date or label stored
    assert background.records == ex.background_to_records(
        ex.make_background(training, FEATURES, rows=100), tree.feature_schema
    )


# --- the background API --------------------------------------------------------------------------------------


def test_pipelines_upload_a_background_checked_against_the_schema(
    soom, agent, pipeline, labeller, api_as, signups, tree
):
    url = "/api/v1/models/upsell/versions/1/explainer-background"
    rows = ex.background_to_records(ex.make_background(signups, FEATURES, rows=30, seed=4), tree.feature_schema)
    made = explanations.explanation_request(actor=agent, model=soom.model, entity_id=soom.by_score()[-1])

    assert api_as(agent).put(url, {"records": rows}, format="json").status_code == 403
    assert api_as(labeller).get(url).status_code == 403
    bad = api_as(pipeline).put(url, {"records": [*rows[:3], {**rows[3], "attendees": "lots"}]}, format="json")
    assert bad.status_code == 400 and "Background row 4" in bad.json()["detail"]["records"][0]
    too_many = api_as(pipeline).put(url, [rows[0]] * 1_001, format="json")
    assert too_many.status_code == 400 and "at most 1,000" in too_many.json()["detail"]["records"][0]
    assert api_as(pipeline).put(url, {"records": []}, format="json").status_code == 400
    assert Explanation.objects.filter(pk=made.pk).exists()  # refusals change nothing

    stored = api_as(pipeline).put(url, [{**row, "customer_id": "C1"} for row in rows], format="json")
    assert stored.status_code == 200, stored.json()
    assert stored.json()["rows"] == 30 and stored.json()["created_by"] == "nightly-pipeline"
    assert ExplainerBackground.objects.get(version=soom.version).records == rows  # extra keys dropped
    # The explanation computed against the old background is gone; asking again recomputes it.
    assert not Explanation.objects.filter(pk=made.pk).exists()
    again = explanations.explanation_request(actor=agent, model=soom.model, entity_id=soom.by_score()[-1])
    assert again.result["background"]["rows"] == 30
    assert api_as(agent).get(url).json()["sha256"] == stored.json()["sha256"]


# --- privacy ----------------------------------------------------------------------------------------------------------


def test_erasing_an_entity_removes_its_cached_explanations(soom, agent):
    from support import services as support_services

    gone, kept = soom.by_score()[-1], soom.by_score()[0]
    for customer in (gone, kept):
        explanations.explanation_request(actor=agent, model=soom.model, entity_id=customer)
    counts = support_services.entity_data_erase(entity_id=gone)  # what a privacy request's erasure runs
    assert counts["explanations"] == 1 and counts["predictions"] == 1
    assert list(Explanation.objects.values_list("entity_id", flat=True)) == [kept]
    assert explanations.explanations_erase(entity_id=gone) == 0
    assert explanations.explanations_erase(entity_id=kept) == 1 and not Explanation.objects.exists()


def test_explanations_refuse_a_model_without_production(db, reviewer, agent):
    model = registry_services.model_create(name="churn", task_type=TaskType.BINARY, owner=reviewer)
    with pytest.raises(explanations.ApplicationError, match="no production version") as refused:
        explanations.explanation_request(actor=agent, model=model, entity_id="C1")
    assert "model" in refused.value.detail


def test_str_and_constraints(soom, agent):
    from django.db import IntegrityError, transaction

    made = explanations.explanation_request(actor=agent, model=soom.model, entity_id=soom.by_score()[-1])
    assert str(made) == f"Explanation #{made.pk} of upsell v1 for {made.entity_id} (succeeded)"
    with pytest.raises(IntegrityError), transaction.atomic():
        Explanation.objects.filter(pk=made.pk).update(state="failed", error="")
    with pytest.raises(IntegrityError), transaction.atomic():
        Explanation.objects.create(version=made.version, input_key=made.input_key, input={}, created_by=agent)
    assert np.isfinite(made.result["base_value"])


def test_a_form_posted_for_a_model_out_of_production_is_refused(soom, client, agent):
    client.force_login(agent)
    response = client.post(FORM, {"model": "gone", "entity_id": soom.by_score()[0]})
    assert response.status_code == 400 and "'gone' has no production version to explain" in text(response)
    assert not Explanation.objects.exists()


def test_asking_the_api_to_explain_a_model_out_of_production_is_a_conflict(db, reviewer, agent, api_as):
    RegisteredModelFactory(name="quiet", owner=reviewer)
    response = api_as(agent).post(API, {"model": "quiet", "entity_id": "C1"}, format="json")
    assert response.status_code == 409 and "has no production version" in response.json()["detail"]["model"][0]


# --- the isolated scorer -------------------------------------------------------------------------------------


def test_the_model_runs_in_a_warm_scorer_kept_per_artifact_not_in_this_process(soom, agent, monkeypatch):
    monkeypatch.setattr(explanations, "_SCORERS", explanations.WarmPool(maxsize=2, idle_seconds=600))
    first, second = soom.by_score()[-1], soom.by_score()[0]
    try:
        assert explanations.explanation_request(actor=agent, model=soom.model, entity_id=first).state == "succeeded"
        assert explanations._SCORERS.holds(soom.version.artifact_sha256)
        with explanations._scorer(soom.version) as warm:
            pid = warm.process.pid
        # The second explanation of the version asks the same process, whose explainer is built.
        again = explanations.explanation_request(actor=agent, model=soom.model, entity_id=second)
        assert again.state == "succeeded" and again.result["method"] == "tree"
        with explanations._scorer(soom.version) as warm:
            assert warm.process.pid == pid and pid != os.getpid()
    finally:
        explanations._SCORERS.close()
