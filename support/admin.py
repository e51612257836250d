"""Support lists in Django's admin: surfaces are configuration (added and described here, never
deleted: entries name them); entries, privacy requests and bulk uploads are records to look at.
Changes to the lists go through the agents' API and pages, with their guard rails, never here."""

from django.contrib import admin
from django.utils import timezone

from mlops.admin import ViewOnlyMixin

from .models import BulkUpload, EntrySurface, ListEntry, PrivacyRequest, Surface


@admin.register(Surface)
class SurfaceAdmin(admin.ModelAdmin):
    list_display = ("name", "model", "description", "created_at")
    search_fields = ("name", "description")
    list_select_related = ("model",)

    def get_readonly_fields(self, request, obj=None):
        return ("name", "created_at") if obj is not None else ("created_at",)

    def has_delete_permission(self, request, obj=None):
        return False


class EntrySurfaceInline(ViewOnlyMixin, admin.TabularInline):
    model = EntrySurface
    fields = ("surface",)
    readonly_fields = ("surface",)
    extra = 0
    can_delete = False


@admin.register(ListEntry)
class ListEntryAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "entity_type",
        "entity_id",
        "reason",
        "scope",
        "weight",
        "expires_at",
        "state",
        "created_by",
        "created_at",
    )
    list_filter = ("kind", "reason", "entity_type", "all_surfaces")
    search_fields = ("entity_id", "note", "lift_reason")
    list_select_related = ("created_by",)
    inlines = [EntrySurfaceInline]

    @admin.display(description="scope")
    def scope(self, entry):
        return entry.scope_label

    @admin.display(description="state")
    def state(self, entry):
        return entry.state_at(timezone.now())


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "entity_type",
        "entity_id",
        "reference",
        "requested_by",
        "created_at",
        "erase_state",
        "erased_at",
    )
    list_filter = ("erase_state",)
    search_fields = ("entity_id", "reference")
    list_select_related = ("requested_by",)


@admin.register(BulkUpload)
class BulkUploadAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "reason",
        "filename",
        "counts",
        "created_by",
        "created_at",
        "applied_at",
        "applied_count",
    )
    list_filter = ("kind",)
    exclude = ("rows",)
    list_select_related = ("created_by",)
