"""The registry in Django's admin: a window onto the records, not a second way to change them.

Logs are append-only (and refused by database triggers on UPDATE), a version's config is frozen, and
alias moves must leave an AliasEvent, so almost everything here is view-only. The one edit allowed,
a model's description, goes through the same service the API uses.
"""

from django.contrib import admin

from . import services
from .models import (
    AliasEvent,
    ArtifactCheck,
    Experiment,
    ModelAlias,
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RunMetric,
    RunParam,
    RunTag,
    TrainingRun,
)


class ViewOnlyMixin:
    """No add, change or delete for anyone, superusers included: the admin then renders read-only
    pages and answers 403 to a forged POST."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ViewOnlyAdmin(ViewOnlyMixin, admin.ModelAdmin):
    pass


class ViewOnlyInline(ViewOnlyMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        # Non-editable fields (version, created_at, …) may only be listed as read-only.
        return self.fields


# --- inlines ------------------------------------------------------------------------------------


class VersionInline(ViewOnlyInline):
    model = ModelVersion
    fields = ("version", "decision_threshold", "code_commit", "created_by", "created_at")
    ordering = ("-version",)


class AliasInline(ViewOnlyInline):
    model = ModelAlias
    fields = ("name", "version", "updated_at")
    show_change_link = False


class AliasEventInline(ViewOnlyInline):
    model = AliasEvent
    fields = ("created_at", "alias", "from_version", "to_version", "actor", "reason")
    show_change_link = False


class VersionTagInline(ViewOnlyInline):
    model = ModelVersionTag
    fields = ("key", "value", "set_by", "set_at")
    show_change_link = False


class ArtifactCheckInline(ViewOnlyInline):
    model = ArtifactCheck
    fields = ("checked_at", "ok", "computed_sha256", "error")
    show_change_link = False


class RunParamInline(ViewOnlyInline):
    model = RunParam
    fields = ("key", "value", "logged_at")
    show_change_link = False


class RunMetricInline(ViewOnlyInline):
    model = RunMetric
    fields = ("key", "value", "is_nan", "step", "timestamp")
    show_change_link = False


class RunTagInline(ViewOnlyInline):
    model = RunTag
    fields = ("key", "value", "set_by", "set_at")
    show_change_link = False


# --- models and versions ------------------------------------------------------------------------


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ("name", "task_type", "owner", "created_at", "updated_at")
    list_filter = ("task_type",)
    search_fields = ("name", "description", "owner__username")
    fields = ("name", "task_type", "owner", "description", "created_at", "updated_at")
    readonly_fields = ("name", "task_type", "owner", "created_at", "updated_at")
    inlines = (AliasInline, VersionInline, AliasEventInline)

    def has_add_permission(self, request):
        # Models are created through the API, where the name, owner and task type are validated once.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.model_update_description(model=obj, description=form.cleaned_data["description"])


@admin.register(ModelVersion)
class ModelVersionAdmin(ViewOnlyAdmin):
    list_display = ("__str__", "model", "version", "decision_threshold", "code_commit", "created_by", "created_at")
    list_filter = ("model", "flavor", "created_at")
    search_fields = ("model__name", "code_commit", "dataset_uri", "artifact_sha256", "description")
    list_select_related = ("model", "created_by")
    date_hierarchy = "created_at"
    inlines = (VersionTagInline, ArtifactCheckInline)


@admin.register(ModelAlias)
class ModelAliasAdmin(ViewOnlyAdmin):
    list_display = ("model", "name", "version", "updated_at")
    list_filter = ("name", "model")
    search_fields = ("model__name", "name")
    list_select_related = ("model", "version")


@admin.register(AliasEvent)
class AliasEventAdmin(ViewOnlyAdmin):
    list_display = ("created_at", "model", "alias", "from_version", "to_version", "actor", "reason")
    list_filter = ("alias", "model")
    search_fields = ("model__name", "alias", "reason", "actor__username")
    list_select_related = ("model", "from_version", "to_version", "actor")
    date_hierarchy = "created_at"


@admin.register(ModelVersionTag)
class ModelVersionTagAdmin(ViewOnlyAdmin):
    list_display = ("version", "key", "value", "set_by", "set_at")
    search_fields = ("key", "value", "version__model__name")
    list_select_related = ("version__model", "set_by")


@admin.register(ArtifactCheck)
class ArtifactCheckAdmin(ViewOnlyAdmin):
    list_display = ("version", "ok", "checked_at", "error")
    list_filter = ("ok",)
    search_fields = ("version__model__name", "computed_sha256")
    list_select_related = ("version__model",)


# --- training runs ------------------------------------------------------------------------------


@admin.register(Experiment)
class ExperimentAdmin(ViewOnlyAdmin):
    list_display = ("name", "created_by", "created_at")
    search_fields = ("name",)


@admin.register(TrainingRun)
class TrainingRunAdmin(ViewOnlyAdmin):
    list_display = ("run_id", "name", "experiment", "status", "code_commit", "started_at", "ended_at")
    list_filter = ("status", "experiment")
    search_fields = ("run_id", "name", "code_commit", "experiment__name")
    list_select_related = ("experiment",)
    date_hierarchy = "started_at"
    inlines = (RunParamInline, RunMetricInline, RunTagInline)


@admin.register(RunParam)
class RunParamAdmin(ViewOnlyAdmin):
    list_display = ("run", "key", "value", "logged_at")
    search_fields = ("key", "value", "run__run_id")
    list_select_related = ("run",)


@admin.register(RunMetric)
class RunMetricAdmin(ViewOnlyAdmin):
    list_display = ("run", "key", "value", "is_nan", "step", "timestamp")
    search_fields = ("key", "run__run_id")
    list_select_related = ("run",)


@admin.register(RunTag)
class RunTagAdmin(ViewOnlyAdmin):
    list_display = ("run", "key", "value", "set_by", "set_at")
    search_fields = ("key", "value", "run__run_id")
    list_select_related = ("run", "set_by")
