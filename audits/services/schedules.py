"""Audits on a schedule: django-celery-beat keeps the cron entry, Keel keeps what to audit.

A run that finds nothing to audit (the daily file did not arrive, the file did not change, no
predictions were logged) is itself the finding: a staleness alert, deduplicated like any other.
"""

from django.db import transaction
from django.utils import timezone

from mlops.datafiles.storage import NoDataFile, data_path, resolve_data_path
from mlops.errors import ApplicationError
from registry.models import ModelVersion, RegisteredModel

from ..models import Alert, AlertState, AuditJob, AuditSchedule, ScheduleAction, ScheduleSource, Severity
from .alerts import alert_notify
from .feeds import feed_key
from .jobs import audit_submit
from .predictions import serving_audit_submit
from .schedule_kit import (
    beat_entry_sync,
    changes_saved,
    created_record,
    editable_only,
    live,
    locked_for_run,
    name_free,
    required_reason,
    retire,
    run_begins,
    settings_diff,
)

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


def _beat_entry(schedule: AuditSchedule) -> None:
    beat_entry_sync(schedule, task=TASK, prefix="keel-audit", cron=schedule.cron)


def _settings(schedule: AuditSchedule, fields=EDITABLE) -> dict:
    """The settings as the history keeps them (a version by its number)."""
    values = {field: getattr(schedule, field) for field in fields}
    return {field: v.version if isinstance(v, ModelVersion) else v for field, v in values.items()}


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
    name_free(AuditSchedule.objects, model=model, name=name)
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
    created_record(schedule, actor=actor, settings=_settings(schedule))
    return schedule


@transaction.atomic
def schedule_update(*, schedule: AuditSchedule, actor, reason: str, **changes) -> AuditSchedule:
    """Change what a schedule audits or when (any of EDITABLE, and `enabled`), checked as at creation;
    the history keeps each changed setting's before and after, who changed it, when and why."""
    fields = (*EDITABLE, "enabled")
    editable_only(changes, fields)
    schedule = live(schedule)
    reason = required_reason(reason, "edit")
    before = _settings(schedule, fields)
    for field, value in changes.items():
        setattr(schedule, field, value)
    _checked(model=schedule.model, source=schedule.source, storage_path=schedule.storage_path, version=schedule.version)
    diff = settings_diff(before, _settings(schedule, fields))
    if not diff:
        return schedule  # settings sent as they already are: nothing changed, nothing recorded
    changes_saved(schedule, sync=_beat_entry, action=ScheduleAction.EDITED, actor=actor, changes=diff, reason=reason)
    return schedule


@transaction.atomic
def schedule_delete(*, schedule: AuditSchedule, actor, reason: str) -> AuditSchedule:
    """Stop a schedule for good: beat forgets it, a tick already queued finds it deleted and runs
    nothing. The row and its history stay readable; its audits keep pointing at it."""
    schedule = live(schedule)
    retire(schedule, actor=actor, reason=reason)
    return schedule


@transaction.atomic
def schedule_set_enabled(*, schedule: AuditSchedule, actor, enabled: bool, reason: str = "") -> AuditSchedule:
    """Pause or resume a schedule (a reason is welcome, not required); beat sees the change on its next tick."""
    schedule = live(schedule)
    if schedule.enabled == enabled:
        return schedule
    schedule.enabled = enabled
    action = ScheduleAction.RESUMED if enabled else ScheduleAction.PAUSED
    changes = {"enabled": {"before": not enabled, "after": enabled}}
    reason = (reason or "").strip()
    changes_saved(schedule, sync=_beat_entry, action=action, actor=actor, changes=changes, reason=reason)
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
    schedule = locked_for_run(AuditSchedule.objects.select_related("model", "version", "created_by"), schedule_id)
    if trigger_key:
        started = AuditJob.objects.filter(trigger_key=trigger_key).first()
        if started is not None:
            return started
    now = run_begins(schedule, now)
    if now is None:
        return None
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
