"""A pipeline registers hold-out data; a file whose rows (or uncompressed size) exceed the limits is
refused with the figures before its data is read -- at registration with a 400 naming the field, and
by the gate for a file registered before the limits existed. A 1 MB zstd Parquet of 20 million rows
of one constant column once drove the gate past 6 GB."""

import io
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mlops.datafiles.sizes import data_size
from registry import services
from registry.models import PromotionRequest, PromotionState
from tests.registry.promotion_helpers import model_with_versions

MILLION = 1_000_000


def constant_parquet(rows: int) -> bytes:
    """`rows` rows of one constant int8 column `upgraded`, zstd, in row groups of a million."""
    buffer = io.BytesIO()
    block = pa.array(np.zeros(min(rows, MILLION), dtype=np.int8))
    with pq.ParquetWriter(buffer, pa.schema([("upgraded", pa.int8())]), compression="zstd") as writer:
        for start in range(0, rows, MILLION):
            writer.write_table(pa.table({"upgraded": block.slice(0, min(MILLION, rows - start))}))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def twenty_million_rows():
    content = constant_parquet(20 * MILLION)
    assert len(content) < 200_000, len(content)  # tiny on disk: the row count is the danger
    return content


@pytest.fixture
def upsell(db, reviewer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return model_with_versions(owner=reviewer)


def register(api, content: bytes, name="h.parquet"):
    return api.post(
        "/api/v1/models/upsell/holdouts/",
        {"name": "huge", "label_column": "upgraded", "file": SimpleUploadedFile(name, content)},
        format="multipart",
    )


def test_the_size_is_read_from_the_parquet_footer(twenty_million_rows):
    size = data_size(io.BytesIO(twenty_million_rows), "parquet")
    assert size.rows == 20 * MILLION


def test_a_20_million_row_parquet_holdout_is_refused_with_the_row_count(api_as, pipeline, upsell, twenty_million_rows):
    response = register(api_as(pipeline), twenty_million_rows)
    assert response.status_code == 400
    message = response.json()["detail"]["file"][0]
    assert message == "The file holds 20,000,000 rows; a hold-out may hold at most 2,000,000."
    assert not upsell.holdouts.exists()


def test_a_csv_holdout_over_the_row_limit_is_refused_before_pandas_reads_it(api_as, pipeline, upsell, settings):
    settings.KEEL_MAX_HOLDOUT_ROWS = 3
    content = pd.DataFrame({"plan": ["free"] * 4, "upgraded": [0, 1, 0, 1]}).to_csv(index=False).encode()
    response = register(api_as(pipeline), content, name="h.csv")
    assert response.status_code == 400
    assert response.json()["detail"]["file"] == ["The file holds 4 rows; a hold-out may hold at most 3."]


def test_the_uncompressed_size_is_limited_too(api_as, pipeline, upsell, settings):
    settings.KEEL_MAX_HOLDOUT_UNCOMPRESSED_BYTES = 1_000
    frame = pd.DataFrame({"upgraded": np.arange(10_000) % 2, "score": np.arange(10_000) * 0.5})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, compression="zstd")
    response = register(api_as(pipeline), buffer.getvalue())
    assert response.status_code == 400
    message = response.json()["detail"]["file"][0]
    assert "bytes uncompressed; a hold-out may take at most 1,000." in message


def test_a_holdout_within_the_limits_is_registered(api_as, pipeline, upsell):
    response = register(api_as(pipeline), constant_parquet(1_000))
    assert response.status_code == 201, response.content
    assert upsell.holdouts.get().name == "huge"


def test_the_gate_refuses_a_huge_holdout_registered_before_the_limit(
    pipeline, upsell, settings, twenty_million_rows, django_capture_on_commit_callbacks
):
    settings.KEEL_MAX_HOLDOUT_ROWS = 50 * MILLION  # registered while the limit was higher
    holdout = services.holdout_register(
        model=upsell,
        actor=pipeline,
        name="huge",
        label_column="upgraded",
        uploaded=SimpleUploadedFile("h.parquet", twenty_million_rows),
    )
    settings.KEEL_MAX_HOLDOUT_ROWS = 2 * MILLION
    with django_capture_on_commit_callbacks(execute=True):
        request = services.promotion_request_create(
            version=upsell.versions.get(version=1), actor=pipeline, reason="retrained", holdout=holdout
        )
    request = PromotionRequest.objects.get(pk=request.pk)
    assert request.state == PromotionState.VALIDATION_FAILED
    assert request.failure_reasons == ["The file holds 20,000,000 rows; a hold-out may hold at most 2,000,000."]
    assert os.path.getsize(holdout.file.path) == len(twenty_million_rows)
