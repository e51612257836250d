"""Soom's promotion story as the promotion page tests (and the browser tests) read it: versions with
artifacts, requests made through the services, and the gate's verdict recorded by hand."""

from datetime import date, timedelta

from registry import services
from registry.models import PromotionRequest
from tests.artifacts import skops_artifact
from tests.factories import ModelVersionFactory, RegisteredModelFactory
from tests.registry.helpers import artifact_file


def curves(*, tpr, auc, precision, average_precision) -> dict:
    """One model's ROC and precision-recall curves on the holdout (15% positives), as the gate stores them."""
    roc = {"fpr": [0, 0.1, 0.3, 1], "tpr": tpr, "auc": auc}
    pr = {"recall": [0, 0.5, 0.8, 1], "precision": precision, "average_precision": average_precision}
    return {"roc": roc, "pr": {**pr, "prevalence": 0.15}}


# What the gate stores for a binary candidate that beats production, in the shape the gate writes.
EVIDENCE = {
    "task_type": "binary_classification",
    "rows": 4000,
    "holdout": {"id": 1, "name": "last week", "sha256": "ab" * 32},
    "candidate": {"version": 3, "threshold": 0.37},
    "production": {"version": 2, "threshold": 0.42},
    "production_note": None,
    "primary_metric": "roc_auc",
    "metrics": {
        "candidate": {
            "roc_auc": 0.861,
            "pr_auc": 0.52,
            "log_loss": 0.331,
            "precision": 0.58,
            "recall": 0.61,
            "f1": 0.595,
            "accuracy": 0.88,
            "positive_rate": 0.16,
            "prevalence": 0.15,
        },
        "production": {
            "roc_auc": 0.843,
            "pr_auc": 0.49,
            "log_loss": 0.298,
            "precision": 0.6,
            "recall": 0.55,
            "f1": 0.574,
            "accuracy": 0.87,
            "positive_rate": 0.14,
            "prevalence": 0.15,
        },
        "baseline": {
            "roc_auc": 0.5,
            "pr_auc": 0.15,
            "log_loss": 0.423,
            "precision": 0.0,
            "recall": 0.0,
            "f1": 0.0,
            "accuracy": 0.85,
            "positive_rate": 0.0,
            "prevalence": 0.15,
        },
    },
    "threshold": {
        "rule": "max_f1",
        "target": None,
        "threshold": 0.37,
        "precision": 0.58,
        "recall": 0.61,
        "f1": 0.595,
        "met": True,
    },
    "prediction_diff": {
        "rows": 4000,
        "histogram": {"edges": [-0.3, -0.1, 0.0, 0.1, 0.3], "counts": [40, 1800, 2000, 160]},
        "mean_change": 0.01,
        "mean_abs_change": 0.043,
        "p95_abs_change": 0.121,
        "max_abs_change": 0.29,
        "flip_rate": 0.061,
        "flips_up": 150,
        "flips_down": 94,
        "top_movers": [
            {"id": "cust-0042", "candidate": 0.91, "production": 0.62, "change": 0.29},
            {"id": "cust-7310", "candidate": 0.12, "production": 0.38, "change": -0.26},
        ],
    },
    "curves": {
        "candidate": curves(tpr=[0, 0.6, 0.85, 1], auc=0.861, precision=[1, 0.7, 0.45, 0.15], average_precision=0.52),
        "production": curves(tpr=[0, 0.5, 0.8, 1], auc=0.843, precision=[1, 0.65, 0.4, 0.15], average_precision=0.49),
    },
    "importance": [
        {
            "feature": "meeting_minutes",
            "importance": 0.21,
            "std": 0.01,
            "previous": 0.19,
            "change": 0.02,
            "jumped": False,
        },
        {
            "feature": "refund_requested",
            "importance": 0.12,
            "std": 0.01,
            "previous": 0.01,
            "change": 0.11,
            "jumped": True,
        },
    ],
    "slices": {
        "plan": {
            "slices": [
                {"value": "free", "rows": 3100, "candidate": 0.85, "production": 0.84},
                {"value": "team", "rows": 880, "candidate": 0.81, "production": 0.83},
                {"value": "edu", "rows": 20, "candidate": 0.5, "production": 0.7},
            ],
            "gap": 0.04,
            "worst": "team",
            "metric": "roc_auc",
            "min_rows": 50,
        }
    },
    "audit": {"status": "not_audited", "detail": "No data audit has run on this hold-out data yet."},
    "checks": [
        {"name": "primary_metric_available", "passed": True, "detail": "The candidate's roc_auc is 0.8610."},
        {
            "name": "no_regression_vs_production",
            "passed": True,
            "detail": "Candidate roc_auc is 0.8610 vs production 0.8430 (better by 0.0180).",
        },
        {"name": "max_flip_rate", "passed": True, "detail": "The candidate changes the decision on 6.10% of rows."},
    ],
    "beats_production": True,
}
FAILURE = (
    "Candidate roc_auc is 0.7010 vs production 0.8430 (worse by 0.1420); the policy allows a loss of at most 0.0100."
)


def soom_upsell(*, owner, registered_by, mover):
    """Soom's upsell model: v1 served, then v2 (production now); v3 is the retrained candidate with a
    lower threshold and more trees. Every version has an artifact. Returns (model, v1, v2, v3)."""
    model = RegisteredModelFactory(name="soom-upsell", owner=owner)
    configs = [
        dict(
            decision_threshold=0.5,
            hyperparameters={"learning_rate": 0.1, "n_estimators": 200},
            train_window_end=date.today() - timedelta(days=120),
        ),
        dict(
            decision_threshold=0.42,
            hyperparameters={"learning_rate": 0.1, "n_estimators": 200},
            train_window_end=date.today() - timedelta(days=40),
        ),
        dict(
            decision_threshold=0.4,
            hyperparameters={"learning_rate": 0.05, "n_estimators": 400},
            train_window_end=date.today() - timedelta(days=5),
        ),
    ]
    versions = []
    for number, config in enumerate(configs, start=1):
        version = ModelVersionFactory(model=model, version=number, created_by=registered_by, **config)
        upload, sha = artifact_file(skops_artifact(number))
        versions.append(services.artifact_attach(version=version, uploaded=upload, sha256=sha))
    # Governed aliases move only through approvals; the history before this story is set directly.
    for version, why in ((versions[0], "First model goes live"), (versions[1], "Retrained on spring signups")):
        services.catalog.alias_point(model=model, alias="production", version=version, actor=mover, reason=why)
    return (model, *versions)


def submitted(
    version, actor, *, alias="production", holdout=None, reason="Retrained on fresher signups; AUC up", **extra
) -> PromotionRequest:
    return services.promotion_request_create(
        version=version, actor=actor, reason=reason, target_alias=alias, holdout=holdout, **extra
    )


def gate_passes(request, compared, evidence=EVIDENCE, proposed=0.37) -> PromotionRequest:
    """`compared` is what the target alias pointed at when the gate ran (None for a first canary)."""
    return services.promotion_gate_record(
        promotion_id=request.pk,
        evidence=evidence,
        failures=[],
        proposed_threshold=proposed,
        compared_version_id=compared and compared.pk,
        blocking=True,
    )


def gate_fails(request, compared=None) -> PromotionRequest:
    evidence = {**EVIDENCE, "checks": [{"name": "no_regression_vs_production", "passed": False, "detail": FAILURE}]}
    return services.promotion_gate_record(
        promotion_id=request.pk,
        evidence=evidence,
        failures=[FAILURE],
        proposed_threshold=0.37,
        compared_version_id=compared and compared.pk,
        blocking=True,
    )
