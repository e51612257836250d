"""Forms of the promotion pages. They check the shape of input; the rules (four eyes, stale
evidence, what a canary needs…) live in services, whose refusals `show_service_error` puts back on
the form next to the field they concern."""

from django import forms

from ..evaluation import DESCRIPTIVE_METRICS, HIGHER_IS_BETTER
from ..models import (
    GOVERNED_ALIASES,
    PolicyRule,
    PromotionAction,
    PromotionPolicy,
    PromotionRequest,
    PromotionState,
    RegisteredModel,
    TaskType,
)
from ..selectors import model_holdouts, promotable_versions

__all__ = [
    "QueueFilterForm",
    "ALIAS_HELP",
    "REQUEST_FIELDS",
    "PromotionRequestForm",
    "DecisionForm",
    "ApproveForm",
    "RejectForm",
    "CancelForm",
    "RollbackForm",
    "QUALITY_METRICS",
    "PolicyForm",
]

# --- the queue --------------------------------------------------------------------------------------


class QueueFilterForm(forms.Form):
    model = forms.ChoiceField(required=False, label="Model")
    state = forms.ChoiceField(required=False, label="State", choices=[("", "Any state"), *PromotionState.choices])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = RegisteredModel.objects.order_by("name").values_list("name", flat=True)
        self.fields["model"].choices = [("", "All models"), *((n, n) for n in names)]


# --- asking for a promotion -------------------------------------------------------------------------

ALIAS_HELP = {
    "production": "Serves every user's decisions. Validated on hold-out data against the current production.",
    "canary": "Takes a small share of live traffic next to production. Validated on hold-out data.",
    "shadow": "Scores live traffic without acting on it. Hold-out data optional; failed checks only warn.",
}

# Service field names → this form's names (the upload is one field here, a file or path in the API).
REQUEST_FIELDS = {
    "file": "holdout_file",
    "format": "holdout_file",
    "storage_path": "holdout_file",
    "action": "target_alias",
}


class PromotionRequestForm(forms.Form):
    version = forms.ModelChoiceField(queryset=None, empty_label=None, label="Version")
    target_alias = forms.ChoiceField(
        label="Serve it as",
        widget=forms.RadioSelect,
        choices=[(alias, f"{alias} — {ALIAS_HELP[alias]}") for alias in GOVERNED_ALIASES],
        initial="production",
    )
    canary_percent = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=50,
        label="Canary traffic (%)",
        help_text="Share of live traffic the canary takes, 1–50%.",
    )
    holdout = forms.ModelChoiceField(
        queryset=None, required=False, label="Hold-out dataset", empty_label="— none / upload a new one below —"
    )
    holdout_file = forms.FileField(required=False, label="…or upload a new hold-out (CSV or Parquet)")
    label_column = forms.CharField(required=False, max_length=200, label="Label column of the upload")
    positive_label = forms.CharField(
        required=False,
        max_length=200,
        label="Positive label value",
        help_text="The value meaning the positive outcome (e.g. churned); not needed for yes/no, true/false, y/n, 1/0.",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Why should it serve?",
        help_text="Reviewers read this first.",
        error_messages={"required": "Say why this version should serve; reviewers read it."},
    )

    def __init__(self, *args, model: RegisteredModel, may_upload: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.model = model
        if not may_upload:
            # Hold-outs are the pipelines' (LOG_TRAINING): a reviewer picks one, never uploads one.
            del self.fields["holdout_file"], self.fields["label_column"], self.fields["positive_label"]
        self.fields["version"].queryset = promotable_versions(model)
        self.fields["version"].label_from_instance = lambda v: (
            f"v{v.version} — registered {v.created_at:%Y-%m-%d}" + (f" · {v.description[:60]}" if v.description else "")
        )
        self.fields["version"].error_messages["invalid_choice"] = (
            "Pick a version of this model that has an artifact uploaded."
        )
        self.fields["holdout"].queryset = model_holdouts(model)
        if not may_upload:
            self.fields["holdout"].empty_label = "— none —"
        self.fields["holdout"].label_from_instance = lambda h: (
            f"{h.name} — {h.format}, label '{h.label_column}', registered {h.created_at:%Y-%m-%d}"
        )

    def clean(self):
        data = super().clean()
        if data.get("target_alias") == "canary":
            if data.get("canary_percent") is None and "canary_percent" not in self.errors:
                self.add_error("canary_percent", "A canary needs its share of traffic, 1–50%.")
        else:
            # The field is hidden for other aliases; whatever it still holds is not meant.
            data["canary_percent"] = None
        if data.get("holdout") and data.get("holdout_file"):
            self.add_error("holdout_file", "Pick an existing hold-out or upload a new one, not both.")
        if data.get("holdout_file") and not (data.get("label_column") or "").strip():
            self.add_error("label_column", "Name the column of the upload that holds the true label.")
        return data


# --- deciding on a request --------------------------------------------------------------------------


class DecisionForm(forms.Form):
    """A form about one request; the request is passed so every decision form is built the same way."""

    def __init__(self, *args, promotion: PromotionRequest, **kwargs):
        super().__init__(*args, **kwargs)
        self.promotion = promotion


class ApproveForm(DecisionForm):
    """Approve, choosing the decision threshold production will serve with: the one the gate learned
    on the hold-out data, the version's own, or another the reviewer types."""

    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Comment")
    threshold_choice = forms.ChoiceField(widget=forms.RadioSelect, label="Decision threshold", required=False)
    custom_threshold = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        label="Custom threshold",
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )

    def __init__(self, *args, promotion: PromotionRequest, **kwargs):
        super().__init__(*args, promotion=promotion, **kwargs)
        self.options = {}
        if promotion.proposed_threshold is not None:
            self.options["proposed"] = promotion.proposed_threshold
        if promotion.version.decision_threshold is not None:
            self.options["own"] = promotion.version.decision_threshold
        # Only a binary model that is put to work decides by threshold.
        self.asks_threshold = (
            promotion.model.task_type == TaskType.BINARY and promotion.action == PromotionAction.PROMOTE
        )
        if not self.asks_threshold:
            del self.fields["threshold_choice"], self.fields["custom_threshold"]
            return
        labels = {
            "proposed": f"Proposed by the gate: {self.options.get('proposed', 0):.4g}",
            "own": f"v{promotion.version.version}'s own: {self.options.get('own', 0):.4g}",
        }
        field = self.fields["threshold_choice"]
        field.choices = [(key, labels[key]) for key in self.options] + [("custom", "Another value")]
        field.initial = next(iter(self.options), "custom")

    def clean(self):
        data = super().clean()
        choice = data.get("threshold_choice")
        if choice == "custom":
            if data.get("custom_threshold") is None and "custom_threshold" not in self.errors:
                self.add_error("custom_threshold", "Type the threshold, between 0 and 1.")
            data["threshold"] = data.get("custom_threshold")
        else:
            # No choice (a hand-made POST) means the service's default: the proposed, else the own.
            data["threshold"] = self.options.get(choice)
        return data


class RejectForm(DecisionForm):
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Why reject it?",
        error_messages={"required": "Say why you reject it; the submitter reads it."},
    )


class CancelForm(DecisionForm):
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Reason (optional)")


# --- rollback and policy ----------------------------------------------------------------------------


class RollbackForm(forms.Form):
    """Pick an earlier production version; `targets` are RollbackTargets. Versions rolled back since
    their approval are listed apart, never preselected, and need the confirmation box."""

    version = forms.TypedChoiceField(
        coerce=int, label="Roll production back to", error_messages={"required": "Pick the version to roll back to."}
    )
    confirm_rolled_back = forms.BooleanField(
        required=False,
        label="Yes, restore a version that was rolled back",
        help_text="Needed only for a version listed under “Rolled back”; say in the reason why it is safe now.",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Why?",
        error_messages={"required": "Say why production is rolled back."},
    )

    def __init__(self, *args, targets: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.targets = {target.version.version: target for target in targets}
        self.clean_targets = [t for t in targets if not t.rolled_back]
        self.rolled_back_targets = [t for t in targets if t.rolled_back]
        field = self.fields["version"]
        choices = [(t.version.version, f"v{t.version.version}") for t in self.clean_targets]
        if self.rolled_back_targets:
            rolled = [(t.version.version, f"v{t.version.version} (rolled back)") for t in self.rolled_back_targets]
            choices.append(("Rolled back — needs confirmation", rolled))
        field.choices = choices
        if self.clean_targets:
            field.initial = self.clean_targets[0].version.version
        field.error_messages["invalid_choice"] = "v%(value)s is not an earlier production version with an artifact."

    def clean(self):
        data = super().clean()
        if data.get("version") is not None:
            target = self.targets[data["version"]]
            data["to_version"] = target.version
            if target.rolled_back and not data.get("confirm_rolled_back"):
                self.add_error(
                    "confirm_rolled_back",
                    f"v{target.version.version} was rolled back; tick the box to restore it anyway.",
                )
        return data


RULE_SWITCH_CHOICES = [("on", "On: blocks the candidate"), ("off", "Off (say why below)")]
QUALITY_METRICS = sorted(name for name in HIGHER_IS_BETTER if name not in DESCRIPTIVE_METRICS)


class PolicyForm(forms.ModelForm):
    """The policy's editable fields; the model's validators and constraints apply on the form too,
    so a bad value is shown on its field before the service sees it."""

    primary_metric = forms.ChoiceField(label="Primary metric")
    slice_columns = forms.CharField(
        required=False,
        label="Slice columns",
        help_text="Comma-separated hold-out columns to report per-slice metrics for, e.g. plan, country.",
    )

    class Meta:
        model = PromotionPolicy
        fields = [
            "primary_metric",
            "min_primary_metric",
            "min_live_accuracy",
            "max_regression",
            "min_margin_over_baseline",
            "max_flip_rate",
            "max_slice_gap",
            "slice_columns",
            "min_slice_rows",
            "threshold_rule",
            "threshold_target",
            "ranking_k",
            "staleness_days",
            "max_importance_share",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for rule in PolicyRule:
            self.fields[rule.value] = forms.ChoiceField(
                label=rule.label,
                choices=RULE_SWITCH_CHOICES,
                required=False,
                help_text=PromotionPolicy._meta.get_field(rule.value).help_text,
            )
            self.initial[rule.value] = "on" if getattr(self.instance, rule.value) else "off"
        self.fields["switch_reason"] = forms.CharField(
            required=False,
            label="Why a rule is switched",
            max_length=2000,
            widget=forms.Textarea(attrs={"rows": 2}),
            help_text="Needed to switch a blocking rule off; kept with your name and the time, and shown on "
            "every request the gate judges without the rule.",
        )
        # Left out of a post, the share keeps its stored value.
        self.fields["max_importance_share"].required = False
        self.fields["max_importance_share"].widget.attrs["step"] = "0.01"
        current = self.instance.primary_metric
        # Keep a value set through the API even if it is not one Keel knows, so editing shows it.
        names = QUALITY_METRICS if current in QUALITY_METRICS else [current, *QUALITY_METRICS]
        self.fields["primary_metric"].choices = [(n, n) for n in names]
        self.fields["primary_metric"].help_text = PromotionPolicy._meta.get_field("primary_metric").help_text
        self.initial["slice_columns"] = ", ".join(self.instance.slice_columns or [])
        for name in ("max_flip_rate", "threshold_target", "max_regression", "min_margin_over_baseline"):
            self.fields[name].widget.attrs["step"] = "0.001"

    def clean_slice_columns(self) -> list[str]:
        return [c.strip() for c in self.cleaned_data["slice_columns"].split(",") if c.strip()]

    def clean_max_importance_share(self):
        value = self.cleaned_data["max_importance_share"]
        return self.instance.max_importance_share if value is None else value

    def clean(self):
        data = super().clean()
        for rule in PolicyRule:
            if data.get(rule.value) == "off" and getattr(self.instance, rule.value) and not data.get("switch_reason"):
                self.add_error("switch_reason", f"Say why the rule “{rule.label}” is switched off.")
        return data

    def changes(self) -> dict:
        found = {name: self.cleaned_data[name] for name in self.Meta.fields}
        # A rule left out of the form keeps its setting.
        for rule in PolicyRule:
            if self.cleaned_data.get(rule.value):
                found[rule.value] = self.cleaned_data[rule.value] == "on"
        found["switch_reason"] = self.cleaned_data.get("switch_reason", "")
        return found
