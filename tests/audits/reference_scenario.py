"""The upsell model with v1's training reference, built as a pipeline builds it: shared by the
audits tests and the integration tests that send batches to a real worker."""

from datetime import date

from django.core.files.uploadedfile import SimpleUploadedFile

from demo.batches import clean_batch, to_csv
from demo.training import feature_schema
from registry import services as registry_services
from registry.models import TaskType
from registry.services.catalog import alias_point

TRAINING_ROWS = 6000


def upsell_reference_for(reviewer, pipeline, capture):
    """The upsell model in production at v1, with v1's training reference built from its training data
    (the reference job runs in-process when Celery is eager)."""
    from audits import services

    model = registry_services.model_create(name="upsell", task_type=TaskType.BINARY, owner=reviewer)
    version = registry_services.version_create(
        model=model, actor=pipeline, feature_schema=feature_schema(), decision_threshold=0.2
    )
    alias_point(model=model, alias="production", version=version, actor=reviewer, reason="first model")
    training = clean_batch(TRAINING_ROWS, start=date(2026, 1, 1), end=date(2026, 9, 30), seed=11, first_customer=1)
    with capture(execute=True):
        batch = services.batch_register(
            model=model,
            actor=pipeline,
            name="training",
            purpose="training",
            uploaded=SimpleUploadedFile("training.csv", to_csv(training)),
        )
        services.reference_build_start(
            version=version,
            batch=batch,
            actor=pipeline,
            id_columns=["customer_id"],
            timestamp_columns=["signup_date"],
            label_column="upgraded_90d",
        )
    return model
