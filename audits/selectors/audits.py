"""Reads of the audits app shared by pages, the API and the registry's promotion gate."""

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from mlops.errors import NotFound
from registry.models import ModelAlias

from ..models import (
    Alert,
    AlertState,
    AuditJob,
    AuditKind,
    AuditSchedule,
    AuditScheduleEvent,
    AuditState,
    ErasedEntity,
    PredictionLog,
)

__all__ = [
    "audit_jobs",
    "audit_get",
    "audits_with_counts",
    "latest_audit_of_bytes",
    "open_alerts",
    "alerts",
    "alert_get",
    "predictions",
    "latest_prediction",
    "is_erased",
    "audit_schedules",
    "schedule_get",
    "schedule_history",
]


def audit_jobs() -> QuerySet[AuditJob]:
    return AuditJob.objects.select_related("model", "version", "batch", "created_by")


def audit_get(pk: int) -> AuditJob:
    job = audit_jobs().filter(pk=pk).first()
    if job is None:
        raise NotFound(f"No audit #{pk}.")
    return job


def audits_with_counts(queryset: QuerySet[AuditJob]) -> QuerySet[AuditJob]:
    return queryset.annotate(
        failed_checks=Count("findings", filter=Q(findings__status="fail")),
        warned_checks=Count("findings", filter=Q(findings__status="warn")),
        unchecked_checks=Count("findings", filter=Q(findings__status="not_checked")),
    )


def latest_audit_of_bytes(*, model, sha256: str) -> AuditJob | None:
    """The newest finished audit of a batch with exactly these bytes, for the promotion gate to cite."""
    return (
        AuditJob.objects.filter(model=model, kind=AuditKind.BATCH, state=AuditState.SUCCEEDED, batch__sha256=sha256)
        .order_by("-finished_at")
        .first()
    )


def open_alerts(model=None) -> QuerySet[Alert]:
    return alerts(model).filter(state=AlertState.OPEN)


def alerts(model=None) -> QuerySet[Alert]:
    """Alerts open and resolved, with the audits and the person that raised and resolved them."""
    found = Alert.objects.select_related(
        "model", "first_job", "last_job__batch", "resolved_by_job__batch", "resolved_by"
    )
    return found.filter(model=model) if model is not None else found


def alert_get(pk: int) -> Alert:
    alert = alerts().filter(pk=pk).first()
    if alert is None:
        raise NotFound(f"No alert #{pk}.")
    return alert


def predictions() -> QuerySet[PredictionLog]:
    return PredictionLog.objects.select_related("model", "version")


def latest_prediction(*, entity_id: str, model=None) -> PredictionLog | None:
    """The newest logged prediction about someone (support explains it), erased rows excluded. When a
    shadow version scored the same request, the decision served wins: a shadow's is never the one
    a customer got."""
    found = predictions().filter(entity_id=entity_id, erased_at__isnull=True)
    if model is not None:
        found = found.filter(model=model)
    shadow = ModelAlias.objects.filter(name="shadow", version=OuterRef("version"))
    return found.annotate(shadow=Exists(shadow)).order_by("-predicted_at", "shadow", "-id").first()


def is_erased(entity_id: str) -> bool:
    """Whether a person asked to be erased: sampling for review must leave them out."""
    return ErasedEntity.objects.filter(entity_id=entity_id).exists()


def audit_schedules(model=None, *, deleted: bool = False) -> QuerySet[AuditSchedule]:
    """The schedules that run (paused ones included), or with `deleted` the ones deleted, kept for their history."""
    found = AuditSchedule.objects.select_related("model", "version", "created_by").filter(
        deleted_at__isnull=not deleted
    )
    return found.filter(model=model) if model is not None else found


def schedule_history(schedule: AuditSchedule) -> QuerySet[AuditScheduleEvent]:
    return schedule.history.select_related("actor")


def schedule_get(model, name: str) -> AuditSchedule:
    """A schedule by name, a deleted one included (its history stays readable)."""
    found = (
        AuditSchedule.objects.select_related("model", "version", "created_by").filter(model=model, name=name).first()
    )
    if found is None:
        raise NotFound(f"'{model.name}' has no audit schedule named '{name}'.")
    return found
