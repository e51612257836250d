"""The model the page tests look at: Soom's upsell model, retrained once.

v2 changes what a reviewer must notice in a diff: a lower threshold, a changed and an added
hyperparameter, a new feature (event_type), a newer commit and another training window.
"""

from datetime import date, timedelta

from django.utils import timezone

from registry import services
from registry.services.catalog import alias_point
from tests.factories import SCHEMA, ModelVersionFactory, RegisteredModelFactory, TrainingRunFactory

OLD_COMMIT = "0123456789abcdef0123456789abcdef01234567"
NEW_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


def upsell_model(*, owner, registered_by, mover=None):
    """Two versions; v1 has been production, then v2 took over. Returns (model, v1, v2)."""
    model = RegisteredModelFactory(
        name="soom-upsell", owner=owner, description="Which free-tier signups upgrade within 90 days."
    )
    now = timezone.now()
    v1 = ModelVersionFactory(
        model=model,
        version=1,
        created_by=registered_by,
        created_at=now - timedelta(days=40),
        decision_threshold=0.5,
        code_commit=OLD_COMMIT,
        hyperparameters={"learning_rate": 0.1, "max_depth": 3},
        metrics={"roc_auc": 0.812, "precision": 0.61},
    )
    run = TrainingRunFactory(code_commit=NEW_COMMIT, created_by=registered_by)
    services.run_log(
        run=run,
        actor=registered_by,
        params=[("learning_rate", "0.05"), ("max_depth", "3")],
        metrics=[{"key": "roc_auc", "value": 0.80, "step": 1}, {"key": "roc_auc", "value": 0.843, "step": 2}],
    )
    v2 = ModelVersionFactory(
        model=model,
        version=2,
        created_by=registered_by,
        created_at=now - timedelta(days=3, hours=2),
        run=run,
        decision_threshold=0.42,
        code_commit=NEW_COMMIT,
        train_window_start=date(2026, 3, 1),
        train_window_end=date(2026, 9, 30),
        hyperparameters={"learning_rate": 0.05, "max_depth": 3, "n_estimators": 400},
        feature_schema=[*SCHEMA, {"name": "event_type", "type": "string", "categorical": True}],
        metrics={"roc_auc": 0.843, "precision": 0.66, "recall": 0.58},
    )
    if mover is not None:
        alias_point(model=model, alias="production", version=v1, actor=mover, reason="First model goes live")
        alias_point(
            model=model,
            alias="production",
            version=v2,
            actor=mover,
            reason="Retrained on fresher signups; AUC up 3 points",
        )
        alias_point(model=model, alias="shadow", version=v1, actor=mover, reason="Keep v1 for comparison")
    return model, v1, v2
