"""The "Explain a decision" form: a customer ID, or one input per feature of the production
version's schema. It checks the shape only; support.services.explanations checks the values, and its refusals
come back on the field they name (`entity_id`, `features.<name>`), which are this form's field names."""

from django import forms

FEATURE_PREFIX = "features."


class ChooseModelForm(forms.Form):
    model = forms.ChoiceField(label="Model")

    def __init__(self, *args, models, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [
            (model.name, f"{model.name} (production v{version.version})") for model, version in models
        ]


class ExplainForm(forms.Form):
    model = forms.CharField(widget=forms.HiddenInput, max_length=200)
    entity_id = forms.CharField(
        required=False,
        max_length=200,
        label="Customer ID",
        help_text="Keel explains the latest prediction logged for them.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "e.g. C000123", "spellcheck": "false"}),
    )

    def __init__(self, *args, feature_inputs: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.feature_inputs = feature_inputs
        for item in feature_inputs:
            label = item["name"]
            if item["choices"]:
                field = forms.ChoiceField(
                    required=False, label=label, choices=[("", "—"), *((value, value) for value in item["choices"])]
                )
            elif item["type"] in ("float", "int"):
                field = forms.CharField(
                    required=False,
                    label=label,
                    help_text="A whole number." if item["type"] == "int" else "A number.",
                    widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
                )
            else:
                attrs = {"autocomplete": "off"}
                if item["suggestions"]:
                    attrs["list"] = f"values-{item['name']}"
                field = forms.CharField(
                    required=False,
                    label=label,
                    widget=forms.TextInput(attrs=attrs),
                    help_text={"bool": "true or false.", "datetime": "A date, e.g. 2026-11-20."}.get(item["type"], ""),
                )
            field.feature = item
            self.fields[FEATURE_PREFIX + item["name"]] = field

    def feature_fields(self):
        return [self[FEATURE_PREFIX + item["name"]] for item in self.feature_inputs]

    def clean(self):
        cleaned = super().clean()
        entity_id = (cleaned.get("entity_id") or "").strip()
        typed = {item["name"]: cleaned.get(FEATURE_PREFIX + item["name"]) for item in self.feature_inputs}
        typed_any = any(value not in (None, "") for value in typed.values())
        if entity_id and typed_any:
            raise forms.ValidationError("Give a customer ID or type the features, not both.")
        if not entity_id and not typed_any:
            self.add_error("entity_id", "Give a customer ID, or type the features below.")
        cleaned["entity_id"] = entity_id
        # Every feature goes to the service, blanks included: it names the ones still missing.
        cleaned["features"] = (
            {name: (value if value not in (None, "") else None) for name, value in typed.items()} if typed_any else None
        )
        return cleaned
