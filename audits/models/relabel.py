"""Human relabelling: a campaign samples logged predictions into a queue of items; labellers take
items one at a time (an assignment that expires) and answer them blind; answers are append-only."""

import json

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from mlops.modelkit import choice_constraint
from registry.models import ModelVersion, RegisteredModel

from .audits import PredictionLog

__all__ = [
    "UNSURE",
    "CampaignState",
    "RelabelAdjudication",
    "RelabelAnswer",
    "RelabelAssignment",
    "RelabelCampaign",
    "RelabelEstimate",
    "RelabelItem",
    "RelabelProgress",
    "WithdrawReason",
    "describe_filters",
]

# The answer of a labeller who cannot tell; always part of a campaign's label set.
UNSURE = "unsure"


class CampaignState(models.TextChoices):
    DRAFT = "draft", "Draft (not drawn)"
    DRAWING = "drawing", "Drawing the sample"
    OPEN = "open", "Open for labelling"
    CLOSED = "closed", "Closed"
    FAILED = "failed", "Failed"


class RelabelCampaign(models.Model):
    """A sample of a model's logged predictions for people to label again: which rows (versions,
    window, the sampling design and its seed), the labels people may give, how many items get
    several labellers (overlap), and once drawn the population the sample came from."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="relabel_campaigns")
    versions = models.ManyToManyField(
        ModelVersion, blank=True, related_name="+", help_text="The versions whose predictions are sampled; none: all."
    )
    name = models.CharField(max_length=200)
    window_start = models.DateTimeField(null=True, blank=True, help_text="Predictions made at or after this moment.")
    window_end = models.DateTimeField(null=True, blank=True, help_text="Predictions made before this moment.")
    surfaces = models.JSONField(default=list, blank=True, help_text="Surfaces sampled; none: all.")
    segment = models.JSONField(
        default=dict, blank=True, help_text="Feature column -> allowed values (AND across columns); none: all."
    )
    label_set = models.JSONField(default=list, help_text='The labels a labeller may give, "unsure" included.')
    overlap_share = models.FloatField(default=0.0, help_text="The share of items that get several labellers.")
    overlap_labels = models.PositiveSmallIntegerField(default=2, help_text="Labellers per overlapped item (k ≥ 2).")
    design = models.JSONField(help_text="The sampling design (audits.engine.relabel.design_to_dict).")
    seed = models.BigIntegerField(help_text="The draw's seed: the same seed draws the same items.")
    state = models.CharField(max_length=10, choices=CampaignState.choices, default=CampaignState.DRAFT)
    error = models.TextField(blank=True, help_text="Why the draw failed.")
    population = models.BigIntegerField(null=True, blank=True, help_text="Predictions the sample was drawn from.")
    stratum_population = models.JSONField(default=dict, blank=True)
    items_total = models.PositiveIntegerField(default=0)
    labels_required = models.PositiveIntegerField(default=0, help_text="Answers needed to finish every item.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    drawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("view_relabel_campaigns", "Can read relabelling campaigns and their progress"),
            ("create_relabel_campaigns", "Can create relabelling campaigns"),
            ("label_items", "Can take items of a relabelling campaign and answer them"),
            ("lead_relabelling", "Can lead relabelling: read every campaign and answer"),
        ]
        constraints = [
            choice_constraint("state", CampaignState, "audits_relabel_campaign_state_valid"),
            models.CheckConstraint(
                condition=~Q(state=CampaignState.FAILED) | ~Q(error=""), name="audits_relabel_failed_says_why"
            ),
            models.CheckConstraint(
                condition=Q(overlap_share__gte=0) & Q(overlap_share__lte=1), name="audits_relabel_overlap_share"
            ),
            models.CheckConstraint(condition=Q(overlap_labels__gte=2), name="audits_relabel_overlap_labels"),
            models.CheckConstraint(
                condition=Q(window_start__isnull=True)
                | Q(window_end__isnull=True)
                | Q(window_start__lt=models.F("window_end")),
                name="audits_relabel_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model.name}: {self.name} ({self.state})"

    @property
    def filters(self) -> str:
        return describe_filters(self.surfaces, self.segment)


def _shown(value) -> str:
    """A segment value as written in the filter: text bare, numbers and true/false as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def describe_filters(surfaces, segment) -> str:
    """A campaign's filters in words: "segment: country ∈ {DE, FR}; surface: app" ("" when none)."""
    parts = []
    if segment:
        columns = ", ".join(f"{column} ∈ {{{', '.join(map(_shown, values))}}}" for column, values in segment.items())
        parts.append(f"segment: {columns}")
    if surfaces:
        parts.append(f"surface{'s' if len(surfaces) > 1 else ''}: {', '.join(surfaces)}")
    return "; ".join(parts)


class WithdrawReason(models.TextChoices):
    PRIVACY = "privacy", "The person asked to be erased"


class RelabelItem(models.Model):
    """One sampled prediction in a campaign's queue, with the probability the design gave it of being
    drawn (what estimates weight by). An item whose person is erased later is withdrawn: it leaves
    the queue and its answers count no more."""

    campaign = models.ForeignKey(RelabelCampaign, on_delete=models.CASCADE, related_name="items")
    prediction = models.ForeignKey(PredictionLog, on_delete=models.PROTECT, related_name="relabel_items")
    stratum = models.CharField(max_length=200, blank=True)
    inclusion_probability = models.FloatField()
    required_labels = models.PositiveSmallIntegerField(default=1)
    labels_count = models.PositiveSmallIntegerField(default=0, help_text="Labellers who answered it.")
    is_gold = models.BooleanField(default=False)
    gold_label = models.CharField(max_length=100, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.CharField(max_length=20, choices=WithdrawReason.choices, blank=True)

    class Meta:
        ordering = ["campaign", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "prediction"], name="audits_relabel_item_once"),
            models.CheckConstraint(
                condition=Q(inclusion_probability__gt=0) & Q(inclusion_probability__lte=1),
                name="audits_relabel_item_probability",
            ),
            models.CheckConstraint(condition=Q(required_labels__gte=1), name="audits_relabel_item_needs_labels"),
            models.CheckConstraint(
                condition=Q(is_gold=False, gold_label="") | (Q(is_gold=True) & ~Q(gold_label="")),
                name="audits_relabel_gold_has_label",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True, withdrawn_reason="")
                | (Q(withdrawn_at__isnull=False) & ~Q(withdrawn_reason="")),
                name="audits_relabel_withdrawn_says_why",
            ),
        ]
        indexes = [
            # The queue: items that still need labels. Answered items leave it, so the next item is
            # found without walking past a campaign's answered head (benchmarks/relabel_queue.py).
            models.Index(
                fields=["campaign", "id"],
                condition=Q(withdrawn_at__isnull=True, labels_count__lt=models.F("required_labels")),
                name="audits_relabel_queue",
            ),
            # The few gold items of a campaign, looked up on every "next item" without scanning the sample.
            models.Index(
                fields=["campaign", "id"],
                condition=Q(is_gold=True, withdrawn_at__isnull=True),
                name="audits_relabel_gold",
            ),
        ]

    def __str__(self) -> str:
        return f"Item {self.pk} of campaign {self.campaign_id}"


class RelabelProgress(models.Model):
    """How far one stratum of a campaign's sample has come, kept as counts beside the items so the
    queue can show progress without counting a million items on every card. Written only by
    audits.services.relabel_progress: recounted from the items after a draw or a withdrawal, moved
    by one when an answer completes a label an item needed. Gold items are not counted."""

    campaign = models.ForeignKey(RelabelCampaign, on_delete=models.CASCADE, related_name="progress_rows")
    stratum = models.CharField(max_length=200, blank=True)
    items = models.PositiveIntegerField(default=0, help_text="Items in the queue (withdrawn ones apart).")
    done = models.PositiveIntegerField(default=0, help_text="Items with all the labels they need.")
    answers = models.PositiveIntegerField(default=0, help_text="Answers counted towards the labels needed.")
    answers_needed = models.PositiveIntegerField(default=0)
    withdrawn = models.PositiveIntegerField(default=0, help_text="Items taken out: their person was erased.")

    class Meta:
        ordering = ["campaign", "stratum"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "stratum"], name="audits_relabel_progress_once"),
            models.CheckConstraint(condition=Q(done__lte=models.F("items")), name="audits_relabel_progress_done"),
            models.CheckConstraint(
                condition=Q(answers__lte=models.F("answers_needed")), name="audits_relabel_progress_answers"
            ),
        ]

    def __str__(self) -> str:
        return f"Campaign {self.campaign_id} {self.stratum or 'sample'}: {self.done}/{self.items} done"


class RelabelAssignment(models.Model):
    """A labeller holding an item until `expires_at`; an unanswered assignment past it frees the item
    for others. One per (item, labeller): nobody gets the same item twice."""

    item = models.ForeignKey(RelabelItem, on_delete=models.CASCADE, related_name="assignments")
    labeller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True, help_text="When the sweep found it abandoned.")

    class Meta:
        ordering = ["-assigned_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "labeller"], name="audits_relabel_assignment_once"),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("assigned_at")), name="audits_relabel_assignment_expires_later"
            ),
        ]
        indexes = [models.Index(fields=["labeller", "answered_at"], name="audits_relabel_held")]

    def __str__(self) -> str:
        return f"Item {self.item_id} held by {self.labeller}"


class RelabelAnswer(models.Model):
    """A labeller's answer to an item: a label of the campaign's set (possibly "unsure") and a note.
    Append-only: triggers (migration) refuse UPDATE on PostgreSQL and SQLite and DELETE on PostgreSQL;
    a later answer of the same labeller to the same item supersedes the earlier one."""

    item = models.ForeignKey(RelabelItem, on_delete=models.PROTECT, related_name="answers")
    labeller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=100)
    note = models.TextField(blank=True)
    seconds = models.FloatField(null=True, blank=True, help_text="How long the labeller looked at the item.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(label=""), name="audits_relabel_answer_has_label"),
            models.CheckConstraint(
                condition=Q(seconds__isnull=True) | Q(seconds__gte=0), name="audits_relabel_answer_seconds"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.labeller}: {self.label} on item {self.item_id}"


class RelabelAdjudication(models.Model):
    """A lead's decision on an item the labellers did not settle (they disagreed, or all were
    unsure): the adjudicated label wins over every answer. Append-only, like answers; a later
    decision on the same item supersedes the earlier one."""

    item = models.ForeignKey(RelabelItem, on_delete=models.PROTECT, related_name="adjudications")
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=100)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(label=""), name="audits_relabel_adjudication_has_label"),
            models.CheckConstraint(condition=~Q(label=UNSURE), name="audits_relabel_adjudication_decides"),
        ]

    def __str__(self) -> str:
        return f"{self.lead} decided {self.label} on item {self.item_id}"


class RelabelEstimate(models.Model):
    """A stored snapshot of a campaign's live error estimate, for the whole campaign (`version` empty)
    or one of the versions it covers: what the settled items said at `computed_at`. Snapshots are
    added when what they are computed from changed (`fingerprint`), so their sequence is the history
    pages plot and alerts judge."""

    campaign = models.ForeignKey(RelabelCampaign, on_delete=models.CASCADE, related_name="estimates")
    version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="Empty: all."
    )
    computed_at = models.DateTimeField(default=timezone.now)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of the settled labels estimated from.")
    settled = models.PositiveIntegerField()
    wrong = models.PositiveIntegerField()
    accuracy = models.FloatField()
    accuracy_low = models.FloatField()
    accuracy_high = models.FloatField()
    error_rate = models.FloatField()
    error_rate_low = models.FloatField()
    error_rate_high = models.FloatField()
    method = models.CharField(max_length=30, help_text="wilson or horvitz_thompson.")
    per_class = models.JSONField(default=dict, blank=True)
    campaign_closed = models.BooleanField(default=False, help_text="Computed once the campaign had closed.")
    minimum = models.FloatField(null=True, blank=True, help_text="The policy's live accuracy minimum then.")
    degraded = models.BooleanField(default=False, help_text="The interval's upper bound was below the minimum.")

    class Meta:
        ordering = ["-computed_at", "-id"]
        permissions = [("view_relabel_results", "Can read relabelling estimates, error patterns and labels")]
        constraints = [
            models.CheckConstraint(
                condition=Q(accuracy_low__lte=models.F("accuracy")) & Q(accuracy__lte=models.F("accuracy_high")),
                name="audits_relabel_estimate_interval",
            ),
            models.CheckConstraint(condition=Q(wrong__lte=models.F("settled")), name="audits_relabel_estimate_wrong"),
        ]
        indexes = [models.Index(fields=["campaign", "version", "-computed_at"], name="audits_relabel_estimate_latest")]

    def __str__(self) -> str:
        which = f"v{self.version.version}" if self.version_id else "all versions"
        return f"Campaign {self.campaign_id} ({which}): accuracy {self.accuracy:.3f} at {self.computed_at:%Y-%m-%d}"
