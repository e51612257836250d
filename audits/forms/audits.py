"""Forms of the audit pages. They check the shape of input; the rules (which version has a
reference, what a valid suite is, how big a file may be) live in services, whose refusals
`show_service_error` puts back next to the field they concern."""

import json

from django import forms

from registry.models import ModelVersion, RegisteredModel

from ..models import DataFormat, ScheduleSource

__all__ = [
    "AlertResolveForm",
    "AuditFilterForm",
    "AuditStartForm",
    "ColumnRulesForm",
    "ScheduleDeleteForm",
    "ScheduleEditForm",
    "ScheduleForm",
    "ServingAuditForm",
    "SuiteJsonForm",
]


class AuditFilterForm(forms.Form):
    model = forms.ChoiceField(required=False, label="Model")
    alerts = forms.ChoiceField(
        required=False,
        label="Alerts",
        choices=[("open", "Open"), ("resolved", "Resolved"), ("all", "All")],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = RegisteredModel.objects.order_by("name").values_list("name", flat=True)
        self.fields["model"].choices = [("", "All models"), *((n, n) for n in names)]


class AlertResolveForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        label="Why is it resolved?",
        help_text="Without a passing audit of its feed: say what changed (the feed was retired, the rule was wrong).",
        error_messages={"required": "Say why the alert is resolved without a passing audit."},
    )


class AuditStartForm(forms.Form):
    model = forms.ModelChoiceField(
        queryset=RegisteredModel.objects.order_by("name"),
        to_field_name="name",
        empty_label="Pick a model",
        label="Model",
        error_messages={"invalid_choice": "There is no such model.", "required": "Pick the model whose data this is."},
    )
    file = forms.FileField(
        required=False, label="Data file", help_text="CSV, Parquet or JSON lines, as the model receives it."
    )
    storage_path = forms.CharField(
        required=False,
        max_length=500,
        label="…or a path in Keel's data storage",
        help_text="Read in place under the data root, for files too big to upload.",
    )
    format = forms.ChoiceField(
        required=False, label="Format", choices=[("", "Tell from the file name"), *DataFormat.choices]
    )
    version = forms.IntegerField(
        required=False,
        min_value=1,
        label="Against version",
        help_text="Whose training data to compare with; empty for what production serves.",
    )
    name = forms.CharField(
        required=False,
        max_length=200,
        label="Batch name",
        help_text="Defaults to the file name, e.g. “signups week 32”.",
    )

    def clean(self):
        data = super().clean()
        if bool(data.get("file")) == bool(data.get("storage_path", "").strip()):
            self.add_error("file", "Upload a file or give a storage path (one of the two).")
        model, number = data.get("model"), data.get("version")
        data["model_version"] = None
        if model is not None and number is not None:
            data["model_version"] = ModelVersion.objects.filter(model=model, version=number).first()
            if data["model_version"] is None:
                self.add_error("version", f"{model.name} has no v{number}.")
        return data

    def batch_name(self) -> str:
        data = self.cleaned_data
        return data["name"].strip() or (data["file"].name if data["file"] else data["storage_path"].strip())


class SuiteJsonForm(forms.Form):
    """The whole suite as JSON, for what the per-column table does not cover."""

    suite = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "false", "class": "code"}), label="Suite (JSON)"
    )

    def clean_suite(self) -> dict:
        text = self.cleaned_data["suite"]
        try:
            suite = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"This is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from exc
        if not isinstance(suite, dict):
            raise forms.ValidationError("The suite must be a JSON object ({…}).")
        return suite


def _share(label: str, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        required=False,
        min_value=0,
        max_value=100,
        decimal_places=4,
        label=label,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "0.1"}),
    )


def _threshold(label: str) -> forms.FloatField:
    return forms.FloatField(required=False, min_value=0, label=label, widget=forms.NumberInput(attrs={"step": "0.01"}))


class ColumnRulesForm(forms.Form):
    """The common rules of one column. Shares are typed as percentages (what people say) and
    stored as 0–1 shares (what the engine compares); the kind decides which fields show."""

    FIELDS_BY_KIND = {
        "numeric": ["min_value", "max_value", "drift_psi_warn", "drift_psi_fail", "drift_wasserstein_warn"],
        "categorical": [
            "allowed_values",
            "allow_new_categories",
            "max_share_change",
            "drift_psi_warn",
            "drift_psi_fail",
            "drift_js_warn",
            "drift_js_fail",
        ],
        "timestamp": ["expected_format", "date_min", "date_max"],
    }
    PERCENT_FIELDS = ("max_null_share", "max_null_increase", "max_share_change")

    column = forms.CharField(widget=forms.HiddenInput)
    max_null_share = _share("Fail above this % of nulls")
    max_null_increase = _share("Warn when nulls rise by (points)")
    min_value = forms.FloatField(required=False, label="Smallest valid value")
    max_value = forms.FloatField(required=False, label="Largest valid value")
    allowed_values = forms.CharField(
        required=False, label="Allowed values", help_text="One per line.", widget=forms.Textarea(attrs={"rows": 4})
    )
    allow_new_categories = forms.BooleanField(required=False, label="Only report new values (do not fail)")
    max_share_change = _share("Warn when a value's share moves by (points)")
    expected_format = forms.CharField(
        required=False, max_length=50, label="Expected format", help_text="strptime, e.g. %Y-%m-%d"
    )
    date_min = forms.CharField(required=False, max_length=40, label="Not before (ISO date)")
    date_max = forms.CharField(required=False, max_length=40, label="Not after (ISO date)")
    drift_psi_warn = _threshold("PSI warns at")
    drift_psi_fail = _threshold("PSI fails at")
    drift_js_warn = _threshold("Jensen–Shannon warns at")
    drift_js_fail = _threshold("Jensen–Shannon fails at")
    drift_wasserstein_warn = _threshold("Wasserstein warns at (share of spread)")

    def __init__(self, *args, column: str, kind: str, rules: dict | None = None, **kwargs):
        kwargs.setdefault("initial", {"column": column, **(self.initial_from(rules) if rules else {})})
        # One form per column on the page: distinct ids, the same field names.
        kwargs.setdefault("auto_id", f"id_{column}_%s")
        super().__init__(*args, **kwargs)
        self.kind = kind
        shown = {"column", "max_null_share", "max_null_increase", *self.FIELDS_BY_KIND.get(kind, [])}
        for name in list(self.fields):
            if name not in shown:
                del self.fields[name]
        self.visible = [self[name] for name in self.fields if name != "column"]

    @classmethod
    def initial_from(cls, rules: dict) -> dict:
        initial = {key: value for key, value in rules.items() if key != "allowed_values"}
        for name in cls.PERCENT_FIELDS:
            if rules.get(name) is not None:
                initial[name] = round(100 * rules[name], 4)
        if rules.get("allowed_values") is not None:
            initial["allowed_values"] = "\n".join(rules["allowed_values"])
        return initial

    def rules(self, current: dict) -> dict:
        """The column's rules with this form's fields applied; the rest (overrides…) kept."""
        data = self.cleaned_data
        rules = dict(current)
        for name in self.fields:
            if name == "column":
                continue
            value = data.get(name)
            if name in self.PERCENT_FIELDS:
                value = None if value is None else float(value) / 100
            elif name == "allowed_values":
                lines = [line.strip() for line in (value or "").splitlines() if line.strip()]
                value = lines or None  # empty: the reference's categories
            elif name in ("expected_format", "date_min", "date_max"):
                value = (value or "").strip() or None
            elif name.startswith("drift_") and value is None:
                continue  # an emptied threshold keeps its value rather than failing validation
            rules[name] = value
        return rules


class ScheduleForm(forms.Form):
    name = forms.SlugField(max_length=100, label="Name", help_text="e.g. daily-signups")
    source = forms.ChoiceField(choices=ScheduleSource.choices, label="What to audit")
    cron = forms.CharField(
        max_length=100,
        label="When (cron, UTC)",
        initial="0 6 * * *",
        help_text="minute hour day-of-month month day-of-week; “0 6 * * *” is 06:00 daily.",
    )
    storage_path = forms.CharField(
        required=False,
        max_length=500,
        label="File path under the data root",
        help_text="strftime fields allowed: incoming/signups-%Y-%m-%d.csv",
    )
    format = forms.ChoiceField(required=False, choices=[("", "Tell from the file name"), *DataFormat.choices])
    window_hours = forms.IntegerField(min_value=1, max_value=24 * 31, initial=24, label="Serving-log window (hours)")


class ScheduleEditForm(ScheduleForm):
    """The creation form without the name (a schedule's address), with the reason the history keeps."""

    name = None
    reason = forms.CharField(
        max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label="Why", help_text="Kept in the history."
    )

    @classmethod
    def for_schedule(cls, schedule, data=None):
        fields = ("source", "cron", "storage_path", "format", "window_hours")
        return cls(data, initial={field: getattr(schedule, field) for field in fields})


class ScheduleDeleteForm(forms.Form):
    reason = forms.CharField(
        max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label="Why", help_text="Kept in the history."
    )
    confirm = forms.BooleanField(label="Yes: stop this schedule for good (its history stays)")


class ServingAuditForm(forms.Form):
    hours = forms.IntegerField(
        min_value=1, max_value=24 * 31, initial=24, label="Audit the serving log of the last", help_text="hours"
    )
