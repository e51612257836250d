"""Support: what agents do about the complaints a model causes.

- Surface: a place recommendations are shown (home page, search, an email), optionally linked to the
  registered model behind it. Entry scopes are checked against these.
- ListEntry: one blacklist or boost of one ID (a customer, a product, any KEEL_SUPPORT_ENTITY_TYPES)
  on all surfaces or on named ones, with a reason, by whom and when, and an expiry (optional for a
  blacklist, mandatory for a boost). Nothing is deleted or edited: an entry ends by expiring or by
  being lifted (who, when, why), so an ID's entries are its history. Triggers refuse other changes.
- PrivacyRequest: a customer who wants out: a permanent blacklist everywhere, and the record that
  their logged data was erased (how many rows, never what).
- BulkUpload: a CSV of IDs, previewed row by row, then applied once, all or nothing.
- ListState: one row whose counter orders every change: the serving lists' cursor (see services).
"""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from mlops.modelkit import JobState, choice_constraint, failure_explained_constraint
from registry.models import RegisteredModel

ALL_SURFACES = "*"  # the scope_key of an entry that applies everywhere


class EntryKind(models.TextChoices):
    BLACKLIST = "blacklist", "Blacklist"
    BOOST = "boost", "Boost"


class EntryReason(models.TextChoices):
    INAPPROPRIATE = "inappropriate", "Inappropriate"
    FRAUD = "fraud", "Fraud"
    LEGAL = "legal", "Legal"
    PRIVACY = "privacy", "Privacy request"
    COLD_START = "cold_start", "Cold-start product"
    ACCOUNT_REQUEST = "account_request", "Account manager request"
    OTHER = "other", "Other"


BLACKLIST_REASONS = [
    EntryReason.INAPPROPRIATE,
    EntryReason.FRAUD,
    EntryReason.LEGAL,
    EntryReason.PRIVACY,
    EntryReason.OTHER,
]
BOOST_REASONS = [EntryReason.COLD_START, EntryReason.ACCOUNT_REQUEST, EntryReason.OTHER]


class EntryState(models.TextChoices):
    ACTIVE = "active", "Active"
    LIFTED = "lifted", "Lifted"
    EXPIRED = "expired", "Expired"


class Surface(models.Model):
    """Where a model's output reaches customers; what an entry's scope names."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    model = models.ForeignKey(
        RegisteredModel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="surfaces",
        help_text="The registered model behind this surface.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ListState(models.Model):
    """A single row (pk=1). Every change of the lists increments `seq` first, holding the row's lock
    until it commits, so changes commit in `seq` order and a cursor never skips a late commit."""

    seq = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="support_liststate_single_row")]

    def __str__(self) -> str:
        return f"lists at change {self.seq}"


class ListEntryQuerySet(models.QuerySet):
    def active(self, now=None):
        now = now or timezone.now()
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), lifted_at__isnull=True)

    def ended(self, now=None):
        now = now or timezone.now()
        return self.filter(Q(lifted_at__isnull=False) | Q(expires_at__lte=now))

    def for_surface(self, surface: "Surface"):
        """Entries that apply on a surface: those for all surfaces and those naming it (no duplicates:
        an entry for all surfaces names none, and names each surface at most once)."""
        return self.filter(Q(all_surfaces=True) | Q(surface_links__surface=surface))

    def of_entity(self, entity_type: str, entity_id: str):
        return self.filter(entity_type=entity_type, entity_id=entity_id)


class ListEntry(models.Model):
    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    entity_type = models.CharField(max_length=32, help_text="One of KEEL_SUPPORT_ENTITY_TYPES.")
    entity_id = models.CharField(max_length=200)
    reason = models.CharField(max_length=20, choices=EntryReason.choices)
    note = models.TextField(blank=True, help_text="Why, in the agent's words (required for 'other').")
    all_surfaces = models.BooleanField(default=False)
    surfaces = models.ManyToManyField(Surface, through="EntrySurface", related_name="entries", blank=True)
    # The scope as one comparable value: "*" for all surfaces, else the sorted surface names joined by
    # commas. Denormalised from `surfaces` so the database can refuse a duplicate open entry.
    scope_key = models.CharField(max_length=1000)
    weight = models.FloatField(null=True, blank=True, help_text="Boosts only.")
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_seq = models.BigIntegerField(validators=[MinValueValidator(1)], db_index=True)
    bulk = models.ForeignKey("BulkUpload", on_delete=models.PROTECT, null=True, blank=True, related_name="entries")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lift_reason = models.TextField(blank=True)
    lifted_seq = models.BigIntegerField(null=True, blank=True, db_index=True)

    objects = ListEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "list entries"
        permissions = [
            ("manage_lists", "Can blacklist, boost and lift IDs, upload bulk lists and file privacy requests"),
            ("read_lists", "Can read the serving lists and surfaces (serving systems poll the lists)"),
            (
                "read_list_records",
                "Can read list entries with their notes, an ID's history, bulk uploads and privacy requests",
            ),
        ]
        indexes = [
            models.Index(fields=["entity_type", "entity_id"], name="support_entry_entity"),
            models.Index(fields=["expires_at"], name="support_entry_expires"),
        ]
        constraints = [
            choice_constraint("kind", EntryKind, "support_entry_kind_valid"),
            models.CheckConstraint(
                condition=Q(kind=EntryKind.BLACKLIST, reason__in=BLACKLIST_REASONS)
                | Q(kind=EntryKind.BOOST, reason__in=BOOST_REASONS),
                name="support_entry_reason_fits_kind",
            ),
            models.CheckConstraint(
                condition=~Q(reason=EntryReason.OTHER) | ~Q(note=""), name="support_entry_other_reason_explained"
            ),
            models.CheckConstraint(condition=~Q(entity_type="") & ~Q(entity_id=""), name="support_entry_has_id"),
            # A boost has a positive weight and always ends; a blacklist has no weight.
            models.CheckConstraint(
                condition=Q(kind=EntryKind.BOOST, weight__gt=0, expires_at__isnull=False)
                | Q(kind=EntryKind.BLACKLIST, weight__isnull=True),
                name="support_entry_boost_weighted_and_temporary",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=F("created_at")),
                name="support_entry_expires_after_creation",
            ),
            models.CheckConstraint(
                condition=(Q(all_surfaces=True) & Q(scope_key=ALL_SURFACES))
                | (Q(all_surfaces=False) & ~Q(scope_key=ALL_SURFACES) & ~Q(scope_key="")),
                name="support_entry_scope_key_matches",
            ),
            # Lifted means: when, by whom, why and at which change, all four or none.
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True, lifted_by__isnull=True, lift_reason="", lifted_seq__isnull=True)
                | (Q(lifted_at__isnull=False, lifted_by__isnull=False, lifted_seq__isnull=False) & ~Q(lift_reason="")),
                name="support_entry_lift_complete",
            ),
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True) | Q(lifted_at__gte=F("created_at")),
                name="support_entry_lifted_after_creation",
            ),
            models.CheckConstraint(
                condition=Q(lifted_seq__isnull=True) | Q(lifted_seq__gt=F("created_seq")),
                name="support_entry_lifted_by_a_later_change",
            ),
            # A privacy request blacklists the customer everywhere, for good.
            models.CheckConstraint(
                condition=~Q(reason=EntryReason.PRIVACY) | Q(all_surfaces=True, expires_at__isnull=True),
                name="support_entry_privacy_everywhere_forever",
            ),
            # At most one open-ended entry of a kind per ID and scope (time-limited ones are checked by
            # the services under the change lock), and one open privacy blacklist per ID.
            models.UniqueConstraint(
                fields=["entity_type", "entity_id", "kind", "scope_key"],
                condition=Q(lifted_at__isnull=True, expires_at__isnull=True) & ~Q(reason=EntryReason.PRIVACY),
                name="support_entry_one_open_per_scope",
            ),
            models.UniqueConstraint(
                fields=["entity_type", "entity_id"],
                condition=Q(lifted_at__isnull=True, reason=EntryReason.PRIVACY),
                name="support_entry_one_privacy_blacklist",
            ),
            # A bulk upload applies each ID once, however often it is confirmed.
            models.UniqueConstraint(
                fields=["bulk", "entity_type", "entity_id"],
                condition=Q(bulk__isnull=False),
                name="support_entry_once_per_bulk",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.entity_type}:{self.entity_id} ({self.scope_label})"

    @property
    def scope_names(self) -> list[str] | None:
        """The surface names this entry applies to; None for all surfaces."""
        return None if self.all_surfaces else self.scope_key.split(",")

    @property
    def scope_label(self) -> str:
        return "all surfaces" if self.all_surfaces else ", ".join(self.scope_key.split(","))

    def state_at(self, now=None) -> str:
        now = now or timezone.now()
        if self.lifted_at is not None:
            return EntryState.LIFTED
        if self.expires_at is not None and self.expires_at <= now:
            return EntryState.EXPIRED
        return EntryState.ACTIVE

    def is_active(self, now=None) -> bool:
        return self.state_at(now) == EntryState.ACTIVE

    def ended_at(self, now=None):
        """When this entry stopped applying (lifted or expired), or None while it is active."""
        state = self.state_at(now)
        if state == EntryState.LIFTED:
            return self.lifted_at
        return self.expires_at if state == EntryState.EXPIRED else None


class EntrySurface(models.Model):
    """A surface an entry names (written with the entry, never changed)."""

    entry = models.ForeignKey(ListEntry, on_delete=models.PROTECT, related_name="surface_links")
    surface = models.ForeignKey(Surface, on_delete=models.PROTECT, related_name="entry_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entry", "surface"], name="support_entrysurface_once")]
        indexes = [models.Index(fields=["surface", "entry"], name="support_entrysurface_surface")]

    def __str__(self) -> str:
        return f"#{self.entry_id} on {self.surface_id}"


class EraseState(models.TextChoices):
    PENDING = "pending", "Erasure pending"
    DONE = "done", "Data erased"
    FAILED = "failed", "Erasure failed"


class PrivacyRequest(models.Model):
    """A customer asked to be forgotten. What was erased is not kept, only that it was and how much."""

    entity_type = models.CharField(max_length=32)
    entity_id = models.CharField(max_length=200)
    reference = models.CharField(max_length=200, blank=True, help_text="The ticket or case it came from.")
    note = models.TextField(blank=True)
    entry = models.ForeignKey(
        ListEntry,
        on_delete=models.PROTECT,
        related_name="privacy_requests",
        help_text="The blacklist that keeps the customer out everywhere.",
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    erase_state = models.CharField(max_length=10, choices=EraseState.choices, default=EraseState.PENDING)
    erase_counts = models.JSONField(
        null=True, blank=True, help_text="How many rows each store anonymised; never the data."
    )
    erased_at = models.DateTimeField(null=True, blank=True)
    erase_attempts = models.PositiveIntegerField(default=0)
    erase_error = models.TextField(
        blank=True, help_text="Why the last attempt failed (pending), or why the erasure gave up (failed)."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            choice_constraint("erase_state", EraseState, "support_privacy_state_valid"),
            models.CheckConstraint(
                condition=Q(erase_state=EraseState.PENDING, erased_at__isnull=True)
                | Q(erase_state=EraseState.DONE, erased_at__isnull=False, erase_counts__isnull=False)
                | (Q(erase_state=EraseState.FAILED, erased_at__isnull=True) & ~Q(erase_error="")),
                name="support_privacy_done_is_recorded",
            ),
            models.CheckConstraint(condition=~Q(entity_id=""), name="support_privacy_has_id"),
        ]
        indexes = [models.Index(fields=["entity_type", "entity_id"], name="support_privacy_entity")]

    def __str__(self) -> str:
        return f"Privacy request #{self.pk} for {self.entity_type}:{self.entity_id}"


class RowStatus(models.TextChoices):
    NEW = "new", "New"
    DUPLICATE = "duplicate", "Duplicate in the file"
    INVALID = "invalid", "Invalid"
    ALREADY_ACTIVE = "already_active", "Already active"


class BulkUpload(models.Model):
    """A previewed CSV of IDs and what to do with them. Confirming applies exactly its `new` rows, once."""

    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    reason = models.CharField(max_length=20, choices=EntryReason.choices)
    note = models.TextField(blank=True)
    all_surfaces = models.BooleanField(default=False)
    surface_names = models.JSONField(default=list, blank=True)
    weight = models.FloatField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    default_entity_type = models.CharField(max_length=32, help_text="For rows that do not name their type.")
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveIntegerField()
    # [{"line", "entity_type", "entity_id", "status", "message", "existing_entry"}], in file order.
    rows = models.JSONField(default=list)
    counts = models.JSONField(default=dict, help_text="Rows per status.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    preview_expires_at = models.DateTimeField()
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    applied_count = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            choice_constraint("kind", EntryKind, "support_bulk_kind_valid"),
            models.CheckConstraint(
                condition=Q(applied_at__isnull=True, applied_by__isnull=True, applied_count__isnull=True)
                | Q(applied_at__isnull=False, applied_by__isnull=False, applied_count__isnull=False),
                name="support_bulk_applied_complete",
            ),
            # Only the agent who saw the preview may confirm it.
            models.CheckConstraint(
                condition=Q(applied_by__isnull=True) | Q(applied_by=F("created_by")),
                name="support_bulk_confirmed_by_uploader",
            ),
            models.CheckConstraint(
                condition=Q(preview_expires_at__gt=F("created_at")), name="support_bulk_preview_expires_later"
            ),
        ]

    def __str__(self) -> str:
        return f"Bulk {self.kind} #{self.pk} ({self.filename or 'upload'})"

    @property
    def new_count(self) -> int:
        return int(self.counts.get(RowStatus.NEW, 0))

    @property
    def invalid_count(self) -> int:
        return int(self.counts.get(RowStatus.INVALID, 0))

    def state_at(self, now=None) -> str:
        if self.applied_at is not None:
            return "applied"
        return "expired" if (now or timezone.now()) >= self.preview_expires_at else "previewed"

    @property
    def scope_label(self) -> str:
        return "all surfaces" if self.all_surfaces else ", ".join(self.surface_names)


# =====================================================================================================
# Explanations ("Explain a decision", support:explain), whose services live in
# support.services.explanations. Unlike the lists above, these rows are a cache: they may be deleted
# (a new background for the version, a privacy erasure) and are recomputed on demand.


class ExplainerBackground(models.Model):
    """The background sample stored with a version: the rows the model-agnostic explainer masks with
    (and the tree explainer's interventional baseline, so contributions are in probability). Built
    from the version's training reference file, or uploaded by a pipeline."""

    version = models.OneToOneField(
        "registry.ModelVersion", on_delete=models.CASCADE, related_name="explainer_background"
    )
    records = models.JSONField(help_text="JSON records of the version's features, in schema order.")
    rows = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, help_text="Of the canonical records: part of the explainer's cache key.")
    source = models.CharField(max_length=500, help_text="Where the rows came from, for the people reading a plot.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who uploaded it; empty when Keel sampled it.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(rows__gte=1), name="support_background_has_rows"),
        ]

    def __str__(self) -> str:
        return f"Explainer background of {self.version} ({self.rows} rows)"


ExplanationState = JobState


class Explanation(models.Model):
    """One prediction of a version explained: the cache row for (version, input). `result` is what
    support.shap_engine.explain returns (score, decision, base value, contributions, reasons)."""

    version = models.ForeignKey("registry.ModelVersion", on_delete=models.CASCADE, related_name="explanations")
    input_key = models.CharField(max_length=64, help_text="sha256 of the canonical input (support.explain.input_key).")
    input = models.JSONField(help_text="The features explained, as the model reads them.")
    entity_id = models.CharField(max_length=200, blank=True, help_text="Whose logged prediction; empty when typed.")
    prediction = models.ForeignKey(
        "audits.PredictionLog",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The logged prediction whose features these are.",
    )
    state = models.CharField(max_length=10, choices=ExplanationState.choices, default=ExplanationState.QUEUED)
    stage = models.CharField(max_length=100, blank=True)
    progress = models.FloatField(null=True, blank=True, help_text="Share done, 0 to 1, while it runs.")
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why it could not be explained.")
    attempts = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("explain_decisions", "Can explain a model's decisions (reads logged features of customers)"),
        ]
        indexes = [models.Index(fields=["entity_id"], name="support_explanation_entity")]
        constraints = [
            # The cache: one explanation per version and input, however it was asked for.
            models.UniqueConstraint(fields=["version", "input_key"], name="support_explanation_once_per_input"),
            choice_constraint("state", ExplanationState, "support_explanation_state_valid"),
            failure_explained_constraint("support_explanation_failure_explained"),
            models.CheckConstraint(
                condition=~Q(state=ExplanationState.SUCCEEDED) | Q(result__isnull=False, finished_at__isnull=False),
                name="support_explanation_success_has_result",
            ),
            models.CheckConstraint(
                condition=Q(progress__isnull=True) | Q(progress__gte=0, progress__lte=1),
                name="support_explanation_progress_is_a_share",
            ),
        ]

    def __str__(self) -> str:
        who = self.entity_id or "typed features"
        return f"Explanation #{self.pk} of {self.version} for {who} ({self.state})"

    @property
    def in_progress(self) -> bool:
        return self.state in (ExplanationState.QUEUED, ExplanationState.RUNNING)
