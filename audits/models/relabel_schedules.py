"""Relabelling campaigns on a schedule: a campaign template that django-celery-beat runs by cron or
every so many hours, its append-only history, and one row per run (what makes a retried run
create no second campaign)."""

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from registry.models import RegisteredModel

from .relabel import RelabelCampaign, describe_filters
from .schedules import ScheduleBase, ScheduleEventBase, schedule_event_constraints, schedule_name_constraint

__all__ = ["RelabelSchedule", "RelabelScheduleEvent", "RelabelScheduleRun"]


class RelabelSchedule(ScheduleBase):
    """A campaign that starts by itself: every run creates a campaign named with the run's date from
    this template (design, labels, overlap, versions) over the predictions of the last
    `window_hours` before the run, and draws it."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="relabel_schedules")
    cron = models.CharField(max_length=100, blank=True, help_text="minute hour day-of-month month day-of-week (UTC).")
    every_hours = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Or: run every so many hours."
    )
    design = models.JSONField(help_text="The campaigns' sampling design (audits.engine.relabel.design_to_dict).")
    versions = models.JSONField(default=list, blank=True, help_text="Version numbers sampled; empty: all.")
    surfaces = models.JSONField(default=list, blank=True, help_text="Surfaces sampled; empty: all.")
    segment = models.JSONField(default=dict, blank=True, help_text="Feature column -> allowed values; empty: all.")
    label_set = models.JSONField(null=True, blank=True, help_text="Null: the classes logged in the run's window.")
    overlap_share = models.FloatField(default=0.0)
    overlap_labels = models.PositiveSmallIntegerField(default=2)
    window_hours = models.PositiveIntegerField(
        default=24 * 7, validators=[MinValueValidator(1)], help_text="Each run samples this many hours before it."
    )
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="Deleted schedules never run again.")

    class Meta(ScheduleBase.Meta):
        constraints = [
            schedule_name_constraint("audits_relabel_schedule_name"),
            models.CheckConstraint(
                condition=(Q(cron="") & Q(every_hours__isnull=False)) | (~Q(cron="") & Q(every_hours__isnull=True)),
                name="audits_relabel_schedule_cron_or_interval",
            ),
            models.CheckConstraint(
                condition=Q(overlap_share__gte=0) & Q(overlap_share__lte=1), name="audits_relabel_schedule_overlap"
            ),
        ]

    @property
    def timing(self) -> str:
        return self.cron or f"every {self.every_hours} h"

    @property
    def filters(self) -> str:
        return describe_filters(self.surfaces, self.segment)


class RelabelScheduleEvent(ScheduleEventBase):
    """The history of a relabelling schedule (ScheduleEventBase, as AuditScheduleEvent)."""

    schedule = models.ForeignKey(RelabelSchedule, on_delete=models.CASCADE, related_name="history")

    class Meta(ScheduleEventBase.Meta):
        constraints = schedule_event_constraints(
            action="audits_relabel_schedule_event_action", reason="audits_relabel_schedule_edit_has_reason"
        )


class RelabelScheduleRun(models.Model):
    """One run of a schedule: the campaign it created, or why it created none. Unique per beat task
    id, so a redelivered or retried run finds the first one's campaign instead of making another."""

    schedule = models.ForeignKey(RelabelSchedule, on_delete=models.CASCADE, related_name="runs")
    trigger_key = models.CharField(max_length=100, blank=True, help_text="Beat's task id; empty: run by hand.")
    campaign = models.OneToOneField(
        RelabelCampaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="schedule_run"
    )
    error = models.TextField(blank=True, help_text="Why the run created no campaign.")
    ran_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-ran_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["trigger_key"], condition=~Q(trigger_key=""), name="audits_relabel_schedule_run_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schedule.name} at {self.ran_at:%Y-%m-%d %H:%M}"
