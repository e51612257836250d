"""What the two kinds of schedule (audit schedules: schedules.py; relabelling schedules:
relabel_schedules.py) do alike, written once: a cron checked as beat would run it, beat's entry kept
in step with the schedule (an edit re-saves it, which marks beat's schedule changed; a deletion
deletes it), the lock a change takes, the reason an edit needs, the append-only history, and the
start of a tick (a paused or deleted schedule runs nothing)."""

import json
import re

from celery.schedules import crontab
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from mlops.errors import ApplicationError, Conflict

from ..models import CRON_HELP, CRON_PATTERN, ScheduleAction

__all__: list[str] = []  # the kit of the schedule services, published through them


def crontab_for(cron: str) -> CrontabSchedule:
    """Beat's crontab row for a cron Keel accepts (CRON_PATTERN) and celery parses; else a 400 on `cron`."""
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


def _timing(cron: str, every_hours: int | None) -> dict:
    if every_hours is None:
        return {"crontab": crontab_for(cron), "interval": None}
    found, _ = IntervalSchedule.objects.get_or_create(every=every_hours, period=IntervalSchedule.HOURS)
    return {"crontab": None, "interval": found}


def beat_entry_sync(schedule, *, task: str, prefix: str, cron: str, every_hours: int | None = None) -> None:
    """Make beat's entry say what the schedule says: run `task` with the schedule's id by `cron`, or
    every `every_hours` when given. Saving a PeriodicTask marks beat's schedule as changed
    (django-celery-beat's PeriodicTasks), so a running beat reads it on its next tick."""
    timing = _timing(cron, every_hours)
    entry = schedule.periodic_task
    if entry is None:
        schedule.periodic_task = PeriodicTask.objects.create(
            name=f"{prefix}-{schedule.pk}-{schedule.model.name}-{schedule.name}"[:200],
            task=task,
            args=json.dumps([schedule.pk]),
            description=f"Keel: {schedule}",
            enabled=schedule.enabled,
            **timing,
        )
        schedule.save(update_fields=["periodic_task"])
        return
    for field, value in timing.items():
        setattr(entry, field, value)
    entry.enabled, entry.description = schedule.enabled, f"Keel: {schedule}"
    entry.save()


def name_free(schedules, *, model, name: str, what: str = "schedule") -> None:
    """A schedule's name is its address within its model; a deleted schedule keeps its name."""
    taken = schedules.filter(model=model, name=name).first()
    if taken is not None:
        deleted = " (a deleted schedule whose history keeps the name)" if taken.deleted_at else ""
        raise Conflict(f"'{model.name}' already has a {what} named '{name}'{deleted}.", field="name")


def editable_only(changes: dict, editable) -> None:
    unknown = sorted(set(changes) - set(editable))
    if unknown:
        raise ApplicationError(f"A schedule's {', '.join(unknown)} cannot be edited.", field=unknown[0])


def live(schedule):
    """The schedule locked for a change; a deleted one is history and changes no more."""
    locked = type(schedule).objects.select_for_update(of=("self",)).select_related("model").get(pk=schedule.pk)
    if locked.deleted_at is not None:
        raise Conflict(
            f"Schedule '{locked.name}' was deleted on {locked.deleted_at:%Y-%m-%d %H:%M} UTC; its history stays, "
            "but it changes no more."
        )
    return locked


def required_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(f"Say why you {what} this schedule: the reason stays in its history.", field="reason")
    return reason


def settings_diff(before: dict, after: dict) -> dict:
    """Each setting that changed, as the history keeps it: {field: {"before": …, "after": …}}."""
    return {field: {"before": before[field], "after": v} for field, v in after.items() if v != before[field]}


def history_record(schedule, *, action: str, actor, changes: dict, reason: str = "") -> None:
    schedule.history.create(action=action, changes=changes, actor=actor, reason=reason)


def changes_saved(schedule, *, sync, action: str, actor, changes: dict, reason: str = "") -> None:
    """Save the changed settings, bring beat's entry in step (`sync(schedule)`) and record the change."""
    schedule.save(update_fields=[*changes])
    sync(schedule)
    history_record(schedule, action=action, actor=actor, changes=changes, reason=reason)


def created_record(schedule, *, actor, settings: dict) -> None:
    """A schedule's creation is its first history entry: the settings it started with."""
    changes = {field: {"before": None, "after": value} for field, value in settings.items()}
    history_record(schedule, action=ScheduleAction.CREATED, actor=actor, changes=changes)


def retire(schedule, *, actor, reason: str) -> None:
    """Mark a live (locked) schedule deleted, delete its beat entry, and say so in its history: a tick
    already queued finds it deleted and runs nothing; the row and its history stay readable."""
    reason = required_reason(reason, "delete")
    entry = schedule.periodic_task
    schedule.deleted_at, schedule.enabled, schedule.periodic_task = timezone.now(), False, None
    schedule.save(update_fields=["deleted_at", "enabled", "periodic_task"])
    if entry is not None:
        entry.delete()
    history_record(schedule, action=ScheduleAction.DELETED, actor=actor, changes={}, reason=reason)


def locked_for_run(schedules, schedule_id: int):
    return schedules.select_for_update(of=("self",)).get(pk=schedule_id)


def run_begins(schedule, now=None):
    """The moment a tick runs, noted on the schedule; None (and nothing noted) when it is paused or deleted."""
    if not schedule.enabled or schedule.deleted_at is not None:
        return None
    now = now or timezone.now()
    schedule.last_run_at = now
    schedule.save(update_fields=["last_run_at"])
    return now
