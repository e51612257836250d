"""What the audits app publishes of a version's training reference: whether there is one, its name,
size and format, its profile's columns and its rows in chunks."""

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits import selectors, services
from audits.models import DataBatch
from demo.batches import clean_batch, to_csv
from demo.training import feature_schema
from registry import services as registry_services
from registry.models import TaskType
from tests.audits.reference_scenario import UPSELL_COLUMNS

ROWS = 300
FEATURES = [entry["name"] for entry in feature_schema()]


@pytest.fixture
def version(db, media, reviewer, pipeline):
    model = registry_services.model_create(name="upsell", task_type=TaskType.BINARY, owner=reviewer)
    return registry_services.version_create(
        model=model, actor=pipeline, feature_schema=feature_schema(), decision_threshold=0.2
    )


@pytest.fixture
def training():
    return clean_batch(ROWS, start=date(2026, 1, 1), end=date(2026, 3, 31), seed=5, first_customer=1)


@pytest.fixture
def with_reference(version, pipeline, training, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        uploaded = SimpleUploadedFile("training.csv", to_csv(training))
        services.reference_submit(version=version, actor=pipeline, uploaded=uploaded, **UPSELL_COLUMNS)
    return version


def test_a_version_without_a_reference(version):
    assert selectors.has_reference(version) is False
    assert selectors.reference_for(version) is None
    assert selectors.reference_profile_columns(version) == {}
    assert list(selectors.reference_rows_in_chunks(version, columns=FEATURES, chunk_rows=100)) == []


def test_a_reference_is_named_sized_and_typed(with_reference):
    assert selectors.has_reference(with_reference) is True
    info = selectors.reference_for(with_reference)
    assert info == selectors.ReferenceInfo(name="training data of v1", rows=ROWS, format="csv")
    with pytest.raises(AttributeError):
        info.rows = 1  # frozen


def test_the_profile_columns_are_the_reference_profile(with_reference, training):
    columns = selectors.reference_profile_columns(with_reference)
    assert columns["meeting_minutes"]["kind"] == "numeric"
    assert columns["plan"]["kind"] == "categorical"
    assert set(columns["plan"]["counts"]) == set(training["plan"].unique())


def test_rows_come_in_chunks_of_the_asked_columns(with_reference, training):
    chunks = list(
        selectors.reference_rows_in_chunks(
            with_reference, columns=["plan", "meeting_minutes", "nope"], dtypes={"plan": object}, chunk_rows=120
        )
    )
    assert [len(chunk) for chunk in chunks] == [120, 120, 60]
    frame = pd.concat(chunks, ignore_index=True)
    assert list(frame.columns) == ["plan", "meeting_minutes"]  # a name the file lacks is left out
    assert frame["plan"].tolist() == training["plan"].tolist()
    assert frame["meeting_minutes"].tolist() == pytest.approx(training["meeting_minutes"].tolist())


def test_an_unreadable_reference_file_raises_value_error_with_the_reason(with_reference):
    batch = DataBatch.objects.get(purpose="training")
    selectors.batch_path(batch).write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        next(selectors.reference_rows_in_chunks(with_reference, columns=FEATURES, chunk_rows=100))


def test_a_batch_is_read_where_it_was_uploaded_or_named(with_reference, settings, tmp_path):
    uploaded = DataBatch.objects.get(purpose="training")
    assert selectors.batch_path(uploaded) == Path(uploaded.file.path) and selectors.batch_path(uploaded).is_file()
    settings.KEEL_DATA_ROOT = tmp_path
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "april.csv").write_bytes(b"plan\nteam\n")
    named = DataBatch(model=uploaded.model, name="april", format="csv", storage_path="drops/april.csv")
    assert selectors.batch_path(named) == (tmp_path / "drops" / "april.csv").resolve()
