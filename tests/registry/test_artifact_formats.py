"""Artifacts are code: a pipeline uploads skops files that build only trusted types; a pickle is
refused unless a reviewer has allowed pickles for that model, with a reason on the record."""

import os

import pytest

from registry import selectors, services
from registry.models import ModelVersion, PickleAllowance
from tests.artifacts import malicious_pickle, skops_artifact, skops_with_eval
from tests.factories import ModelVersionFactory, RegisteredModelFactory
from tests.registry.helpers import artifact_file

URL = "/api/v1/models/upsell/versions/1/artifact"
PICKLES = "/api/v1/models/upsell/pickles"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def version(db, reviewer):
    return ModelVersionFactory(model=RegisteredModelFactory(name="upsell", owner=reviewer))


def stored_files(media_root) -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(media_root) for f in files]


def upload(client, content, name="model.joblib", url=URL):
    file, sha = artifact_file(content, name=name)
    return client.post(url, {"file": file, "sha256": sha}, format="multipart")


def test_a_clean_skops_artifact_is_accepted_as_skops(api_as, pipeline, version):
    response = upload(api_as(pipeline), skops_artifact(), name="model.skops")
    assert response.status_code == 201, response.content
    assert response.json()["artifact"]["format"] == "skops"
    version.refresh_from_db()
    assert version.artifact_format == "skops"
    assert selectors.artifact_load_refusal(version) is None


def test_a_malicious_pickle_is_refused_by_default_naming_what_it_would_import(api_as, pipeline, version, media):
    response = upload(api_as(pipeline), malicious_pickle())
    assert response.status_code == 400
    message = response.json()["detail"]["file"][0]
    assert "'model.joblib' is a pickle (it would import posix.system)" in message
    assert "pickles run code when loaded" in message
    assert "skops.io.dump" in message and "ask a reviewer to allow pickles for 'upsell' with a reason" in message
    version.refresh_from_db()
    assert not version.artifact and version.artifact_format == ""
    assert stored_files(media) == []


def test_a_skops_file_with_an_untrusted_type_is_refused_naming_it(api_as, pipeline, version, media):
    response = upload(api_as(pipeline), skops_with_eval(), name="model.skops")
    assert response.status_code == 400
    message = response.json()["detail"]["file"][0]
    assert "would build types Keel does not trust: builtins.eval" in message
    assert "KEEL_TRUSTED_ARTIFACT_TYPES" in message
    assert stored_files(media) == []


def test_the_deployers_own_types_are_trusted(api_as, pipeline, version, settings):
    settings.KEEL_TRUSTED_ARTIFACT_TYPES = ["builtins.eval"]
    assert upload(api_as(pipeline), skops_with_eval(), name="model.skops").status_code == 201


def test_a_reviewer_allows_pickles_for_a_model_with_a_reason_then_revokes(
    api_as, pipeline, reviewer, version, client_as
):
    allowed = api_as(reviewer).post(PICKLES, {"allowed": True, "reason": "Legacy XGBoost wrapper, SUP-12"})
    assert allowed.status_code == 201, allowed.content
    assert allowed.json() | {"created_at": None} == {
        "allowed": True,
        "reason": "Legacy XGBoost wrapper, SUP-12",
        "actor": "rita-reviewer",
        "created_at": None,
    }
    assert selectors.pickles_allowed(version.model)

    accepted = upload(api_as(pipeline), malicious_pickle())
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["artifact"]["format"] == "pickle"
    version.refresh_from_db()
    assert selectors.artifact_load_refusal(version) is None

    page = client_as(reviewer).get("/models/upsell/")
    assert "Legacy XGBoost wrapper, SUP-12" in page.content.decode()

    revoked = api_as(reviewer).post(PICKLES, {"allowed": False, "reason": "Retrained with skops"})
    assert revoked.status_code == 201
    refusal = selectors.artifact_load_refusal(version)
    assert "stopped allowing pickles for 'upsell'" in refusal and "Retrained with skops" in refusal

    v2 = ModelVersionFactory(model=version.model)
    refused = upload(api_as(pipeline), malicious_pickle(), url=f"/api/v1/models/upsell/versions/{v2.version}/artifact")
    assert refused.status_code == 400 and "is a pickle" in refused.json()["detail"]["file"][0]

    history = api_as(pipeline).get(PICKLES).json()
    records = history["results"] if isinstance(history, dict) else history
    assert [(r["allowed"], r["reason"]) for r in records] == [
        (False, "Retrained with skops"),
        (True, "Legacy XGBoost wrapper, SUP-12"),
    ]


def test_a_pipeline_token_cannot_allow_pickles(api_as, pipeline, version):
    response = api_as(pipeline).post(PICKLES, {"allowed": True, "reason": "let me"})
    assert response.status_code == 403
    assert not PickleAllowance.objects.exists()
    assert upload(api_as(pipeline), malicious_pickle()).status_code == 400


def test_a_decision_needs_a_reason_and_must_change_something(api_as, reviewer, version):
    no_reason = api_as(reviewer).post(PICKLES, {"allowed": True, "reason": " "})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["detail"]
    repeat = api_as(reviewer).post(PICKLES, {"allowed": False, "reason": "still no"})
    assert repeat.status_code == 400
    assert "does not allow pickle artifacts" in repeat.json()["detail"]["allowed"][0]


def test_decisions_are_append_only(reviewer, version):
    decision = services.model_pickle_policy_set(model=version.model, actor=reviewer, allowed=True, reason="ok")
    decision.reason = "rewritten"
    with pytest.raises(Exception, match="append-only"):
        decision.save()


def test_a_version_without_an_artifact_has_no_format(version):
    assert ModelVersion.objects.get(pk=version.pk).artifact_format == ""


def test_a_reviewer_allows_pickles_on_the_model_page_and_others_cannot(client_as, reviewer, pipeline, agent, version):
    page = client_as(reviewer).get("/models/upsell/").content.decode()
    assert "Allow pickles for this model" in page
    assert "Allow pickles for this model" not in client_as(agent).get("/models/upsell/").content.decode()

    refused = client_as(pipeline).post("/models/upsell/pickles/", {"allowed": "True", "reason": "let me"})
    assert refused.status_code == 403
    empty = client_as(reviewer).post("/models/upsell/pickles/", {"allowed": "True", "reason": ""})
    assert empty.status_code == 400 and "Say why, for the record." in empty.content.decode()
    assert not selectors.pickles_allowed(version.model)

    done = client_as(reviewer).post("/models/upsell/pickles/", {"allowed": "True", "reason": "Legacy wrapper"})
    assert done.status_code == 302 and done["Location"].endswith("/models/upsell/#pickles")
    assert selectors.pickles_allowed(version.model)
    after = client_as(reviewer).get("/models/upsell/").content.decode()
    assert "Stop allowing pickles" in after and "Legacy wrapper" in after
