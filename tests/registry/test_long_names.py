"""A file name as long as a client's file system allows, or a path longer than Keel's, is either
stored under a bounded name or refused with a field error — never a 500 from the file system."""

import pandas as pd
import pytest

from registry.models import HoldoutDataset, ModelVersion
from tests.factories import ModelVersionFactory, RegisteredModelFactory
from tests.registry.helpers import artifact_file
from tests.registry.promotion_helpers import csv_upload

HOLDOUT = pd.DataFrame({"plan": ["free", "pro"], "upgraded": [0, 1]})

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def upsell(db):
    model = RegisteredModelFactory(name="upsell")
    ModelVersionFactory(model=model)
    return model


def test_a_holdout_uploaded_under_a_280_character_name_is_stored_under_a_bounded_one(api_as, pipeline, upsell):
    long_name = "week-47-" + "x" * 268 + ".csv"
    response = api_as(pipeline).post(
        "/api/v1/models/upsell/holdouts/",
        {"name": "week 47", "label_column": "upgraded", "file": csv_upload(HOLDOUT, name=long_name)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    stored = HoldoutDataset.objects.get().file
    base = stored.name.rsplit("/", 1)[-1]
    assert len(base.encode()) <= 255 and base.endswith(".csv") and "week-47-xxx" in base
    assert stored.storage.exists(stored.name)


def test_a_holdout_name_of_multibyte_characters_is_bounded_in_bytes(api_as, pipeline, upsell):
    response = api_as(pipeline).post(
        "/api/v1/models/upsell/holdouts/",
        {"name": "Woche", "label_column": "upgraded", "file": csv_upload(HOLDOUT, name="ü" * 250 + ".csv")},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert len(HoldoutDataset.objects.get().file.name.rsplit("/", 1)[-1].encode()) <= 255


def test_a_holdout_storage_path_of_300_characters_is_a_field_error(api_as, pipeline, upsell, settings, tmp_path):
    settings.KEEL_DATA_ROOT = tmp_path / "data"
    (tmp_path / "data").mkdir()
    response = api_as(pipeline).post(
        "/api/v1/models/upsell/holdouts/",
        {"name": "weekly", "label_column": "upgraded", "storage_path": "h" * 296 + ".csv"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "at most 255 bytes" in response.json()["detail"]["storage_path"][0]
    assert not HoldoutDataset.objects.exists()


def test_an_artifact_uploaded_under_a_long_multibyte_name_is_stored(api_as, pipeline, upsell):
    upload, sha = artifact_file(name="модель-" * 35 + ".joblib")
    response = api_as(pipeline).post(
        "/api/v1/models/upsell/versions/1/artifact", {"file": upload, "sha256": sha}, format="multipart"
    )
    assert response.status_code == 201, response.content
    stored = ModelVersion.objects.get().artifact
    assert stored.name.endswith(".joblib") and len(stored.name.rsplit("/", 1)[-1].encode()) <= 255
