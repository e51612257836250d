"""Audits on a schedule: django-celery-beat keeps the cron entry, Keel keeps what to audit.

A run that finds nothing to audit (the daily file did not arrive, the file did not change, no
predictions were logged) is itself the finding: a staleness alert, deduplicated like any other.
"""

import json
import re

from celery.schedules import crontab
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from mlops.datafiles.storage import NoDataFile, data_path, resolve_data_path
from mlops.errors import ApplicationError, Conflict
from registry.models import ModelVersion, RegisteredModel

from ..models import (
    CRON_HELP,
    CRON_PATTERN,
    Alert,
    AlertState,
    AuditJob,
    AuditSchedule,
    AuditScheduleEvent,
    ScheduleAction,
    ScheduleSource,
    Severity,
)
from .alerts import alert_notify
from .feeds import feed_key
from .jobs import audit_submit
from .predictions import serving_audit_submit

__all__ = [
    "schedule_create",
    "schedule_update",
    "schedule_delete",
    "schedule_set_enabled",
    "scheduled_audit_run",
]

TASK = "audits.tasks.run_scheduled_audit"
# What an edit may change; the name is the schedule's address (and its staleness alert's column).
EDITABLE = ("source", "cron", "storage_path", "format", "window_hours", "version")
STALENESS = "staleness"


def _crontab(cron: str) -> CrontabSchedule:
    fields = cron.split()
    if len(fields) != 5:
        raise ApplicationError(
            "A schedule has five fields: minute hour day-of-month month day-of-week "
            "(e.g. '0 6 * * *' for 06:00 UTC daily).",
            field="cron",
        )
    if not re.fullmatch(CRON_PATTERN, cron):
        raise ApplicationError(f"'{cron}' is not a schedule Keel runs. {CRON_HELP}", field="cron")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:  # celery's own parser: what it accepts is what beat can run
        crontab(
            minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week
        )
    except (ValueError, TypeError) as exc:
        raise ApplicationError(f"'{cron}' is not a valid schedule: {exc}", field="cron") from exc
    found, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone="UTC",
    )
    return found


def _checked(*, model: RegisteredModel, source: str, storage_path: str, version: ModelVersion | None) -> None:
    """What a schedule's settings must satisfy, at creation and at every edit alike."""
    if source not in ScheduleSource.values:
        raise ApplicationError(f"Unknown source {source!r}.", field="source")
    if source == ScheduleSource.STORAGE_PATH and not storage_path:
        raise ApplicationError(
            "Say where the file arrives (strftime fields allowed, e.g. incoming/%Y-%m-%d.csv).", field="storage_path"
        )
    if source == ScheduleSource.STORAGE_PATH:
        data_path(timezone.now().strftime(storage_path))  # the path as today's run would read it
    if version is not None and version.model_id != model.pk:
        raise ApplicationError("That version belongs to another model.", field="version")


def _beat_entry(schedule, *, task_name: str = TASK, prefix: str = "keel-audit", timing: dict | None = None) -> None:
    """Make beat's entry say what the schedule says (an audit schedule's cron, or the `timing` a
    relabelling schedule gives: its crontab or interval). Saving a PeriodicTask marks beat's schedule
    as changed (django-celery-beat's PeriodicTasks), so a running beat reads it on its next tick."""
    timing = timing or {"crontab": _crontab(schedule.cron)}
    task = schedule.periodic_task
    if task is None:
        schedule.periodic_task = PeriodicTask.objects.create(
            name=f"{prefix}-{schedule.pk}-{schedule.model.name}-{schedule.name}"[:200],
            task=task_name,
            args=json.dumps([schedule.pk]),
            description=f"Keel: {schedule}",
            enabled=schedule.enabled,
            **timing,
        )
        schedule.save(update_fields=["periodic_task"])
        return
    for field, value in timing.items():
        setattr(task, field, value)
    task.enabled, task.description = schedule.enabled, f"Keel: {schedule}"
    task.save()


def _value(schedule: AuditSchedule, field: str):
    value = getattr(schedule, field)
    return value.version if isinstance(value, ModelVersion) else value


def _record(schedule: AuditSchedule, *, action: str, actor, changes: dict, reason: str = "") -> None:
    AuditScheduleEvent.objects.create(schedule=schedule, action=action, changes=changes, actor=actor, reason=reason)


def _live(schedule):
    """The schedule (an audit or relabelling schedule) locked for a change; a deleted one is history
    and changes no more."""
    locked = type(schedule).objects.select_for_update(of=("self",)).select_related("model").get(pk=schedule.pk)
    if locked.deleted_at is not None:
        raise Conflict(
            f"Schedule '{locked.name}' was deleted on {locked.deleted_at:%Y-%m-%d %H:%M} UTC; its history stays, "
            "but it changes no more."
        )
    return locked


def _require_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(f"Say why you {what} this schedule: the reason stays in its history.", field="reason")
    return reason


@transaction.atomic
def schedule_create(
    *,
    model: RegisteredModel,
    actor,
    name: str,
    source: str,
    cron: str,
    storage_path: str = "",
    format: str = "",
    window_hours: int = 24,
    version: ModelVersion | None = None,
) -> AuditSchedule:
    _checked(model=model, source=source, storage_path=storage_path, version=version)
    taken = AuditSchedule.objects.filter(model=model, name=name).first()
    if taken is not None:
        deleted = " (a deleted schedule whose history keeps the name)" if taken.deleted_at else ""
        raise Conflict(f"'{model.name}' already has a schedule named '{name}'{deleted}.", field="name")
    schedule = AuditSchedule.objects.create(
        model=model,
        name=name,
        source=source,
        cron=cron,
        storage_path=storage_path,
        format=format,
        window_hours=window_hours,
        version=version,
        created_by=actor,
    )
    _beat_entry(schedule)
    _record(
        schedule,
        action=ScheduleAction.CREATED,
        actor=actor,
        changes={field: {"before": None, "after": _value(schedule, field)} for field in EDITABLE},
    )
    return schedule


@transaction.atomic
def schedule_update(*, schedule: AuditSchedule, actor, reason: str, **changes) -> AuditSchedule:
    """Change what a schedule audits or when (any of EDITABLE, and `enabled`), checked as at creation;
    the history keeps each changed setting's before and after, who changed it, when and why."""
    fields = (*EDITABLE, "enabled")
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise ApplicationError(f"A schedule's {', '.join(unknown)} cannot be edited.", field=unknown[0])
    schedule = _live(schedule)
    reason = _require_reason(reason, "edit")
    before = {field: _value(schedule, field) for field in fields}
    for field, value in changes.items():
        setattr(schedule, field, value)
    _checked(model=schedule.model, source=schedule.source, storage_path=schedule.storage_path, version=schedule.version)
    diff = {
        field: {"before": before[field], "after": _value(schedule, field)}
        for field in fields
        if _value(schedule, field) != before[field]
    }
    if not diff:
        return schedule  # settings sent as they already are: nothing changed, nothing recorded
    schedule.save(update_fields=[*diff])
    _beat_entry(schedule)
    _record(schedule, action=ScheduleAction.EDITED, actor=actor, changes=diff, reason=reason)
    return schedule


@transaction.atomic
def schedule_delete(*, schedule: AuditSchedule, actor, reason: str) -> AuditSchedule:
    """Stop a schedule for good: beat forgets it, a tick already queued finds it deleted and runs
    nothing. The row and its history stay readable; its audits keep pointing at it."""
    schedule = _live(schedule)
    reason = _require_reason(reason, "delete")
    _retire(schedule)
    _record(schedule, action=ScheduleAction.DELETED, actor=actor, changes={}, reason=reason)
    return schedule


def _retire(schedule) -> None:
    """Mark a schedule (an audit or relabelling schedule) deleted and delete its beat entry."""
    task = schedule.periodic_task
    schedule.deleted_at, schedule.enabled, schedule.periodic_task = timezone.now(), False, None
    schedule.save(update_fields=["deleted_at", "enabled", "periodic_task"])
    if task is not None:
        task.delete()


@transaction.atomic
def schedule_set_enabled(*, schedule: AuditSchedule, actor, enabled: bool, reason: str = "") -> AuditSchedule:
    """Pause or resume a schedule (a reason is welcome, not required); beat sees the change on its next tick."""
    schedule = _live(schedule)
    if schedule.enabled == enabled:
        return schedule
    schedule.enabled = enabled
    schedule.save(update_fields=["enabled"])
    _beat_entry(schedule)
    action = ScheduleAction.RESUMED if enabled else ScheduleAction.PAUSED
    changes = {"enabled": {"before": not enabled, "after": enabled}}
    _record(schedule, action=action, actor=actor, changes=changes, reason=(reason or "").strip())
    return schedule


def _alert_stale(schedule: AuditSchedule, message: str) -> Alert:
    column = f"schedule:{schedule.name}"
    now = timezone.now()
    alert = (
        Alert.objects.select_for_update()
        .filter(model=schedule.model, check_name=STALENESS, column=column, state=AlertState.OPEN)
        .first()
    )
    if alert is not None:
        alert.occurrences += 1
        alert.message, alert.last_seen_at = message, now
        alert.save(update_fields=["occurrences", "message", "last_seen_at"])
        return alert
    alert = Alert.objects.create(
        model=schedule.model,
        feed=feed_key(batch=None, schedule=schedule),
        check_name=STALENESS,
        column=column,
        severity=Severity.ERROR,
        message=message,
        opened_at=now,
        last_seen_at=now,
    )
    transaction.on_commit(lambda: alert_notify(alert=alert))
    return alert


def _resolve_stale(schedule: AuditSchedule, job: AuditJob) -> None:
    Alert.objects.filter(
        model=schedule.model, check_name=STALENESS, column=f"schedule:{schedule.name}", state=AlertState.OPEN
    ).update(state=AlertState.RESOLVED, resolved_at=timezone.now(), resolved_by_job=job)


@transaction.atomic
def scheduled_audit_run(*, schedule_id: int, trigger_key: str = "", now=None) -> AuditJob | None:
    """One tick of a schedule. Idempotent per trigger (beat's task id): a redelivered tick returns the
    audit the first delivery started. Returns None when there was nothing to audit (alert raised)."""
    schedule = (
        AuditSchedule.objects.select_for_update(of=("self",))
        .select_related("model", "version", "created_by")
        .get(pk=schedule_id)
    )
    if trigger_key:
        started = AuditJob.objects.filter(trigger_key=trigger_key).first()
        if started is not None:
            return started
    if not schedule.enabled or schedule.deleted_at is not None:
        return None
    now = now or timezone.now()
    schedule.last_run_at = now
    schedule.save(update_fields=["last_run_at"])
    if schedule.source == ScheduleSource.SERVING_LOG:
        try:
            with transaction.atomic():
                job = serving_audit_submit(
                    model=schedule.model,
                    actor=schedule.created_by,
                    version=schedule.version,
                    since=now - timezone.timedelta(hours=schedule.window_hours),
                    until=now,
                    schedule=schedule,
                    trigger_key=trigger_key,
                )
        except ApplicationError as exc:
            _alert_stale(schedule, f"Scheduled audit '{schedule.name}': {exc.message} Is prediction logging down?")
            return None
    else:
        path = now.strftime(schedule.storage_path)
        try:
            resolve_data_path(path)
        except NoDataFile:
            _alert_stale(
                schedule,
                f"Scheduled audit '{schedule.name}': no file at '{path}' at "
                f"{now:%Y-%m-%d %H:%M} UTC. The feed is late or stopped.",
            )
            return None
        except ApplicationError as exc:  # a path no run can read (made before the check at creation)
            _alert_stale(schedule, f"Scheduled audit '{schedule.name}' cannot read '{path}': {exc.message}")
            return None
        with transaction.atomic():
            job = audit_submit(
                model=schedule.model,
                actor=schedule.created_by,
                version=schedule.version,
                name=f"{schedule.name} {now:%Y-%m-%d %H:%M}",
                storage_path=path,
                format=schedule.format,
                schedule=schedule,
                trigger_key=trigger_key,
            )
        earlier = (
            AuditJob.objects.filter(schedule=schedule)
            .exclude(pk=job.pk)
            .select_related("batch")
            .order_by("-created_at")
            .first()
        )
        if earlier is not None and earlier.batch.sha256 == job.batch.sha256:
            _alert_stale(
                schedule,
                f"Scheduled audit '{schedule.name}': '{path}' holds the same bytes as the run of "
                f"{earlier.created_at:%Y-%m-%d %H:%M} UTC. The feed has not been refreshed.",
            )
            return job
    _resolve_stale(schedule, job)
    return job
