"""Reads of the audit pages (the list, the model page's panel, the nav) that the API does not need.
They build on the shared reads of selectors/audits.py."""

from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from registry import selectors as registry_selectors
from registry.models import RegisteredModel

from .. import services
from ..models import Alert, AlertState, AuditJob, AuditKind, AuditState, AuditSuite, ReferenceProfile
from . import audits as selectors

__all__ = [
    "TREND_LENGTH",
    "LIST_LENGTH",
    "audit_list",
    "verdict_trends",
    "audited_models",
    "open_alert_list",
    "ALERT_STATES",
    "alert_list",
    "open_alert_count",
    "model_audit_summary",
    "suggested_suite",
]


TREND_LENGTH = 20
LIST_LENGTH = 100


def audit_list(model: RegisteredModel | None = None, limit: int = LIST_LENGTH) -> list[AuditJob]:
    """The newest audits (and reference builds) with their failed/warned check counts."""
    jobs = selectors.audit_jobs()
    if model is not None:
        jobs = jobs.filter(model=model)
    return list(selectors.audits_with_counts(jobs).order_by("-created_at", "-id")[:limit])


def verdict_trends(models, length: int = TREND_LENGTH) -> list[tuple[RegisteredModel, list[AuditJob]]]:
    """Per model, its last `length` finished batch audits, oldest first (how a strip reads left to
    right). One query for all models: a window numbers each model's audits newest first."""
    ids = [model.pk for model in models]
    if not ids:
        return []
    ranked = (
        AuditJob.objects.filter(model_id__in=ids, kind=AuditKind.BATCH, state=AuditState.SUCCEEDED)
        .annotate(
            rank=Window(RowNumber(), partition_by=F("model_id"), order_by=[F("created_at").desc(), F("id").desc()])
        )
        .select_related("batch", "version")
        .only("id", "model_id", "verdict", "created_at", "batch__name", "version__version")
    )
    by_model: dict[int, list[AuditJob]] = {}
    for job in ranked.filter(rank__lte=length).order_by("created_at", "id"):
        by_model.setdefault(job.model_id, []).append(job)
    return [(model, by_model[model.pk]) for model in models if model.pk in by_model]


def audited_models(model: RegisteredModel | None = None) -> list[RegisteredModel]:
    """The models whose trend the list shows: the one filtered for, or every model with an audit."""
    if model is not None:
        return [model]
    return list(RegisteredModel.objects.filter(audit_jobs__kind=AuditKind.BATCH).distinct().order_by("name"))


def open_alert_list(model: RegisteredModel | None = None) -> QuerySet[Alert]:
    """Open alerts, errors before warnings, the most recently seen first. (Alphabetical order
    suffices: an info finding never opens an alert, so only "error" and "warning" occur.)"""
    return selectors.open_alerts(model).select_related("last_job__batch").order_by("severity", "-last_seen_at")


ALERT_STATES = ("open", "resolved", "all")


def alert_list(model: RegisteredModel | None = None, state: str = "open", limit: int = LIST_LENGTH) -> list[Alert]:
    """The Audits page's alerts: open ones (errors first, the most recently seen first), resolved ones
    (the most recently resolved first, with who or what resolved them), or all, open first."""
    if state == "open":
        return list(open_alert_list(model)[:limit])
    found = selectors.alerts(model)
    if state == "resolved":
        return list(found.filter(state=AlertState.RESOLVED).order_by("-resolved_at", "-id")[:limit])
    return list(found.order_by("state", "severity", "-resolved_at", "-last_seen_at")[:limit])


def open_alert_count() -> int:
    return Alert.objects.filter(state=AlertState.OPEN).count()


def model_audit_summary(model: RegisteredModel) -> dict:
    """What the model page shows of its audits: the verdict trend, the latest few, open alerts."""
    trend = {m.pk: jobs for m, jobs in verdict_trends([model])}.get(model.pk, [])
    return {
        "model": model,
        "trend": trend,
        "recent": audit_list(model, limit=5),
        "alerts": list(open_alert_list(model)[:5]),
        "alert_count": selectors.open_alerts(model).count(),
        "has_suite": AuditSuite.objects.filter(model=model).exists(),
    }


def suggested_suite(model: RegisteredModel) -> dict | None:
    """The suite Keel suggests from production's training reference, for a model with none saved:
    {"suite": dict, "version": ModelVersion}; None when production has no reference."""
    production = registry_selectors.alias_map(model).get(registry_selectors.PRODUCTION)
    reference = production and ReferenceProfile.objects.filter(version=production).first()
    if reference is None:
        return None
    return {"suite": services.suite_for(model, reference).to_dict(), "version": production}
