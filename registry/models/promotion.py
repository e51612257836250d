"""Promotion governance: a version reaches a governed alias (production, shadow, canary) only through
a request that Keel validates on hold-out data and a second person approves."""

import os
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import get_valid_filename

from mlops.modelkit import choice_constraint, one_source_constraint

from .catalog import ModelVersion, RegisteredModel

__all__ = [
    "GOVERNED_ALIASES",
    "ThresholdRule",
    "PromotionPolicy",
    "PolicyRule",
    "PolicyRuleSwitch",
    "HoldoutFormat",
    "HoldoutDataset",
    "PromotionAction",
    "PromotionState",
    "OPEN_STATES",
    "PromotionRequest",
    "PROMOTION_REQUEST_FIELDS",
    "PromotionEvent",
]

# Aliases that serving systems act on; they move only through an approved request (or a rollback).
GOVERNED_ALIASES = ("production", "shadow", "canary")


class ThresholdRule(models.TextChoices):
    MAX_F1 = "max_f1", "Maximise F1"
    MIN_RECALL = "min_recall", "Highest threshold with recall ≥ target"
    MIN_PRECISION = "min_precision", "Lowest threshold with precision ≥ target"
    KEEP = "keep", "Keep the version's own threshold"


class PromotionPolicy(models.Model):
    """What a candidate must show to pass the gate. One per model; defaults apply until edited."""

    model = models.OneToOneField(RegisteredModel, on_delete=models.CASCADE, related_name="policy")
    primary_metric = models.CharField(
        max_length=50,
        default="roc_auc",
        help_text="Metric the floor, regression and baseline margin refer to (roc_auc, pr_auc, f1, rmse, ndcg_at_k …).",
    )
    min_primary_metric = models.FloatField(null=True, blank=True, help_text="Absolute floor; empty for none.")
    # The gate's primary metric is often a ranking metric (roc_auc) that people relabelling cannot
    # measure; the live floor is then an accuracy of its own.
    min_live_accuracy = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Live accuracy (from relabelling) below which the model counts as degraded; "
        "empty: min_primary_metric when the primary metric is accuracy, else none.",
    )
    max_regression = models.FloatField(
        default=0.01,
        validators=[MinValueValidator(0.0)],
        help_text="How much worse than production the primary metric may be (absolute).",
    )
    min_margin_over_baseline = models.FloatField(
        default=0.02, help_text="How much better than the naive baseline the primary metric must be."
    )
    max_flip_rate = models.FloatField(
        default=0.10,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Largest share of hold-out rows whose decision may change vs production.",
    )
    max_slice_gap = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0)],
        help_text="Largest gap of the primary metric between slices of a slice column; empty for none.",
    )
    slice_columns = models.JSONField(default=list, blank=True, help_text="Columns to report per-slice metrics for.")
    min_slice_rows = models.PositiveIntegerField(default=50, help_text="Slices smaller than this are not judged.")
    threshold_rule = models.CharField(max_length=20, choices=ThresholdRule.choices, default=ThresholdRule.MAX_F1)
    threshold_target = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Recall or precision to meet, for the min_recall / min_precision rules.",
    )
    ranking_k = models.PositiveIntegerField(default=10, validators=[MinValueValidator(1)])
    staleness_days = models.PositiveIntegerField(
        default=90, help_text="A production model older than this is flagged stale on its page."
    )
    # Rules that block on what the gate already sees. Each is on unless a reviewer switched it off
    # with a reason (PolicyRuleSwitch keeps who, when and why).
    block_importance_jump = models.BooleanField(
        default=True,
        help_text="Fail a candidate whose top feature was minor in the model it replaces and now holds "
        "more than the largest share of its importance: the trace of a target leak.",
    )
    max_importance_share = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Largest share of the candidate's summed importance a feature that was minor before may hold.",
    )
    block_failed_holdout_audit = models.BooleanField(
        default=True, help_text="Fail a candidate judged on hold-out data whose own data audit failed."
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "promotion policies"
        constraints = [
            choice_constraint("threshold_rule", ThresholdRule, "registry_policy_rule_valid"),
            models.CheckConstraint(
                condition=~Q(threshold_rule__in=[ThresholdRule.MIN_RECALL, ThresholdRule.MIN_PRECISION])
                | Q(threshold_target__isnull=False),
                name="registry_policy_rule_has_target",
            ),
            models.CheckConstraint(
                condition=Q(max_flip_rate__gte=0) & Q(max_flip_rate__lte=1), name="registry_policy_flip_rate_is_share"
            ),
            models.CheckConstraint(
                condition=Q(max_importance_share__gte=0) & Q(max_importance_share__lte=1),
                name="registry_policy_importance_share_is_share",
            ),
        ]

    def __str__(self) -> str:
        return f"Promotion policy of {self.model.name}"


class PolicyRule(models.TextChoices):
    """The policy's rules a reviewer may switch off (each a boolean field of PromotionPolicy)."""

    BLOCK_IMPORTANCE_JUMP = "block_importance_jump", "Block a feature that was minor and now dominates"
    BLOCK_FAILED_HOLDOUT_AUDIT = "block_failed_holdout_audit", "Block when the hold-out's audit failed"


class PolicyRuleSwitch(models.Model):
    """Append-only history of a policy's switchable rules: each switch on or off, by whom, when, why.
    The gate cites the latest one of a rule that is off."""

    policy = models.ForeignKey(PromotionPolicy, on_delete=models.CASCADE, related_name="switches")
    rule = models.CharField(max_length=40, choices=PolicyRule.choices)
    enabled = models.BooleanField()
    reason = models.TextField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            choice_constraint("rule", PolicyRule, "registry_policy_switch_rule_valid"),
            # Switching a rule off always says why.
            models.CheckConstraint(
                condition=Q(enabled=True) | ~Q(reason=""), name="registry_policy_switch_off_says_why"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {'on' if self.enabled else 'off'} ({self.policy.model.name})"


class HoldoutFormat(models.TextChoices):
    CSV = "csv", "CSV"
    PARQUET = "parquet", "Parquet"


def holdout_upload_to(instance: "HoldoutDataset", filename: str) -> str:
    safe = get_valid_filename(os.path.basename(filename or "")) or "holdout"
    return f"holdouts/{instance.model.name}/{uuid.uuid4().hex[:12]}-{safe}"


class HoldoutDataset(models.Model):
    """Labelled rows the gate scores candidate and production on: uploaded, or a path under
    KEEL_DATA_ROOT that Keel reads in place."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="holdouts")
    name = models.CharField(max_length=200)
    file = models.FileField(upload_to=holdout_upload_to, max_length=500, blank=True)
    storage_path = models.CharField(
        max_length=500, blank=True, help_text="Path relative to KEEL_DATA_ROOT, for data that stays where it is."
    )
    format = models.CharField(max_length=10, choices=HoldoutFormat.choices)
    label_column = models.CharField(max_length=200)
    group_column = models.CharField(max_length=200, blank=True, help_text="Query/group id, for ranking models.")
    positive_label = models.CharField(
        max_length=200,
        blank=True,
        help_text="The label value that means the positive outcome (e.g. churned), for a binary label "
        "written other than yes/no, true/false, y/n or 1/0.",
    )
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField(validators=[MinValueValidator(0)])
    window_start = models.DateField(null=True, blank=True)
    window_end = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            one_source_constraint("registry_holdout_one_source"),
            choice_constraint("format", HoldoutFormat, "registry_holdout_format_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.model.name} hold-out '{self.name}'"


class PromotionAction(models.TextChoices):
    PROMOTE = "promote", "Point the alias at the version"
    REMOVE = "remove", "Take the alias off (stop shadow or canary traffic)"


class PromotionState(models.TextChoices):
    VALIDATING = "validating"
    VALIDATION_FAILED = "validation_failed"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    ROLLED_BACK = "rolled_back"


OPEN_STATES = (PromotionState.VALIDATING, PromotionState.AWAITING_APPROVAL)


class PromotionRequest(models.Model):
    """A request to point a governed alias at a version, with the gate's evidence and the decision."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="promotion_requests")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="promotion_requests")
    target_alias = models.SlugField(max_length=64, default="production")
    action = models.CharField(max_length=10, choices=PromotionAction.choices, default=PromotionAction.PROMOTE)
    canary_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="Share of traffic for a canary, 1–50%.",
    )
    holdout = models.ForeignKey(
        HoldoutDataset, on_delete=models.PROTECT, null=True, blank=True, related_name="promotion_requests"
    )
    reason = models.TextField(help_text="Why this version should serve.")
    state = models.CharField(max_length=20, choices=PromotionState.choices, default=PromotionState.VALIDATING)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now, editable=False)
    # What the target alias pointed at when validation ran: the evidence compares against it, and an
    # approval is refused if the alias has moved since (the evidence would be stale).
    compared_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    gate_stage = models.CharField(max_length=100, blank=True)
    gate_progress = models.FloatField(default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    evidence = models.JSONField(default=dict, blank=True)
    failure_reasons = models.JSONField(default=list, blank=True)
    proposed_threshold = models.FloatField(null=True, blank=True)
    approved_threshold = models.FloatField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        permissions = [
            ("approve_promotion", "Can approve, reject and roll back promotions"),
            ("view_promotions", "Can read promotion requests, hold-outs and policies"),
        ]
        constraints = [
            choice_constraint("state", PromotionState, "registry_promotion_state_valid"),
            choice_constraint("action", PromotionAction, "registry_promotion_action_valid"),
            # Four eyes, kept by the database too: nobody decides on their own request.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("submitted_by")),
                name="registry_promotion_four_eyes",
            ),
            models.CheckConstraint(
                condition=Q(target_alias="canary", action=PromotionAction.PROMOTE, canary_percent__isnull=False)
                | (~Q(target_alias="canary", action=PromotionAction.PROMOTE) & Q(canary_percent__isnull=True)),
                name="registry_promotion_canary_has_percent",
            ),
            models.CheckConstraint(
                condition=Q(action=PromotionAction.PROMOTE) | Q(target_alias__in=["shadow", "canary"]),
                name="registry_promotion_only_side_traffic_removed",
            ),
        ]
        indexes = [models.Index(fields=["model", "state"], name="registry_promotion_open")]

    def __str__(self) -> str:
        verb = "remove" if self.action == PromotionAction.REMOVE else "→"
        return f"#{self.pk} {self.model.name} v{self.version.version} {verb} {self.target_alias} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


# What a request asks for and where it stands, in the order the admin and the API list them.
PROMOTION_REQUEST_FIELDS = (
    "model",
    "version",
    "target_alias",
    "action",
    "canary_percent",
    "holdout",
    "reason",
    "state",
    "gate_stage",
    "gate_progress",
)


class PromotionEvent(models.Model):
    """Append-only history of a request: every state change with who (None: Keel's gate), when, why."""

    request = models.ForeignKey(PromotionRequest, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"#{self.request_id}: {self.from_state or 'new'} → {self.to_state}"
