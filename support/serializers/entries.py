"""API v1 shapes for support lists."""

from django.utils import timezone
from rest_framework import serializers

from mlops.api import StrictSerializer, optional_text, optional_whole_number

from ..models import (
    BLACKLIST_REASONS,
    BOOST_REASONS,
    BulkUpload,
    EntryKind,
    EntryReason,
    ListEntry,
    PrivacyRequest,
    Surface,
)


class _ScopeIn(StrictSerializer):
    all_surfaces = serializers.BooleanField(
        required=False, default=False, help_text="Apply on every surface (then name none)."
    )
    surfaces = serializers.ListField(
        child=serializers.SlugField(max_length=64), required=False, default=list, help_text="Surface names to apply on."
    )


class BlacklistIn(_ScopeIn):
    entity_type = serializers.CharField(max_length=32)
    entity_id = serializers.CharField(max_length=200, trim_whitespace=True)
    # One choice set for every `reason` (the schema names it once); which fit a blacklist, a boost,
    # is checked by the services, with a message listing them.
    reason = serializers.ChoiceField(
        choices=EntryReason.choices,
        help_text=f"One of: {', '.join(r.value for r in BLACKLIST_REASONS[:-2])}, other. "
        "(A privacy request has its own endpoint.)",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Omit to blacklist until lifted."
    )


class BoostIn(_ScopeIn):
    entity_type = serializers.CharField(max_length=32)
    entity_id = serializers.CharField(max_length=200, trim_whitespace=True)
    weight = serializers.FloatField()
    expires_at = serializers.DateTimeField(help_text="Boosts are temporary (KEEL_SUPPORT_BOOST_MAX_DAYS at most).")
    reason = serializers.ChoiceField(
        choices=EntryReason.choices, help_text=f"One of: {', '.join(r.value for r in BOOST_REASONS)}."
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")


class LiftIn(StrictSerializer):
    reason = serializers.CharField(help_text="Why the entry ends early.")


class _CommaListField(serializers.ListField):
    """Multipart forms send lists as repeated fields or one comma-separated value."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = [part for part in data.split(",") if part.strip()]
        elif isinstance(data, list) and len(data) == 1 and isinstance(data[0], str) and "," in data[0]:
            data = [part for part in data[0].split(",") if part.strip()]
        return super().to_internal_value(data)


class BulkIn(StrictSerializer):
    file = serializers.FileField(
        allow_empty_file=True, help_text="CSV: one ID per line, or a header with entity_id and optionally entity_type."
    )
    kind = serializers.ChoiceField(choices=EntryKind.choices)
    entity_type = serializers.CharField(
        max_length=32, help_text="The type of the IDs (rows may say otherwise in an entity_type column)."
    )
    reason = serializers.ChoiceField(choices=EntryReason.choices, help_text="As for a blacklist or a boost.")
    note = serializers.CharField(required=False, allow_blank=True, default="")
    all_surfaces = serializers.BooleanField(required=False, default=False)
    surfaces = _CommaListField(child=serializers.SlugField(max_length=64), required=False, default=list)
    weight = serializers.FloatField(required=False, allow_null=True, default=None)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def to_internal_value(self, data):
        if hasattr(data, "getlist"):  # a QueryDict: keep repeated `surfaces` values
            plain = {key: data.get(key) for key in data}
            if "surfaces" in data:
                plain["surfaces"] = data.getlist("surfaces")
            data = plain
        return super().to_internal_value(data)


class BulkConfirmIn(StrictSerializer):
    confirm_count = optional_whole_number(min_value=0, help_text="The number of IDs a large blacklist applies, typed.")


class PrivacyRequestIn(StrictSerializer):
    entity_id = serializers.CharField(max_length=200, help_text="The customer's ID.")
    reference = optional_text(max_length=200, help_text="The ticket or case it came from.")
    note = serializers.CharField(required=False, allow_blank=True, default="")


# --- output -----------------------------------------------------------------------------------------------


class SurfaceOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", allow_null=True, default=None)

    class Meta:
        model = Surface
        fields = ["name", "description", "model"]


class EntryOut(serializers.ModelSerializer):
    surfaces = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username")
    lifted_by = serializers.CharField(source="lifted_by.username", allow_null=True, default=None)

    class Meta:
        model = ListEntry
        fields = [
            "id",
            "kind",
            "entity_type",
            "entity_id",
            "reason",
            "note",
            "all_surfaces",
            "surfaces",
            "weight",
            "expires_at",
            "state",
            "created_by",
            "created_at",
            "bulk",
            "lifted_by",
            "lifted_at",
            "lift_reason",
        ]

    def get_surfaces(self, entry) -> list[str]:
        return entry.scope_names or []

    def get_state(self, entry) -> str:
        return getattr(entry, "current_state", None) or entry.state_at(timezone.now())


class HistoryEventOut(serializers.Serializer):
    at = serializers.DateTimeField()
    action = serializers.CharField()
    actor = serializers.CharField(source="actor_name")
    reason = serializers.CharField()
    note = serializers.CharField()
    entry = serializers.IntegerField(source="entry.pk", allow_null=True, default=None)
    privacy_request = serializers.IntegerField(source="privacy_request.pk", allow_null=True, default=None)


class EntitySummaryOut(serializers.Serializer):
    entity_type = serializers.CharField()
    entity_id = serializers.CharField()
    active_blacklists = serializers.IntegerField()
    active_boosts = serializers.IntegerField()
    privacy_requested = serializers.BooleanField()
    last_change_at = serializers.DateTimeField(allow_null=True)


class BulkOut(serializers.ModelSerializer):
    state = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username")
    needs_count = serializers.SerializerMethodField(help_text="Confirming must send confirm_count.")
    already_applied = serializers.SerializerMethodField()

    class Meta:
        model = BulkUpload
        fields = [
            "id",
            "kind",
            "reason",
            "note",
            "all_surfaces",
            "surface_names",
            "weight",
            "expires_at",
            "default_entity_type",
            "filename",
            "sha256",
            "size_bytes",
            "state",
            "counts",
            "needs_count",
            "rows",
            "created_by",
            "created_at",
            "preview_expires_at",
            "applied_at",
            "applied_count",
            "already_applied",
        ]

    def get_state(self, bulk) -> str:
        return bulk.state_at(timezone.now())

    def get_needs_count(self, bulk) -> bool:
        from ..services import bulk_needs_count

        return bulk.applied_at is None and bulk_needs_count(bulk)

    def get_already_applied(self, bulk) -> bool:
        return bool(getattr(bulk, "already_applied", False))


class PrivacyRequestOut(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username")

    class Meta:
        model = PrivacyRequest
        fields = [
            "id",
            "entity_type",
            "entity_id",
            "reference",
            "note",
            "entry",
            "requested_by",
            "created_at",
            "erase_state",
            "erase_counts",
            "erased_at",
            "erase_attempts",
            "erase_error",
        ]
