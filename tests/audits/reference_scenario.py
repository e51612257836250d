"""The upsell model with v1's training reference, built as a pipeline builds it: shared by the
audits tests, the support tests and the integration tests that send batches to a real worker."""

from datetime import date

from django.core.files.uploadedfile import SimpleUploadedFile

from demo.batches import clean_batch, to_csv
from demo.training import feature_schema
from registry import services as registry_services
from registry.models import TaskType
from registry.services.catalog import alias_point

TRAINING_ROWS = 6000
# The columns of the upsell data a reference leaves out of the features: the ID, the date, the label.
UPSELL_COLUMNS = {"id_columns": ["customer_id"], "timestamp_columns": ["signup_date"], "label_column": "upgraded_90d"}


def upsell_in_production(reviewer, pipeline):
    """The upsell model with v1 (threshold 0.2) in production; returns (model, version)."""
    model = registry_services.model_create(name="upsell", task_type=TaskType.BINARY, owner=reviewer)
    version = registry_services.version_create(
        model=model, actor=pipeline, feature_schema=feature_schema(), decision_threshold=0.2
    )
    alias_point(model=model, alias="production", version=version, actor=reviewer, reason="first model")
    return model, version


def upsell_training(rows=TRAINING_ROWS):
    """v1's training data: signups from January to September 2026."""
    return clean_batch(rows, start=date(2026, 1, 1), end=date(2026, 9, 30), seed=11, first_customer=1)


def training_reference_build(model, version, pipeline, training, capture, **columns):
    """Registers `training` as the model's training batch and builds the version's reference from it
    (the reference job runs in-process when Celery is eager); `columns` adds e.g. prediction_column."""
    from audits import services

    with capture(execute=True):
        batch = services.batch_register(
            model=model,
            actor=pipeline,
            name="training",
            purpose="training",
            uploaded=SimpleUploadedFile("training.csv", to_csv(training)),
        )
        services.reference_build_start(version=version, batch=batch, actor=pipeline, **UPSELL_COLUMNS, **columns)


def upsell_reference_for(reviewer, pipeline, capture):
    """The upsell model in production at v1, with v1's training reference built from its training data."""
    model, version = upsell_in_production(reviewer, pipeline)
    training_reference_build(model, version, pipeline, upsell_training(), capture)
    return model
