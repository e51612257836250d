"""Relabelling campaigns on a schedule: django-celery-beat keeps the cron (or interval) entry, Keel
keeps the campaign template and its history, through the steps audit schedules take too (schedule_kit.py): an
edit re-saves beat's entry, a deletion deletes it, and a tick re-reads the schedule, so a deleted or
paused one runs nothing. Each run creates a campaign named with the run's date over the predictions
of the `window_hours` before it and draws it; a run is recorded once per beat task id, so a
redelivered or retried run creates no second campaign."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from mlops.errors import ApplicationError
from registry.models import RegisteredModel

from ..models import RelabelSchedule, RelabelScheduleRun, ScheduleAction
from .relabel import campaign_create
from .schedule_kit import (
    beat_entry_sync,
    changes_saved,
    created_record,
    crontab_for,
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
    "relabel_schedule_create",
    "relabel_schedule_delete",
    "relabel_schedule_update",
    "scheduled_campaign_run",
]

TASK = "audits.tasks.run_relabel_schedule"
TEMPLATE = (
    "design",
    "versions",
    "surfaces",
    "segment",
    "label_set",
    "overlap_share",
    "overlap_labels",
    "window_hours",
)
EDITABLE = ("cron", "every_hours", *TEMPLATE, "enabled")
MAX_WINDOW_HOURS = 24 * 366


class _DryRun(Exception):
    """Raised to roll back the campaign a template check created."""


def _versions(model: RegisteredModel, numbers) -> list:
    if not isinstance(numbers, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        raise ApplicationError("A list of version numbers.", field="versions")
    found = {v.version: v for v in model.versions.filter(version__in=numbers)}
    missing = [n for n in numbers if n not in found]
    if missing:
        raise ApplicationError(f"'{model.name}' has no version {missing[0]}.", field="versions")
    return [found[n] for n in numbers]


def _campaign_settings(schedule: RelabelSchedule, now) -> dict:
    return {
        "model": schedule.model,
        "design": schedule.design,
        "versions": _versions(schedule.model, schedule.versions),
        "window_start": now - timedelta(hours=schedule.window_hours),
        "window_end": now,
        "surfaces": schedule.surfaces,
        "segment": schedule.segment,
        "label_set": schedule.label_set,
        "overlap_share": schedule.overlap_share,
        "overlap_labels": schedule.overlap_labels,
    }


def _checked(schedule: RelabelSchedule, actor) -> None:
    """The timing is one of cron or interval, and the template makes a campaign exactly as a run
    would: checked by creating that campaign (undrawn) and rolling it back, so a schedule and a
    campaign can never disagree on what is valid. Errors name the template's field."""
    if bool(schedule.cron) == (schedule.every_hours is not None):
        raise ApplicationError("Give either a cron or every_hours.", field="cron")
    if schedule.every_hours is not None and not 1 <= schedule.every_hours <= MAX_WINDOW_HOURS:
        raise ApplicationError(f"From 1 to {MAX_WINDOW_HOURS} hours.", field="every_hours")
    if not 1 <= schedule.window_hours <= MAX_WINDOW_HOURS:
        raise ApplicationError(f"From 1 to {MAX_WINDOW_HOURS} hours.", field="window_hours")
    if schedule.cron:
        crontab_for(schedule.cron)
    settings = _campaign_settings(schedule, timezone.now())
    if settings["label_set"] is None:  # derived from each run's window, which may be empty today
        settings["label_set"] = ["(the classes logged in the run's window)"]
    try:
        with transaction.atomic():
            campaign_create(actor=actor, name=schedule.name, start=False, **settings)
            raise _DryRun
    except _DryRun:
        pass


def _beat_entry(schedule: RelabelSchedule) -> None:
    every_hours = None if schedule.cron else schedule.every_hours
    beat_entry_sync(schedule, task=TASK, prefix="keel-relabel", cron=schedule.cron, every_hours=every_hours)


def _settings(schedule: RelabelSchedule) -> dict:
    return {field: getattr(schedule, field) for field in EDITABLE}


@transaction.atomic
def relabel_schedule_create(
    *,
    model: RegisteredModel,
    actor,
    name: str,
    design: dict,
    cron: str = "",
    every_hours: int | None = None,
    versions: list[int] | None = None,
    surfaces: list[str] | None = None,
    segment: dict[str, list] | None = None,
    label_set: list[str] | None = None,
    overlap_share: float = 0.0,
    overlap_labels: int = 2,
    window_hours: int = 24 * 7,
) -> RelabelSchedule:
    """A campaign template run by beat, checked as a campaign would be; its creation is its first
    history entry."""
    name_free(RelabelSchedule.objects, model=model, name=name, what="relabelling schedule")
    schedule = RelabelSchedule(
        model=model,
        name=name,
        cron=(cron or "").strip(),
        every_hours=every_hours,
        design=design,
        versions=list(versions or []),
        surfaces=surfaces if surfaces is not None else [],
        segment=segment if segment is not None else {},
        label_set=label_set,
        overlap_share=overlap_share,
        overlap_labels=overlap_labels,
        window_hours=window_hours,
        created_by=actor,
    )
    _checked(schedule, actor)
    schedule.save()
    _beat_entry(schedule)
    created_record(schedule, actor=actor, settings=_settings(schedule))
    return schedule


@transaction.atomic
def relabel_schedule_update(*, schedule: RelabelSchedule, actor, reason: str = "", **changes) -> RelabelSchedule:
    """Change a schedule's timing or template (checked as at creation; a reason required) or pause or
    resume it (`enabled` alone; a reason welcome). Settings sent as they are change nothing."""
    editable_only(changes, EDITABLE)
    schedule = live(schedule)
    before = _settings(schedule)
    if "cron" in changes and changes["cron"]:  # switching to cron drops the interval, and back
        changes.setdefault("every_hours", None)
    if changes.get("every_hours") is not None:
        changes.setdefault("cron", "")
    for field, value in changes.items():
        setattr(schedule, field, "" if field == "cron" and value is None else value)
    only_enabled = set(changes) <= {"enabled"}
    if not only_enabled:
        _checked(schedule, actor)
    diff = settings_diff(before, _settings(schedule))
    if not diff:
        return schedule
    if set(diff) - {"enabled"}:
        reason = required_reason(reason, "edit")
        action = ScheduleAction.EDITED
    else:
        action = ScheduleAction.RESUMED if schedule.enabled else ScheduleAction.PAUSED
        reason = (reason or "").strip()
    changes_saved(schedule, sync=_beat_entry, action=action, actor=actor, changes=diff, reason=reason)
    return schedule


@transaction.atomic
def relabel_schedule_delete(*, schedule: RelabelSchedule, actor, reason: str) -> RelabelSchedule:
    """Stop a schedule for good: beat forgets it, a tick already queued runs nothing; the row, its
    history and its campaigns stay."""
    schedule = live(schedule)
    retire(schedule, actor=actor, reason=reason)
    return schedule


@transaction.atomic
def scheduled_campaign_run(*, schedule_id: int, trigger_key: str = "", now=None) -> RelabelScheduleRun | None:
    """One tick: a campaign named "<schedule> <date time>" over the window before the run, drawn in
    the background. Idempotent per trigger (beat's task id): a redelivered tick returns the first
    one's run. None when the schedule is paused or deleted. A template that no longer makes a
    campaign (a version or an audit gone) is recorded on the run with the reason."""
    schedule = locked_for_run(RelabelSchedule.objects.select_related("model", "created_by"), schedule_id)
    if trigger_key:
        earlier = RelabelScheduleRun.objects.filter(trigger_key=trigger_key).first()
        if earlier is not None:
            return earlier
    now = run_begins(schedule, now)
    if now is None:
        return None
    run = RelabelScheduleRun(schedule=schedule, trigger_key=trigger_key, ran_at=now)
    try:
        with transaction.atomic():
            run.campaign = campaign_create(
                actor=schedule.created_by,
                name=f"{schedule.name} {now:%Y-%m-%d %H:%M}",
                **_campaign_settings(schedule, now),
            )
    except ApplicationError as exc:
        run.error = exc.message
    run.save()
    return run
