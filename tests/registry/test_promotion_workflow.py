"""A retrained model reaches production only through a validated request that a second person approves;
a reviewer can roll production back in one action; serving systems read the result."""

import pandas as pd
import pytest
from django.db import IntegrityError, transaction

from mlops.errors import ApplicationError
from registry import selectors, services
from registry.models import AliasEvent, PromotionEvent, PromotionRequest, PromotionState
from tests.registry.promotion_helpers import approved, csv_upload, gate_verdict, holdout_for, model_with_versions


@pytest.fixture
def upsell(db, reviewer):
    return model_with_versions(owner=reviewer)


@pytest.fixture
def holdout(upsell, pipeline):
    return holdout_for(upsell, pipeline)


def submit(api, version, holdout=None, alias="production", **extra):
    body = {"model": "upsell", "version": version, "target_alias": alias, "reason": "weekly retrain", **extra}
    if holdout is not None:
        body["holdout"] = holdout.pk
    return api.post("/api/v1/promotions/", body, format="json")


def v(model, number):
    return model.versions.get(version=number)


# --- the lifecycle through the API ------------------------------------------------------------------


def test_a_pipeline_submits_the_gate_passes_and_a_reviewer_approves(api_as, pipeline, reviewer, upsell, holdout):
    created = submit(api_as(pipeline), 2, holdout)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["state"] == "validating" and body["submitted_by"] == pipeline.username
    request = PromotionRequest.objects.get(pk=body["id"])
    gate_verdict(request, threshold=0.27)

    page = api_as(reviewer).get(f"/api/v1/promotions/{request.pk}/").json()
    assert page["state"] == "awaiting_approval" and page["proposed_threshold"] == 0.27

    decided = api_as(reviewer).post(f"/api/v1/promotions/{request.pk}/approve", {"comment": "AUC up"}, format="json")
    assert decided.status_code == 200, decided.content
    assert decided.json()["state"] == "approved" and decided.json()["decided_by"] == reviewer.username
    assert [e["to_state"] for e in decided.json()["events"]] == ["validating", "awaiting_approval", "approved"]
    assert [e["actor"] for e in decided.json()["events"]] == [pipeline.username, "keel-gate", reviewer.username]

    assert selectors.alias_map(upsell)["production"].version == 2
    move = AliasEvent.objects.get(alias="production")
    assert move.actor == reviewer and f"#{request.pk} approved" in move.reason
    serving = api_as(pipeline).get("/api/v1/models/upsell/serving").json()
    assert serving["production"]["version"] == 2 and serving["production"]["threshold"] == 0.27


def test_the_submitter_can_never_approve_their_own_request(api_as, reviewer, upsell, holdout):
    request_id = submit(api_as(reviewer), 2, holdout).json()["id"]
    gate_verdict(PromotionRequest.objects.get(pk=request_id))
    response = api_as(reviewer).post(f"/api/v1/promotions/{request_id}/approve", {}, format="json")
    assert response.status_code == 403
    assert "four eyes" in response.json()["detail"]["actor"][0]
    assert "production" not in selectors.alias_map(upsell)


def test_the_database_refuses_a_self_approval_too(reviewer, upsell, holdout):
    request = services.promotion_request_create(version=v(upsell, 2), actor=reviewer, reason="r", holdout=holdout)
    with pytest.raises(IntegrityError), transaction.atomic():
        PromotionRequest.objects.filter(pk=request.pk).update(decided_by=reviewer)


def test_a_request_that_failed_validation_cannot_be_approved(api_as, pipeline, reviewer, upsell, holdout):
    request_id = submit(api_as(pipeline), 2, holdout).json()["id"]
    gate_verdict(
        PromotionRequest.objects.get(pk=request_id),
        failures=["roc_auc 0.61 is 0.09 below production's 0.70 (allowed: 0.01)."],
    )
    body = api_as(reviewer).get(f"/api/v1/promotions/{request_id}/").json()
    assert body["state"] == "validation_failed"
    assert body["failure_reasons"] == ["roc_auc 0.61 is 0.09 below production's 0.70 (allowed: 0.01)."]
    response = api_as(reviewer).post(f"/api/v1/promotions/{request_id}/approve", {}, format="json")
    assert response.status_code == 409 and "cannot be approved" in response.json()["detail"]["state"][0]
    assert "production" not in selectors.alias_map(upsell)


def test_approving_on_stale_evidence_is_refused(api_as, pipeline, reviewer, second_reviewer, upsell, holdout):
    first = submit(api_as(pipeline), 2, holdout).json()["id"]
    second = submit(api_as(pipeline), 3, holdout).json()["id"]
    for pk in (first, second):
        gate_verdict(PromotionRequest.objects.get(pk=pk))  # both compared against "no production"
    assert api_as(reviewer).post(f"/api/v1/promotions/{first}/approve", {}, format="json").status_code == 200
    late = api_as(second_reviewer).post(f"/api/v1/promotions/{second}/approve", {}, format="json")
    assert late.status_code == 409 and "evidence is stale" in late.json()["detail"]["state"][0]
    assert selectors.alias_map(upsell)["production"].version == 2


def test_reject_needs_a_reason_and_cancel_is_for_the_submitter(api_as, pipeline, reviewer, upsell, holdout):
    request_id = submit(api_as(pipeline), 2, holdout).json()["id"]
    gate_verdict(PromotionRequest.objects.get(pk=request_id))
    no_reason = api_as(reviewer).post(f"/api/v1/promotions/{request_id}/reject", {}, format="json")
    assert no_reason.status_code == 400 and "comment" in no_reason.json()["detail"]
    not_theirs = api_as(reviewer).post(f"/api/v1/promotions/{request_id}/cancel", {}, format="json")
    assert not_theirs.status_code == 403
    cancelled = api_as(pipeline).post(f"/api/v1/promotions/{request_id}/cancel", {"reason": "bad data"}, format="json")
    assert cancelled.json()["state"] == "cancelled"
    again = api_as(reviewer).post(f"/api/v1/promotions/{request_id}/reject", {"comment": "x"}, format="json")
    assert again.status_code == 409


def test_only_approvers_decide_and_pipelines_cannot(api_as, pipeline, agent, labeller, upsell, holdout):
    request_id = submit(api_as(pipeline), 2, holdout).json()["id"]
    gate_verdict(PromotionRequest.objects.get(pk=request_id))
    for actor in (pipeline, agent, labeller):
        for action in ("approve", "reject"):
            response = api_as(actor).post(f"/api/v1/promotions/{request_id}/{action}", {"comment": "x"}, format="json")
            assert response.status_code == 403
        assert (
            api_as(actor)
            .post("/api/v1/models/upsell/rollback", {"version": 1, "reason": "x"}, format="json")
            .status_code
            == 403
        )
    assert submit(api_as(agent), 3, holdout).status_code == 403


def test_the_promotion_history_cannot_be_rewritten(reviewer, upsell, holdout):
    services.promotion_request_create(version=v(upsell, 2), actor=reviewer, reason="r", holdout=holdout)
    with pytest.raises(IntegrityError), transaction.atomic():
        PromotionEvent.objects.update(note="nothing happened")


# --- bad requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra,field",
    [
        ({"version": 2}, "holdout"),
        ({"version": 2, "alias": "canary", "with_holdout": True}, "canary_percent"),
        ({"version": 2, "alias": "shadow", "canary_percent": 5}, "canary_percent"),
        ({"version": 2, "with_holdout": True, "reason": ""}, "reason"),
        ({"version": 2, "alias": "challenger"}, "target_alias"),
        ({"version": 2, "alias": "production", "action": "remove"}, "action"),
    ],
)
def test_bad_requests_name_the_field_and_create_nothing(api_as, pipeline, upsell, holdout, extra, field):
    extra = dict(extra)
    version, alias = extra.pop("version"), extra.pop("alias", "production")
    with_holdout = holdout if extra.pop("with_holdout", False) else None
    response = submit(api_as(pipeline), version, with_holdout, alias=alias, **extra)
    assert response.status_code == 400, response.content
    assert field in response.json()["detail"]
    assert not PromotionRequest.objects.exists()


def test_a_version_without_an_artifact_cannot_be_promoted(api_as, pipeline, upsell, holdout):
    from tests.factories import ModelVersionFactory

    ModelVersionFactory(model=upsell)  # v4, no artifact
    response = submit(api_as(pipeline), 4, holdout)
    assert response.status_code == 409 and "no artifact" in response.json()["detail"]["version"][0]


def test_the_same_change_cannot_be_requested_twice_while_open(api_as, pipeline, upsell, holdout):
    assert submit(api_as(pipeline), 2, holdout).status_code == 201
    again = submit(api_as(pipeline), 2, holdout)
    assert again.status_code == 409 and "still open" in again.json()["detail"]["version"][0]


# --- hold-out data ----------------------------------------------------------------------------------


def test_a_holdout_is_registered_by_upload(api_as, pipeline, upsell):
    frame = pd.DataFrame({"plan": ["free", "pro"], "upgraded": [0, 1]})
    response = api_as(pipeline).post(
        "/api/v1/models/upsell/holdouts/",
        {"name": "week 47", "label_column": "upgraded", "file": csv_upload(frame)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["format"] == "csv" and response.json()["source"] == "upload"


@pytest.mark.parametrize(
    "content,label,field,message",
    [
        (b"plan,upgraded\nfree,0\n", "converted", "label_column", "no column 'converted'"),
        (b"plan,upgraded\nfr\xe9e,0\n", "upgraded", "file", "offset 16"),
        (b"", "upgraded", "file", "empty"),
    ],
)
def test_a_bad_holdout_upload_is_refused_with_the_reason(api_as, pipeline, upsell, content, label, field, message):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = api_as(pipeline).post(
        "/api/v1/models/upsell/holdouts/",
        {"name": "bad", "label_column": label, "file": SimpleUploadedFile("h.csv", content)},
        format="multipart",
    )
    assert response.status_code == 400
    assert message in response.json()["detail"][field][0]
    assert not upsell.holdouts.exists()


def test_a_holdout_path_must_stay_inside_the_data_root(api_as, pipeline, upsell, settings, tmp_path):
    settings.KEEL_DATA_ROOT = tmp_path / "data"
    (tmp_path / "data" / "weekly").mkdir(parents=True)
    (tmp_path / "data" / "weekly" / "h.csv").write_text("plan,upgraded\nfree,0\n")
    (tmp_path / "secret.csv").write_text("plan,upgraded\nfree,0\n")
    ok = api_as(pipeline).post(
        "/api/v1/models/upsell/holdouts/",
        {"name": "weekly", "label_column": "upgraded", "storage_path": "weekly/h.csv"},
        format="json",
    )
    assert ok.status_code == 201, ok.content
    escape = api_as(pipeline).post(
        "/api/v1/models/upsell/holdouts/",
        {"name": "sneaky", "label_column": "upgraded", "storage_path": "../secret.csv"},
        format="json",
    )
    assert escape.status_code == 400 and "inside Keel's data root" in escape.json()["detail"]["storage_path"][0]


# --- rollback and serving config ----------------------------------------------------------------------


@pytest.fixture
def two_releases(upsell, holdout, pipeline, reviewer):
    first = services.promotion_request_create(version=v(upsell, 1), actor=pipeline, reason="first", holdout=holdout)
    approved(first, reviewer, threshold=0.4)
    second = services.promotion_request_create(version=v(upsell, 2), actor=pipeline, reason="retrain", holdout=holdout)
    approved(second, reviewer, threshold=0.3)
    return first, second


def test_rollback_restores_the_previous_serving_config(api_as, reviewer, second_reviewer, upsell, two_releases):
    before = api_as(reviewer).get("/api/v1/models/upsell/serving").json()
    assert (before["production"]["version"], before["production"]["threshold"]) == (2, 0.3)
    assert before["fallback"]["version"] == 1

    response = api_as(second_reviewer).post(
        "/api/v1/models/upsell/rollback", {"version": 1, "reason": "v2 floods sales with leads"}, format="json"
    )
    assert response.status_code == 200, response.content
    after = response.json()
    assert (after["production"]["version"], after["production"]["threshold"]) == (1, 0.4)
    assert after["production"]["sha256"] == v(upsell, 1).artifact_sha256
    assert after["production"]["artifact_url"].endswith("/api/v1/models/upsell/versions/1/artifact")
    first, second = (PromotionRequest.objects.get(pk=r.pk) for r in two_releases)
    assert (first.state, second.state) == (PromotionState.APPROVED, PromotionState.ROLLED_BACK)
    assert second.events.last().actor == second_reviewer
    assert AliasEvent.objects.filter(alias="production").first().reason == "Rollback: v2 floods sales with leads"


def test_rollback_only_goes_to_an_earlier_approved_version(api_as, reviewer, upsell, two_releases):
    response = api_as(reviewer).post(
        "/api/v1/models/upsell/rollback", {"version": 3, "reason": "try v3"}, format="json"
    )
    assert response.status_code == 409 and "v1" in response.json()["detail"]["version"][0]
    no_reason = api_as(reviewer).post("/api/v1/models/upsell/rollback", {"version": 1}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["detail"]


def test_the_last_seven_approved_versions_stay_ready_for_rollback(db, reviewer, second_reviewer, pipeline):
    model = model_with_versions(name="churn", count=9)
    holdout = holdout_for(model, pipeline)
    for number in range(1, 10):
        request = services.promotion_request_create(
            version=v(model, number), actor=pipeline, reason="r", holdout=holdout
        )
        approved(request, reviewer)
    targets = [t.version for t in selectors.rollback_targets(model)]
    assert [t.version for t in targets] == [8, 7, 6, 5, 4, 3, 2]
    assert all(t.artifact.storage.exists(t.artifact.name) for t in targets)


def test_serving_config_answers_304_while_nothing_changed(api_as, pipeline, reviewer, upsell, two_releases):
    first = api_as(pipeline).get("/api/v1/models/upsell/serving")
    etag = first["ETag"]
    unchanged = api_as(pipeline).get("/api/v1/models/upsell/serving", HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304
    for header in (f"W/{etag}", f'"other", {etag}', "*"):  # weak comparison, lists and any
        assert api_as(pipeline).get("/api/v1/models/upsell/serving", HTTP_IF_NONE_MATCH=header).status_code == 304
    assert api_as(pipeline).get("/api/v1/models/upsell/serving", HTTP_IF_NONE_MATCH='"other"').status_code == 200
    services.promotion_rollback(model=upsell, to_version=v(upsell, 1), actor=reviewer, reason="incident")
    changed = api_as(pipeline).get("/api/v1/models/upsell/serving", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_shadow_and_canary_are_reviewed_changes_too(api_as, pipeline, reviewer, upsell, two_releases, holdout):
    shadow = services.promotion_request_create(
        version=v(upsell, 3), actor=pipeline, reason="watch v3", target_alias="shadow"
    )
    gate_verdict(shadow, failures=["roc_auc below floor"])  # a shadow serves nobody: warnings, not a stop
    assert PromotionRequest.objects.get(pk=shadow.pk).state == PromotionState.AWAITING_APPROVAL
    services.promotion_approve(promotion=shadow, actor=reviewer)
    canary = services.promotion_request_create(
        version=v(upsell, 3),
        actor=pipeline,
        reason="5% of traffic",
        target_alias="canary",
        canary_percent=5,
        holdout=holdout,
    )
    approved(canary, reviewer)
    serving = api_as(pipeline).get("/api/v1/models/upsell/serving").json()
    assert serving["shadow"]["version"] == 3
    assert (serving["canary"]["version"], serving["canary"]["percent"]) == (3, 5)

    stop = services.promotion_request_create(
        version=v(upsell, 3), actor=pipeline, reason="canary done", target_alias="canary", action="remove"
    )
    approved(stop, reviewer)
    assert api_as(pipeline).get("/api/v1/models/upsell/serving").json()["canary"] is None


def test_a_governed_alias_has_no_backdoor_in_the_services(reviewer, upsell):
    with pytest.raises(ApplicationError) as refused:
        services.alias_move(model=upsell, alias="production", version=v(upsell, 1), actor=reviewer, reason="x")
    assert "promotion request" in refused.value.message


def test_the_admin_cannot_move_an_alias(client, reviewer, upsell):
    reviewer.is_staff = reviewer.is_superuser = True
    reviewer.save()
    client.force_login(reviewer)
    response = client.post(
        "/admin/registry/modelalias/add/", {"model": upsell.pk, "name": "production", "version": v(upsell, 1).pk}
    )
    assert response.status_code == 403
    assert not upsell.aliases.exists()


def test_each_step_notifies_subscribers_and_a_winning_challenger_is_announced(
    reviewer, pipeline, upsell, holdout, django_capture_on_commit_callbacks, mailoutbox
):
    from registry.models import ChannelKind, NotificationChannel, NotificationDelivery

    NotificationChannel.objects.create(name="ml-team", kind=ChannelKind.EMAIL, target="ml@soom.example")
    with django_capture_on_commit_callbacks(execute=True):
        first = services.promotion_request_create(version=v(upsell, 1), actor=pipeline, reason="first", holdout=holdout)
    with django_capture_on_commit_callbacks(execute=True):
        gate_verdict(first, failures=["roc_auc below the floor"])
    with django_capture_on_commit_callbacks(execute=True):
        second = services.promotion_request_create(
            version=v(upsell, 2), actor=pipeline, reason="retrain", holdout=holdout
        )
        gate_verdict(second, beats=True)
        services.promotion_approve(promotion=second, actor=reviewer, comment="ship")

    events = list(NotificationDelivery.objects.order_by("id").values_list("event", flat=True))
    assert events == [
        "promotion.created",
        "promotion.validation_failed",
        "promotion.created",
        "promotion.awaiting_approval",
        "promotion.challenger_beats_production",
        "promotion.approved",
    ]
    assert NotificationDelivery.objects.filter(state="delivered").count() == 6
    assert any("v2" in message.subject and "approved" in message.subject for message in mailoutbox)
