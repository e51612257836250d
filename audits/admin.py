"""Audit schedules and their history in Django's admin, read-only: schedules change through Keel's
pages and API (the services that record who, when and why), and the history is append-only."""

from django.contrib import admin

from mlops.admin import ViewOnlyMixin

from .models import AuditSchedule, AuditScheduleEvent


class AuditScheduleEventInline(ViewOnlyMixin, admin.TabularInline):
    model = AuditScheduleEvent
    fields = readonly_fields = ("created_at", "action", "actor", "changes", "reason")
    extra = 0


@admin.register(AuditSchedule)
class AuditScheduleAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "model", "source", "cron", "enabled", "deleted_at")
    list_filter = ("source", "enabled")
    search_fields = ("name", "model__name")
    inlines = [AuditScheduleEventInline]


@admin.register(AuditScheduleEvent)
class AuditScheduleEventAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "schedule", "action", "actor", "reason")
    list_filter = ("action",)
    search_fields = ("schedule__name", "schedule__model__name", "reason")
    list_select_related = ("schedule__model", "actor")
