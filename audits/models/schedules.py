"""Schedules people edit, of two kinds: an audit that runs by itself and a relabelling campaign that
starts by itself (relabel_schedules.py). What both are lives here once: the cron syntax Keel accepts,
the actions of their history, the fields of a schedule (`ScheduleBase`: name, beat entry, pause,
soft deletion) and of its append-only history (`ScheduleEventBase`), and the constraints both keep
(under each table's own constraint names)."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from mlops.modelkit import choice_constraint
from registry.models import ModelVersion, RegisteredModel

from .audits import DataFormat

__all__ = [
    "CRON_HELP",
    "CRON_PATTERN",
    "AuditSchedule",
    "AuditScheduleEvent",
    "ScheduleAction",
    "ScheduleSource",
]


class ScheduleSource(models.TextChoices):
    STORAGE_PATH = "storage_path", "A file dropped under the data root"
    SERVING_LOG = "serving_log", "The serving log of the last hours"


def _names(words: tuple[str, ...]) -> str:
    """Names as cron reads them: the first three letters or the whole word, in any case."""

    def any_case(text: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" for c in text)

    return "|".join(any_case(word[:3]) + (f"(?:{any_case(word[3:])})?" if word[3:] else "") for word in words)


def _cron_field(number: str) -> str:
    """`*`, a value or a range (each optionally stepped by 1 to 99, except a lone value), comma-separated."""
    item = f"(?:\\*(?:/[1-9][0-9]?)?|(?:{number})(?:-(?:{number})(?:/[1-9][0-9]?)?)?)"
    return f"{item}(?:,{item})*"


_CRON_SPACE = "[\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
CRON_PATTERN = (
    f"^{_CRON_SPACE}*"
    + f"{_CRON_SPACE}+".join(
        _cron_field(number)
        for number in (
            "[0-5]?[0-9]",
            "[01]?[0-9]|2[0-3]",
            "0?[1-9]|[12][0-9]|3[01]",
            f"0?[1-9]|1[0-2]|{_names(_MONTHS)}",
            f"0?[0-6]|{_names(_WEEKDAYS)}",
        )
    )
    + f"{_CRON_SPACE}*$"
)
"""The schedules Keel accepts: five fields, minute (0-59) hour (0-23) day-of-month (1-31) month (1-12
or a name) day-of-week (0-6, Sunday 0, or a name), each `*`, a value or a range, a `*` or a range
optionally stepped (`*/15`, `9-17/2`), comma-separated lists of those. A subset of what celery's
crontab parses, and all of it runs."""
CRON_HELP = (
    "minute hour day-of-month month day-of-week (UTC): each `*`, a value or a range (`9-17`), `*` and ranges "
    "optionally stepped (`*/15`), lists with commas; months and weekdays by number or name (`mon-fri`)."
)


class ScheduleAction(models.TextChoices):
    CREATED = "created", "Created"
    EDITED = "edited", "Edited"
    PAUSED = "paused", "Paused"
    RESUMED = "resumed", "Resumed"
    DELETED = "deleted", "Deleted"


def schedule_name_constraint(name: str) -> models.UniqueConstraint:
    """A schedule's name is its address within its model (a deleted one keeps it, with its history)."""
    return models.UniqueConstraint(fields=["model", "name"], name=name)


def schedule_event_constraints(*, action: str, reason: str) -> list[models.BaseConstraint]:
    """A history entry's action is one of ScheduleAction, and an edit or a deletion says why."""
    return [
        choice_constraint("action", ScheduleAction, action),
        models.CheckConstraint(
            condition=~Q(action__in=[ScheduleAction.EDITED, ScheduleAction.DELETED]) | ~Q(reason=""), name=reason
        ),
    ]


class ScheduleBase(models.Model):
    """What every schedule has besides its model, timing and task: a name, the django-celery-beat
    entry the services keep in step with it, a pause, and a soft deletion that keeps its history."""

    name = models.SlugField(max_length=100)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    enabled = models.BooleanField(default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="Deleted schedules never run again; the row stays for its history."
    )

    class Meta:
        abstract = True
        ordering = ["model", "name"]

    def __str__(self) -> str:
        return f"{self.model.name}: {self.name} ({self.timing})"

    @property
    def timing(self) -> str:
        """When it runs, as people read it."""
        return self.cron


class ScheduleEventBase(models.Model):
    """Append-only history of a schedule: who changed what, when and why. `changes` holds each changed
    setting as {"before": …, "after": …} (creation: the settings it started with, "before" null).
    Triggers (each table's migration) refuse UPDATE on PostgreSQL and SQLite and DELETE on PostgreSQL.
    A subclass adds `schedule` (its schedule, related_name "history")."""

    action = models.CharField(max_length=10, choices=ScheduleAction.choices)
    changes = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.schedule.model.name}: {self.schedule.name} {self.action} by {self.actor}"


class AuditSchedule(ScheduleBase):
    """An audit that runs by itself, on a cron schedule kept by django-celery-beat: the daily file
    of a feed (its path may hold strftime fields, e.g. incoming/upsell/%Y-%m-%d.csv) or the window
    of serving logs since the last run. A file that does not arrive is an alert (staleness)."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="audit_schedules")
    source = models.CharField(max_length=20, choices=ScheduleSource.choices)
    storage_path = models.CharField(max_length=500, blank=True, help_text="strftime fields allowed.")
    format = models.CharField(max_length=10, choices=DataFormat.choices, blank=True)
    window_hours = models.PositiveIntegerField(default=24, validators=[MinValueValidator(1)])
    version = models.ForeignKey(
        ModelVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Whose reference to compare with; empty means production at run time.",
    )
    cron = models.CharField(max_length=100, help_text="minute hour day-of-month month day-of-week")

    class Meta(ScheduleBase.Meta):
        constraints = [
            schedule_name_constraint("audits_schedule_name_per_model"),
            choice_constraint("source", ScheduleSource, "audits_schedule_source_valid"),
            models.CheckConstraint(
                condition=~Q(source=ScheduleSource.STORAGE_PATH) | ~Q(storage_path=""),
                name="audits_file_schedule_has_path",
            ),
        ]


class AuditScheduleEvent(ScheduleEventBase):
    """The history of an audit schedule (ScheduleEventBase)."""

    schedule = models.ForeignKey(AuditSchedule, on_delete=models.CASCADE, related_name="history")

    class Meta(ScheduleEventBase.Meta):
        constraints = schedule_event_constraints(
            action="audits_schedule_event_action_valid", reason="audits_schedule_edit_has_reason"
        )
