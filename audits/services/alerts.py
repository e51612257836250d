"""Alerts: one open alert per (model, feed, check, column), raised and resolved by the findings of
each finished audit of that feed; a newly opened error notifies people through the registry's
notifications. A reviewer may also resolve an alert by hand, with a reason.

A repeat (an audit of bytes the model already audited, `AuditJob.repeat_of`) neither opens, updates
nor resolves alerts: those bytes were judged once, and sending them again says nothing new about the
feed. Only a later audit of the same feed resolves: one whose finding for the alert's check and column
passes (or is informational)."""

from django.db import transaction
from django.utils import timezone

from mlops.errors import ApplicationError, Conflict
from mlops.roles import RESOLVE_ALERTS
from registry.models import NotificationEvent

from ..engine.checks import alert_severity
from ..models import Alert, AlertState, AuditJob, FindingStatus, Severity

__all__ = ["alerts_raise", "alert_notify", "alert_resolve"]


def _later(job: AuditJob, than: AuditJob | None) -> bool:
    """Whether `job` was started after `than`: an older audit that finishes late does not resolve a
    problem a newer audit found."""
    return than is None or (job.created_at, job.pk) > (than.created_at, than.pk)


def alerts_raise(*, job: AuditJob, findings: list) -> None:
    """One open alert per (model, feed, check, column): a repeat of the problem updates it, a passing
    check in a later audit of the same feed resolves it. Only a newly opened error-severity alert
    notifies people; the rest wait on the dashboard."""
    if job.repeat_of_id is not None:
        return
    now = timezone.now()
    open_alerts = {
        (a.check_name, a.column): a
        for a in Alert.objects.select_for_update(of=("self",))
        .select_related("last_job")
        .filter(model=job.model, feed=job.feed, state=AlertState.OPEN)
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
            if alert is not None and _later(job, alert.last_job):
                alert.state, alert.resolved_at, alert.resolved_by_job = AlertState.RESOLVED, now, job
                alert.save(update_fields=["state", "resolved_at", "resolved_by_job"])
            continue
        if alert is not None:
            alert.occurrences += 1
            alert.last_seen_at = now
            if _later(job, alert.last_job):
                alert.last_job, alert.message = job, finding.message
            alert.severity = severity
            alert.save(update_fields=["occurrences", "last_seen_at", "last_job", "message", "severity"])
            continue
        alert = Alert.objects.create(
            model=job.model,
            feed=job.feed,
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


@transaction.atomic
def alert_resolve(*, alert: Alert, actor, reason: str) -> Alert:
    """A reviewer closes an open alert by hand (the feed was retired, the rule was wrong), saying why.
    The alert keeps who resolved it, when and why."""
    if not actor.has_perm(RESOLVE_ALERTS):
        raise ApplicationError("Only reviewers resolve alerts by hand.", status_code=403)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("Say why the alert is resolved without a passing audit.", field="reason")
    locked = Alert.objects.select_for_update().get(pk=alert.pk)
    if locked.state != AlertState.OPEN:
        raise Conflict(f"Alert #{locked.pk} is already resolved.", field="reason")
    locked.state, locked.resolved_at = AlertState.RESOLVED, timezone.now()
    locked.resolved_by, locked.resolution_reason = actor, reason
    locked.save(update_fields=["state", "resolved_at", "resolved_by", "resolution_reason"])
    return locked


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
