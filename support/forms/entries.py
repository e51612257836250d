"""Forms of the support agents' pages. They check the shape of input; the rules (conflicts, rate
limit, what an ID looks like, how long a boost may last, which reason fits which kind) live in
support.services, whose refusals the views put back next to the field they concern."""

from django import forms
from django.conf import settings
from django.utils import timezone

from .. import services
from ..models import (
    BLACKLIST_REASONS,
    BOOST_REASONS,
    EntryKind,
    EntryReason,
    RowStatus,
    Surface,
)

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _entity_type_field(**kwargs) -> forms.ChoiceField:
    return forms.ChoiceField(label="Entity type", **kwargs)


def _expiry_field(*, required: bool, help_text: str) -> forms.DateTimeField:
    return forms.DateTimeField(
        required=required,
        help_text=help_text,
        label=f"Expires ({timezone.get_default_timezone_name()})",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
        error_messages={
            "required": "Give an expiry: boosts are temporary.",
            "invalid": "Give a date and time, e.g. 2026-12-01 09:00.",
        },
    )


def _reasons(allowed) -> list[tuple[str, str]]:
    return [(r.value, r.label) for r in allowed if r != EntryReason.PRIVACY]


def _reason_field(allowed, **kwargs) -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Reason",
        choices=_reasons(allowed),
        widget=forms.RadioSelect,
        error_messages={"required": "Pick a reason."},
        **kwargs,
    )


def _note_field(help_text: str = "Required when the reason is “Other”.") -> forms.CharField:
    return forms.CharField(
        required=False, label="In your words", help_text=help_text, widget=forms.Textarea(attrs={"rows": 2})
    )


class SearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=200,
        label="ID",
        widget=forms.TextInput(
            attrs={"placeholder": "A customer, product… ID or its beginning", "type": "search", "autocomplete": "off"}
        ),
    )
    entity_type = forms.ChoiceField(required=False, label="Type")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entity_type"].choices = [("", "Any type"), *((t, t) for t in settings.KEEL_SUPPORT_ENTITY_TYPES)]


def _surface_choices() -> list[tuple[str, str]]:
    return [
        (s.name, f"{s.name} — {s.description}" if s.description else s.name)
        for s in Surface.objects.order_by("name").only("name", "description")
    ]


class _ScopeForm(forms.Form):
    """Where an entry applies: every surface, or the ones ticked."""

    scope = forms.ChoiceField(
        label="Where",
        widget=forms.RadioSelect,
        initial="all",
        choices=[("all", "All surfaces"), ("chosen", "Only the surfaces ticked below")],
    )
    surfaces = forms.MultipleChoiceField(required=False, label="Surfaces", widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["surfaces"].choices = _surface_choices()
        if "entity_type" in self.fields:
            self.fields["entity_type"].choices = [(t, t) for t in settings.KEEL_SUPPORT_ENTITY_TYPES]

    def clean(self):
        data = super().clean()
        data["all_surfaces"] = data.get("scope") == "all"
        if data["all_surfaces"]:
            data["surfaces"] = []  # ticked boxes are not meant once "all surfaces" is picked
        elif data.get("scope") == "chosen" and not data.get("surfaces") and "surfaces" not in self.errors:
            self.add_error("surfaces", "Tick at least one surface, or choose all surfaces.")
        return data

    # The cleaned fields the form's service takes, under the same names.
    service_fields: tuple[str, ...] = ("all_surfaces", "surfaces")

    def service_kwargs(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.service_fields}


class _EntityForm(_ScopeForm):
    """An ID and where an entry about it applies."""

    entity_type = _entity_type_field()
    entity_id = forms.CharField(max_length=200, label="ID", error_messages={"required": "Say which ID."})

    service_fields = ("entity_type", "entity_id", *_ScopeForm.service_fields)


class BlacklistForm(_EntityForm):
    # The page's form id, sub-navigation tab and heading (templates/support/_entry_form_base.html).
    kind, heading = "blacklist", "Blacklist an ID"
    reason = _reason_field(BLACKLIST_REASONS)
    note = _note_field("Required when the reason is “Other”. Others read this in the history.")
    expires_at = _expiry_field(required=False, help_text="Leave empty to blacklist until someone lifts it.")

    service_fields = (*_EntityForm.service_fields, "reason", "note", "expires_at")


class BoostForm(_EntityForm):
    kind, heading = "boost", "Boost an ID"
    weight = forms.FloatField(
        label="Weight",
        initial=2.0,
        widget=forms.NumberInput(attrs={"step": "0.1"}),
        error_messages={"required": "Give the boost's weight."},
    )
    reason = _reason_field(BOOST_REASONS, initial=EntryReason.COLD_START)
    note = _note_field()
    expires_at = _expiry_field(required=True, help_text="Boosts always end; two weeks by default.")

    service_fields = (*_EntityForm.service_fields, "weight", "reason", "note", "expires_at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        low, high = settings.KEEL_SUPPORT_BOOST_MIN_WEIGHT, settings.KEEL_SUPPORT_BOOST_MAX_WEIGHT
        self.fields["weight"].help_text = f"Between {low:g} and {high:g}; higher lifts the ID further."
        self.fields[
            "expires_at"
        ].help_text = f"Boosts always end: two weeks by default, {settings.KEEL_SUPPORT_BOOST_MAX_DAYS} days at most."
        if not self.is_bound:
            self.initial.setdefault("expires_at", services.boost_default_expiry().replace(second=0, microsecond=0))


class LiftForm(forms.Form):
    reason = forms.CharField(
        label="Why lift it early?",
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Customer's appeal accepted"}),
        error_messages={"required": "Say why the entry is lifted early."},
    )

    def __init__(self, *args, entry_pk: int, **kwargs):
        kwargs.setdefault("auto_id", f"id_lift_{entry_pk}_%s")
        super().__init__(*args, **kwargs)
        self.entry_pk = entry_pk


class BulkUploadForm(_ScopeForm):
    file = forms.FileField(
        label="CSV of IDs",
        error_messages={"required": "Choose the CSV file to upload."},
        help_text="One ID per line, or a header row naming entity_id (and optionally entity_type) columns.",
    )
    kind = forms.ChoiceField(
        label="What to do",
        widget=forms.RadioSelect,
        initial=EntryKind.BLACKLIST,
        choices=[(EntryKind.BLACKLIST.value, "Blacklist every ID"), (EntryKind.BOOST.value, "Boost every ID")],
    )
    entity_type = _entity_type_field(help_text="The type of the IDs, unless the file has an entity_type column.")
    reason = forms.ChoiceField(
        label="Reason",
        error_messages={"required": "Pick a reason."},
        choices=[
            ("", "Pick a reason"),
            *_reasons([r for r in EntryReason if r != EntryReason.OTHER]),
            (EntryReason.OTHER.value, EntryReason.OTHER.label),
        ],
        help_text="Blacklists: inappropriate, fraud or legal. Boosts: cold-start or account manager request. "
        "Either: other.",
    )
    note = _note_field()
    weight = forms.FloatField(required=False, label="Weight (boosts)", widget=forms.NumberInput(attrs={"step": "0.1"}))
    expires_at = _expiry_field(required=False, help_text="Optional for a blacklist, required for a boost.")

    service_fields = ("kind", "file", "entity_type", "reason", "note", *_ScopeForm.service_fields, "expires_at")

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            **super().service_kwargs(),
            "filename": data["file"].name,
            "weight": data["weight"] if data["kind"] == EntryKind.BOOST else None,
        }


class BulkConfirmForm(forms.Form):
    confirm_count = forms.IntegerField(required=False, min_value=0, label="Type the number of IDs to confirm")

    def __init__(self, *args, needs_count: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.needs_count = needs_count
        if not needs_count:
            self.fields["confirm_count"].widget = forms.HiddenInput()


class BulkRowFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "All rows"), *RowStatus.choices])


class PrivacyRequestForm(forms.Form):
    entity_id = forms.CharField(max_length=200, label="Customer ID", error_messages={"required": "Say which customer."})
    reference = forms.CharField(
        required=False,
        max_length=200,
        label="Reference",
        help_text="The ticket or case the request came from, e.g. GDPR-2026-19.",
    )
    note = forms.CharField(required=False, label="Note", widget=forms.Textarea(attrs={"rows": 2}))
    confirm = forms.BooleanField(
        label="I have read what happens and the customer asked for it. This cannot be undone.",
        error_messages={"required": "Tick the box to confirm: a privacy request cannot be undone."},
    )

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {"entity_id": data["entity_id"], "reference": data["reference"], "note": data["note"]}
