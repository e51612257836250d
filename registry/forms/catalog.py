"""Page forms. They only validate input; reads and writes stay in selectors and services."""

from django import forms

from ..models import ModelVersion, RegisteredModel

__all__ = [
    "CompareForm",
    "PicklePolicyForm",
]


class CompareForm(forms.Form):
    """Picks two versions of one model to diff. Bound to the query string, so a diff is a link."""

    left = forms.TypedChoiceField(coerce=int, label="Compare version")
    right = forms.TypedChoiceField(coerce=int, label="with version")
    changes = forms.BooleanField(required=False, label="Show only differences")

    def __init__(self, *args, model: RegisteredModel, **kwargs):
        super().__init__(*args, **kwargs)
        self.model = model
        numbers = list(model.versions.order_by("-version").values_list("version", flat=True))
        choices = [(n, f"v{n}") for n in numbers]
        # Messages stand on their own: the page lists them above the table, away from the fields.
        for name, which in (("left", "first"), ("right", "second")):
            field = self.fields[name]
            field.choices = choices
            field.error_messages["invalid_choice"] = f"'%(value)s' is not a version of {model.name}."
            field.error_messages["required"] = f"Pick the {which} version to compare."
        # Preselect the usual question, "what changed in the newest version?", when unbound.
        if len(numbers) >= 2:
            self.initial.setdefault("left", numbers[1])
            self.initial.setdefault("right", numbers[0])

    def clean(self):
        data = super().clean()
        left, right = data.get("left"), data.get("right")
        if left is not None and right is not None:
            if left == right:
                raise forms.ValidationError("Pick two different versions to compare.")
            by_number = {
                v.version: v
                for v in ModelVersion.objects.filter(model=self.model, version__in=[left, right]).select_related("run")
            }
            data["left_version"], data["right_version"] = by_number[left], by_number[right]
        return data


class PicklePolicyForm(forms.Form):
    """A reviewer's decision on pickle artifacts for one model: the state asked for, and why."""

    allowed = forms.BooleanField(required=False, widget=forms.HiddenInput)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        label="Why?",
        error_messages={"required": "Say why, for the record."},
    )
