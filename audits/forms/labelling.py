"""The labeller's answer to a card: which item, which of the campaign's labels, an optional note, and
when the card was shown (so the time spent is known without JavaScript)."""

from django import forms

__all__ = ["LabelAnswerForm"]

MAX_NOTE = 2000


class LabelAnswerForm(forms.Form):
    item = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    label = forms.ChoiceField(
        error_messages={
            "required": "Choose a label (or unsure).",
            "invalid_choice": ("%(value)s is not a label of this campaign."),
        }
    )
    note = forms.CharField(required=False, max_length=MAX_NOTE, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    shown_at = forms.FloatField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, label_set: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].choices = [(label, label) for label in label_set]
