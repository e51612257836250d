"""Forms of the relabelling leads' pages: a decision on a disputed item, gold items to add."""

from django import forms

__all__ = ["AdjudicateForm", "GoldForm"]


class AdjudicateForm(forms.Form):
    item = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    label = forms.CharField(max_length=100)
    note = forms.CharField(max_length=2000, required=False, widget=forms.TextInput(attrs={"placeholder": "Why"}))


class GoldForm(forms.Form):
    lines = forms.CharField(
        label="Gold items",
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "1042, churn\n1077, stay"}),
        help_text="One a line: a logged prediction's id, a comma, and its known label.",
    )

    def clean_lines(self) -> list[tuple[int, str]]:
        parsed, errors = [], []
        for number, line in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            if not line.strip():
                continue
            pk, comma, label = line.partition(",")
            if not comma or not pk.strip().isdigit() or not label.strip():
                errors.append(f"Line {number}: write a prediction id, a comma and a label ({line.strip()[:60]!r}).")
                continue
            parsed.append((int(pk.strip()), label.strip()))
        if errors:
            raise forms.ValidationError(errors)
        if not parsed:
            raise forms.ValidationError("Give at least one line.")
        return parsed
