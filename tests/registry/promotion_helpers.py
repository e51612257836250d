"""Arrange promotion scenarios quickly: versions with artifacts, a hold-out, a passed gate."""

import io

import pandas as pd
from django.core.files.uploadedfile import SimpleUploadedFile

from registry import services
from registry.models import PromotionRequest
from tests.artifacts import skops_artifact
from tests.factories import ModelVersionFactory, RegisteredModelFactory
from tests.registry.helpers import artifact_file


def model_with_versions(name="upsell", count=3, owner=None, thresholds=()):
    """`count` versions with artifacts; `thresholds` are their registered decision thresholds (0.5 past the list)."""
    model = RegisteredModelFactory(name=name, **({"owner": owner} if owner else {}))
    for number in range(1, count + 1):
        registered = thresholds[number - 1] if number <= len(thresholds) else 0.5
        version = ModelVersionFactory(model=model, decision_threshold=registered)
        upload, sha = artifact_file(skops_artifact(number))
        services.artifact_attach(version=version, uploaded=upload, sha256=sha)
    return model


def csv_upload(frame: pd.DataFrame, name="holdout.csv"):
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


def holdout_for(model, actor):
    frame = pd.DataFrame(
        {"plan": ["free"] * 4, "country": ["DE"] * 4, "meeting_minutes": [1.0, 2, 3, 4], "upgraded": [0, 1, 0, 1]}
    )
    return services.holdout_register(
        model=model, actor=actor, name="last week", label_column="upgraded", uploaded=csv_upload(frame)
    )


def gate_verdict(request: PromotionRequest, *, failures=(), threshold=0.3, beats=False) -> PromotionRequest:
    """Record what the gate would: evidence, failures, proposed threshold, the version compared with."""
    compared = request.model.aliases.filter(name=request.target_alias).first()
    evidence = {
        "primary_metric": "roc_auc",
        "beats_production": beats,
        "metrics": {"candidate": {"roc_auc": 0.8}, "production": {"roc_auc": 0.7}, "baseline": {"roc_auc": 0.5}},
        "checks": [{"name": "x", "passed": not failures, "detail": f} for f in failures]
        or [{"name": "beats_baseline", "passed": True, "detail": "ok"}],
    }
    return services.promotion_gate_record(
        promotion_id=request.pk,
        evidence=evidence,
        failures=list(failures),
        proposed_threshold=threshold,
        compared_version_id=compared.version_id if compared else None,
        blocking=request.target_alias != "shadow",
    )


def approved(request, reviewer, **kwargs):
    gate_verdict(request, **kwargs)
    return services.promotion_approve(promotion=request, actor=reviewer, comment="looks good")
