"""The registry in Django's admin: a window onto the records, not a second way to change them.

Logs are append-only (and refused by database triggers on UPDATE), a version's config is frozen, and
alias moves must leave an AliasEvent, so almost everything here is view-only. The edits allowed, a
model's description and its promotion policy, go through the same services the API uses; the other
editable records are configuration: notification channels. Promotion decisions are made on Keel's
approval page (four eyes, fresh evidence), never here.
"""

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from mlops.admin import ViewOnlyMixin

from . import services
from .models import (
    PROMOTION_REQUEST_FIELDS,
    AliasEvent,
    ArtifactCheck,
    Experiment,
    HoldoutDataset,
    MlflowImport,
    ModelAlias,
    ModelVersion,
    ModelVersionTag,
    NotificationChannel,
    NotificationDelivery,
    NotificationEvent,
    PickleAllowance,
    PolicyRule,
    PolicyRuleSwitch,
    PromotionEvent,
    PromotionPolicy,
    PromotionRequest,
    RegisteredModel,
    RunMetric,
    RunParam,
    RunTag,
    TrainingRun,
)


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


def rows_inline(row_model, columns) -> type[ViewOnlyInline]:
    """A view-only table of a record's rows (aliases, tags, checks, logs), without links to pages of their own."""
    attrs = {"model": row_model, "fields": columns, "show_change_link": False}
    return type(f"{row_model.__name__}Inline", (ViewOnlyInline,), attrs)


AliasInline = rows_inline(ModelAlias, ("name", "version", "updated_at"))
AliasEventInline = rows_inline(AliasEvent, ("created_at", "alias", "from_version", "to_version", "actor", "reason"))
VersionTagInline = rows_inline(ModelVersionTag, ("key", "value", "set_by", "set_at"))
ArtifactCheckInline = rows_inline(ArtifactCheck, ("checked_at", "ok", "computed_sha256", "error"))
RunParamInline = rows_inline(RunParam, ("key", "value", "logged_at"))
RunMetricInline = rows_inline(RunMetric, ("key", "value", "is_nan", "step", "timestamp"))
RunTagInline = rows_inline(RunTag, ("key", "value", "set_by", "set_at"))


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
    list_display = (
        "__str__",
        "model",
        "version",
        "artifact_format",
        "decision_threshold",
        "code_commit",
        "created_by",
        "created_at",
    )
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


@admin.register(PickleAllowance)
class PickleAllowanceAdmin(ViewOnlyAdmin):
    """Reviewers' decisions on pickle artifacts; made on the model page or through the API, never here."""

    list_display = ("created_at", "model", "allowed", "actor", "reason")
    list_filter = ("allowed",)
    search_fields = ("model__name", "reason")


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


@admin.register(MlflowImport)
class MlflowImportAdmin(ViewOnlyAdmin):
    """Where each record `manage.py import_mlflow` copied came from (written by the import only)."""

    list_display = ("kind", "source_id", "source_uri", "run", "version", "note", "imported_by", "imported_at")
    list_filter = ("kind", "source_uri")
    search_fields = ("source_id", "source_uri", "run__run_id", "model__name")
    list_select_related = ("run", "version__model", "imported_by")


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


# --- promotion governance -----------------------------------------------------------------------


class PromotionEventInline(ViewOnlyInline):
    model = PromotionEvent
    fields = ("created_at", "from_state", "to_state", "actor", "note")
    show_change_link = False


class PolicySwitchInline(ViewOnlyInline):
    model = PolicyRuleSwitch
    fields = ("created_at", "rule", "enabled", "actor", "reason")
    show_change_link = False


class PromotionPolicyAdminForm(forms.ModelForm):
    """The admin's policy form (its fields are the admin's), with the reason a switched-off rule needs."""

    switch_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed to switch a blocking rule off; recorded with your name and the time.",
    )

    def clean(self):
        data = super().clean()
        stored = self.instance if self.instance.pk else PromotionPolicy()
        for rule in PolicyRule:
            switched_off = getattr(stored, rule.value) and data.get(rule.value) is False
            if switched_off and not data.get("switch_reason", "").strip():
                self.add_error("switch_reason", f"Say why the rule “{rule.label}” is switched off.")
        return data


@admin.register(PromotionPolicy)
class PromotionPolicyAdmin(admin.ModelAdmin):
    form = PromotionPolicyAdminForm
    inlines = [PolicySwitchInline]
    list_display = (
        "model",
        "primary_metric",
        "min_primary_metric",
        "max_regression",
        "max_flip_rate",
        "threshold_rule",
        "updated_by",
        "updated_at",
    )
    list_select_related = ("model", "updated_by")
    search_fields = ("model__name",)

    def get_readonly_fields(self, request, obj=None):
        # A policy belongs to its model for good; moving it would silently change another model's gate.
        return ("model", "updated_by", "updated_at") if obj else ("updated_by", "updated_at")

    def has_delete_permission(self, request, obj=None):
        # Deleting would quietly fall back to the defaults; edit the fields instead.
        return False

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in form.cleaned_data if name != "model"}
        policy = services.policy_update(model=obj.model, actor=request.user, **fields)
        obj.pk, obj.updated_by, obj.updated_at = policy.pk, policy.updated_by, policy.updated_at


@admin.register(HoldoutDataset)
class HoldoutDatasetAdmin(ViewOnlyAdmin):
    list_display = ("name", "model", "format", "label_column", "size_bytes", "created_by", "created_at")
    list_filter = ("format", "model")
    search_fields = ("name", "model__name", "sha256", "storage_path")
    list_select_related = ("model", "created_by")


@admin.register(PromotionRequest)
class PromotionRequestAdmin(ViewOnlyAdmin):
    list_display = (
        "__str__",
        "model",
        "version",
        "target_alias",
        "action",
        "state",
        "submitted_by",
        "submitted_at",
        "decided_by",
    )
    list_filter = ("state", "target_alias", "action", "model")
    search_fields = ("model__name", "reason", "submitted_by__username", "decided_by__username")
    list_select_related = ("model", "version", "submitted_by", "decided_by")
    date_hierarchy = "submitted_at"
    fields = (
        *PROMOTION_REQUEST_FIELDS,
        "evidence_summary",
        "proposed_threshold",
        "approved_threshold",
        "submitted_by",
        "submitted_at",
        "decided_by",
        "decided_at",
        "decision_comment",
        "evidence",
    )
    readonly_fields = ("evidence_summary",)
    inlines = (PromotionEventInline,)

    @admin.display(description="Evidence summary")
    def evidence_summary(self, obj):
        evidence = obj.evidence or {}
        rows = []
        primary = evidence.get("primary_metric")
        metrics = evidence.get("metrics") or {}
        if primary:
            for side in ("candidate", "production", "baseline"):
                value = (metrics.get(side) or {}).get(primary)
                if value is not None:
                    rows.append((f"{primary} ({side})", value))
        for key, label in (
            ("rows", "Hold-out rows"),
            ("beats_production", "Beats production"),
            ("note", "Note"),
            ("production_note", "Production"),
            ("error", "Error"),
        ):
            if evidence.get(key) not in (None, ""):
                rows.append((label, evidence[key]))
        table = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        failures = format_html_join("", "<li>{}</li>", ((reason,) for reason in obj.failure_reasons or []))
        if not rows and not failures:
            return "No evidence yet."
        return format_html(
            "<table>{}</table>{}", table, format_html("<p>Failed checks:</p><ul>{}</ul>", failures) if failures else ""
        )


@admin.register(PromotionEvent)
class PromotionEventAdmin(ViewOnlyAdmin):
    list_display = ("created_at", "request", "from_state", "to_state", "actor", "note")
    list_filter = ("to_state",)
    search_fields = ("note", "actor__username", "request__model__name")
    list_select_related = ("request__model", "request__version", "actor")
    date_hierarchy = "created_at"


# --- notifications ------------------------------------------------------------------------------


class NotificationChannelForm(forms.ModelForm):
    # Ticked boxes instead of a JSON text area: nobody has to remember the event names.
    events = forms.MultipleChoiceField(
        choices=NotificationEvent.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )

    class Meta:
        model = NotificationChannel
        fields = ("name", "kind", "target", "events", "model", "is_active")


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    form = NotificationChannelForm
    list_display = ("name", "kind", "target", "model", "is_active", "created_at")
    list_filter = ("kind", "is_active", "model")
    search_fields = ("name", "target")
    list_select_related = ("model",)
    fields = ("name", "kind", "target", "events", "model", "is_active", "secret", "created_at")
    readonly_fields = ("secret", "created_at")

    def get_readonly_fields(self, request, obj=None):
        # The secret is generated, never typed: shown once the channel exists, for the receiver's config.
        return self.readonly_fields if obj else ("created_at",)

    def get_fields(self, request, obj=None):
        return self.fields if obj else tuple(f for f in self.fields if f != "secret")


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(ViewOnlyAdmin):
    list_display = ("created_at", "event", "channel", "state", "attempts", "last_status_code", "delivered_at")
    list_filter = ("state", "event", "channel")
    search_fields = ("dedupe_key", "channel__name", "last_error")
    list_select_related = ("channel",)
    date_hierarchy = "created_at"
    fields = (
        "channel",
        "event",
        "dedupe_key",
        "state",
        "attempts",
        "last_status_code",
        "last_error",
        "created_at",
        "delivered_at",
        "payload",
    )
