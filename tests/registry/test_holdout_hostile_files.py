"""A pipeline registers hold-out data; a hostile file is refused with a short 400 naming the field,
before pandas parses its header: one million columns, a column named twice, a 20 MB single line."""

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.registry.promotion_helpers import model_with_versions

MILLION_A = b",".join([b"a"] * 1_000_000) + b"\nupgraded\n"


@pytest.fixture
def upsell(db, reviewer):
    return model_with_versions(owner=reviewer)


def register(api, content: bytes, name="h.csv", label="upgraded"):
    return api.post(
        "/api/v1/models/upsell/holdouts/",
        {"name": "hostile", "label_column": label, "file": SimpleUploadedFile(name, content)},
        format="multipart",
    )


def test_a_million_column_holdout_is_refused_with_the_count(api_as, pipeline, upsell):
    response = register(api_as(pipeline), MILLION_A)
    assert response.status_code == 400
    assert "The header has 1,000,000 columns; the limit is 2,000." in response.json()["detail"]["file"][0]
    assert not upsell.holdouts.exists()


def test_a_holdout_naming_a_column_twice_is_refused_with_its_name(api_as, pipeline, upsell):
    response = register(api_as(pipeline), b"plan,upgraded,plan\nfree,0,pro\n")
    assert response.status_code == 400
    assert "Column 'plan' appears 2 times" in response.json()["detail"]["file"][0]


def test_a_parquet_holdout_naming_a_column_twice_is_refused(api_as, pipeline, upsell):
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_arrays([pa.array([0]), pa.array([1])], names=["upgraded", "upgraded"]), buffer)
    response = register(api_as(pipeline), buffer.getvalue(), name="h.parquet")
    assert response.status_code == 400
    assert "Column 'upgraded' appears 2 times" in response.json()["detail"]["file"][0]


def test_the_column_limit_is_a_setting(api_as, pipeline, upsell, settings):
    settings.KEEL_MAX_COLUMNS = 3
    frame = pd.DataFrame({name: [0, 1] for name in ("plan", "country", "seats", "upgraded")})
    response = register(api_as(pipeline), frame.to_csv(index=False).encode())
    assert response.status_code == 400
    assert "The header has 4 columns; the limit is 3." in response.json()["detail"]["file"][0]


def test_a_holdout_path_with_a_million_columns_is_refused_too(api_as, pipeline, upsell, settings, tmp_path):
    settings.KEEL_DATA_ROOT = tmp_path
    (tmp_path / "wide.csv").write_bytes(MILLION_A)
    response = api_as(pipeline).post(
        "/api/v1/models/upsell/holdouts/",
        {"name": "wide", "label_column": "upgraded", "storage_path": "wide.csv"},
        format="json",
    )
    assert response.status_code == 400
    assert "1,000,000 columns" in response.json()["detail"]["storage_path"][0]


def test_a_20_mb_single_line_holdout_gets_a_short_answer(api_as, pipeline, upsell):
    response = register(api_as(pipeline), b"h" * (20 * 1024 * 1024))
    assert response.status_code == 400
    assert len(response.content) < 2_000, len(response.content)


def test_a_long_column_name_is_clipped_in_the_missing_label_message(api_as, pipeline, upsell):
    response = register(api_as(pipeline), b"x" * 100_000 + b",plan\n1,free\n")
    assert response.status_code == 400
    message = response.json()["detail"]["label_column"][0]
    assert "no column 'upgraded'" in message and "…(99,800 more bytes)" in message
    assert len(response.content) < 2_000
