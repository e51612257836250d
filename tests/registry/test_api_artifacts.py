"""A pipeline uploads a version's artifact with its sha256; Keel stores it only if the bytes match."""

import hashlib
import os
import uuid

import pytest

from mlops.errors import ApplicationError
from registry import services
from registry.models import ArtifactCheck, ModelVersion
from tests.artifacts import skops_artifact
from tests.factories import ModelVersionFactory, RegisteredModelFactory
from tests.registry.helpers import artifact_file

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def version(db):
    return ModelVersionFactory(model=RegisteredModelFactory(name="upsell"))


def stored_files(media_root) -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(media_root) for f in files]


URL = "/api/v1/models/upsell/versions/1/artifact"


def test_an_artifact_with_its_true_sha256_is_stored_and_downloads_byte_for_byte(
    api_as, pipeline, version, media, django_capture_on_commit_callbacks
):
    content = skops_artifact()
    upload, sha = artifact_file(content)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(pipeline).post(URL, {"file": upload, "sha256": sha}, format="multipart")
    assert response.status_code == 201, response.content
    artifact = response.json()["artifact"]
    assert artifact["sha256"] == sha and artifact["size"] == len(content)
    assert artifact["download_url"].endswith(URL)

    download = api_as(pipeline).get(URL)
    assert download.status_code == 200
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == sha
    assert download["ETag"] == f'"{sha}"'
    # Storing queued a background re-hash of the stored bytes, which agreed.
    assert ArtifactCheck.objects.get(version=version).ok


def test_a_sha256_mismatch_is_refused_and_nothing_is_stored(api_as, pipeline, version, media):
    upload, _ = artifact_file(b"the real bytes")
    response = api_as(pipeline).post(
        URL, {"file": upload, "sha256": hashlib.sha256(b"other").hexdigest()}, format="multipart"
    )
    assert response.status_code == 400
    assert "nothing was stored" in response.json()["detail"]["sha256"][0]
    version.refresh_from_db()
    assert not version.artifact and version.artifact_sha256 == ""
    assert stored_files(media) == []


def test_an_oversized_artifact_is_refused_with_413_and_nothing_is_stored(api_as, pipeline, version, media, settings):
    settings.KEEL_MAX_ARTIFACT_BYTES = 1000
    content = b"x" * 5000
    upload, sha = artifact_file(content)
    response = api_as(pipeline).post(URL, {"file": upload, "sha256": sha}, format="multipart")
    assert response.status_code == 413
    assert "limit is 1000 bytes" in response.json()["detail"]["file"][0]
    version.refresh_from_db()
    assert not version.artifact
    assert stored_files(media) == []


def test_a_file_just_over_the_limit_is_caught_after_parsing_too(version, media, settings):
    # Multipart framing leaves some slack in the early Content-Length check; the service still refuses.
    settings.KEEL_MAX_ARTIFACT_BYTES = 1000
    upload, sha = artifact_file(b"y" * 1001)
    with pytest.raises(ApplicationError) as refused:
        services.artifact_attach(version=version, uploaded=upload, sha256=sha)
    assert refused.value.status_code == 413
    assert stored_files(media) == []


def test_an_artifact_is_attached_once(api_as, pipeline, version, media):
    first, sha = artifact_file(skops_artifact(1))
    assert api_as(pipeline).post(URL, {"file": first, "sha256": sha}, format="multipart").status_code == 201
    second, sha2 = artifact_file(b"sneaky replacement")
    response = api_as(pipeline).post(URL, {"file": second, "sha256": sha2}, format="multipart")
    assert response.status_code == 409
    assert "attached once" in response.json()["detail"]["file"][0]
    version.refresh_from_db()
    assert version.artifact_sha256 == sha
    assert len(stored_files(media)) == 1


def test_a_client_supplied_path_cannot_escape_the_artifact_folder(api_as, pipeline, version, media):
    upload, sha = artifact_file(name="../../../etc/cron.d/evil")
    assert api_as(pipeline).post(URL, {"file": upload, "sha256": sha}, format="multipart").status_code == 201
    [path] = stored_files(media)
    assert path.startswith(str(media / "artifacts" / "upsell" / "v1"))
    assert os.path.basename(path).startswith("evil")


@pytest.mark.parametrize(
    "body,field",
    [
        ({"sha256": "a" * 64}, "file"),
        ({"sha256": "not-hex"}, "sha256"),
    ],
)
def test_malformed_uploads_name_the_field(api_as, pipeline, version, body, field):
    if field != "file":
        body["file"] = artifact_file()[0]
    response = api_as(pipeline).post(URL, body, format="multipart")
    assert response.status_code == 400
    assert field in response.json()["detail"]


def test_an_empty_file_is_refused(api_as, pipeline, version):
    upload, sha = artifact_file(b"")
    response = api_as(pipeline).post(URL, {"file": upload, "sha256": sha}, format="multipart")
    assert response.status_code == 400 and "empty" in response.json()["detail"]["file"][0]


def test_downloading_a_missing_artifact_is_a_clear_404(api_as, agent, version):
    response = api_as(agent).get(URL)
    assert response.status_code == 404 and "no artifact" in response.json()["message"]


def test_the_integrity_check_flags_bytes_changed_on_disk_and_records_once(version, media):
    upload, sha = artifact_file()
    services.artifact_attach(version=version, uploaded=upload, sha256=sha)
    version.refresh_from_db()
    with open(version.artifact.path, "wb") as handle:
        handle.write(b"tampered")
    key = str(uuid.uuid4())
    check = services.artifact_verify(version_id=version.pk, check_key=key)
    assert not check.ok and hashlib.sha256(b"tampered").hexdigest() in check.error
    assert services.artifact_verify(version_id=version.pk, check_key=key).pk == check.pk
    assert ArtifactCheck.objects.filter(version=version).count() == 1


def test_a_stored_version_config_cannot_be_rewritten(version, db):
    from django.db import IntegrityError, connection, transaction

    if connection.vendor != "postgresql":
        # SQLite guards only the log tables; the model-version trigger needs PL/pgSQL.
        assert ModelVersion.objects.filter(pk=version.pk).update(decision_threshold=0.9) == 1
        return
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=version.pk).update(decision_threshold=0.9)
    ModelVersion.objects.filter(pk=version.pk).update(description="documentation may change")
