"""Soom's explanation story as plain helpers: a model registered in production, its served customers
logged, and the `Soom` view of them the tests read (the fixtures are in tests/support/conftest.py)."""

import hashlib
import io
from datetime import datetime, timedelta

import joblib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from mlops.demo.serving import serving_records
from mlops.demo.training import FEATURES
from registry import services as registry_services
from registry.models import TaskType
from registry.services.catalog import alias_point

CUSTOMERS = 30


def register_in_production(name, estimator, schema, threshold, *, owner, pipeline):
    """Registers `estimator` as version 1 of a new binary model, with its artifact, in production."""
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    raw = buffer.getvalue()
    model = registry_services.model_create(name=name, task_type=TaskType.BINARY, owner=owner)
    version = registry_services.version_create(model=model, actor=pipeline, feature_schema=schema,
                                               decision_threshold=threshold)
    version = registry_services.artifact_attach(version=version, sha256=hashlib.sha256(raw).hexdigest(),
                                                uploaded=SimpleUploadedFile("model.joblib", raw))
    alias_point(model=model, alias="production", version=version, actor=owner, reason="first model")
    return model, version


def log_served(model, version, frame, scores, prefix, **kwargs):
    """Logs `frame`'s rows and `scores` as the version's serving log of the last two hours."""
    from audits import services as audit_services

    records = serving_records(frame, scores, version=version.version, start=timezone.now() - timedelta(hours=2),
                              every=timedelta(seconds=30), request_prefix=prefix, **kwargs)
    for record in records:
        record["predicted_at"] = datetime.fromisoformat(record["predicted_at"])
    audit_services.predictions_log(model=model, records=records)


class Soom:
    """The upsell model in production at v1, its background, and a week of logged customers."""

    def __init__(self, model, version, served, estimator):
        self.model, self.version, self.served, self.estimator = model, version, served, estimator
        self.scores = dict(zip(served["customer_id"], estimator.predict_proba(served[FEATURES])[:, 1]))

    def features_of(self, customer: str, *, as_text: bool = False) -> dict:
        row = self.served.loc[self.served["customer_id"] == customer, FEATURES].iloc[0].to_dict()
        row = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        return {k: str(v) for k, v in row.items()} if as_text else row

    def by_score(self) -> list[str]:
        return sorted(self.scores, key=self.scores.get)
