"""Alerts: one open alert per (model, check, column), raised and resolved by the findings of each
finished audit; a newly opened error notifies people through the registry's notifications."""

from django.db import transaction
from django.utils import timezone

from registry.models import NotificationEvent

from ..engine.checks import alert_severity
from ..models import Alert, AlertState, AuditJob, FindingStatus, Severity

__all__ = ["alerts_raise", "alert_notify"]


def alerts_raise(*, job: AuditJob, findings: list) -> None:
    """One open alert per (model, check, column): a repeat updates it, a passing check resolves it.
    Only a newly opened error-severity alert notifies people; the rest wait on the dashboard."""
    now = timezone.now()
    open_alerts = {
        (a.check_name, a.column): a
        for a in Alert.objects.select_for_update().filter(model=job.model, state=AlertState.OPEN)
    }
    # Several findings of one check on one column (two integrity problems, say) are one incident.
    worst: dict[tuple[str, str], object] = {}
    for finding in findings:  # sorted most severe first, so the first of a key is its worst
        worst.setdefault((finding.check, finding.column or ""), finding)
    for key, finding in worst.items():
        alert = open_alerts.get(key)
        if finding.status == FindingStatus.NOT_CHECKED:
            continue  # a check that did not run neither raises nor resolves an alert
        severity = alert_severity(finding.status)  # the finding's own word, in the alerts' vocabulary
        if severity is None:
            if alert is not None:
                alert.state, alert.resolved_at, alert.last_job = AlertState.RESOLVED, now, job
                alert.save(update_fields=["state", "resolved_at", "last_job"])
            continue
        if alert is not None:
            alert.occurrences += 1
            alert.last_seen_at, alert.last_job, alert.message = now, job, finding.message
            alert.severity = severity
            alert.save(update_fields=["occurrences", "last_seen_at", "last_job", "message", "severity"])
            continue
        alert = Alert.objects.create(
            model=job.model,
            check_name=key[0],
            column=key[1],
            severity=severity,
            message=finding.message,
            first_job=job,
            last_job=job,
            opened_at=now,
            last_seen_at=now,
        )
        if severity == Severity.ERROR:
            transaction.on_commit(lambda a=alert: alert_notify(alert=a))


def alert_notify(*, alert: Alert) -> None:
    from registry.services import notify

    notify(
        event=NotificationEvent.AUDIT_ALERT,
        model=alert.model,
        dedupe_key=f"alert:{alert.pk}",
        payload={
            "title": f"{alert.model.name}: {alert.check_name}{' on ' + alert.column if alert.column else ''} failed",
            "message": alert.message,
            "severity": alert.severity,
            "audit_id": alert.first_job_id,
            "url": f"/audits/{alert.first_job_id}/",
        },
    )
