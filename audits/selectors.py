"""Reads of the audits app shared by pages, the API and the registry's promotion gate."""

from django.db.models import Count, Q, QuerySet

from mlops.errors import NotFound

from .models import Alert, AlertState, AuditJob, AuditKind, AuditState


def audit_jobs() -> QuerySet[AuditJob]:
    return AuditJob.objects.select_related("model", "version", "batch", "created_by")


def audit_get(pk: int) -> AuditJob:
    job = audit_jobs().filter(pk=pk).first()
    if job is None:
        raise NotFound(f"No audit #{pk}.")
    return job


def audits_with_counts(queryset: QuerySet[AuditJob]) -> QuerySet[AuditJob]:
    return queryset.annotate(failed_checks=Count("findings", filter=Q(findings__status="fail")),
                             warned_checks=Count("findings", filter=Q(findings__status="warn")))


def latest_audit_of_bytes(*, model, sha256: str) -> AuditJob | None:
    """The newest finished audit of a batch with exactly these bytes, for the promotion gate to cite."""
    return (AuditJob.objects.filter(model=model, kind=AuditKind.BATCH, state=AuditState.SUCCEEDED,
                                    batch__sha256=sha256).order_by("-finished_at").first())


def open_alerts(model=None) -> QuerySet[Alert]:
    alerts = Alert.objects.filter(state=AlertState.OPEN).select_related("model", "last_job")
    return alerts.filter(model=model) if model is not None else alerts
