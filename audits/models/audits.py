"""Data audits: batches of data, the training reference a model version learned from, the suite of
checks, audit jobs with their findings, and the alerts they raise."""

import os
import uuid

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.text import get_valid_filename

from mlops.modelkit import JobState, choice_constraint, failure_explained_constraint, one_source_constraint
from registry.models import ModelVersion, RegisteredModel


class DataFormat(models.TextChoices):
    CSV = "csv", "CSV"
    PARQUET = "parquet", "Parquet"
    JSONL = "jsonl", "JSON lines"


class BatchPurpose(models.TextChoices):
    TRAINING = "training", "Training data"
    HOLDOUT = "holdout", "Hold-out data"
    INCOMING = "incoming", "Incoming batch"
    SERVING = "serving", "Serving log"


def batch_upload_to(instance: "DataBatch", filename: str) -> str:
    safe = get_valid_filename(os.path.basename(filename or "")) or "batch"
    return f"batches/{instance.model.name}/{uuid.uuid4().hex[:12]}-{safe}"


class DataBatch(models.Model):
    """One data file a model trains or predicts on: uploaded, or read in place under KEEL_DATA_ROOT."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="data_batches")
    name = models.CharField(max_length=200)
    purpose = models.CharField(max_length=10, choices=BatchPurpose.choices, default=BatchPurpose.INCOMING)
    file = models.FileField(upload_to=batch_upload_to, max_length=500, blank=True)
    storage_path = models.CharField(max_length=500, blank=True)
    format = models.CharField(max_length=10, choices=DataFormat.choices)
    sha256 = models.CharField(max_length=64, help_text="Of the bytes Keel received.")
    declared_sha256 = models.CharField(max_length=64, blank=True, help_text="What the sender said it sent.")
    signature = models.CharField(max_length=128, blank=True, help_text="Sender's HMAC-SHA256 of the bytes (hex).")
    size_bytes = models.BigIntegerField(validators=[MinValueValidator(0)])
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            one_source_constraint("audits_batch_one_source"),
            choice_constraint("format", DataFormat, "audits_batch_format_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.model.name}: {self.name}"


class ReferenceProfile(models.Model):
    """What a model version learned from, summarised: the baseline every later batch is compared to."""

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="reference_profile")
    batch = models.ForeignKey(DataBatch, on_delete=models.PROTECT, related_name="+")
    specs = models.JSONField(help_text="Column specs (name, kind, dtype, declared bounds).")
    profile = models.JSONField()
    rows = models.BigIntegerField()
    label_column = models.CharField(max_length=200, blank=True, help_text="The true outcome, if the data has it.")
    prediction_column = models.CharField(
        max_length=200, blank=True, help_text="The model's score on this data: the baseline of prediction drift."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"Reference of {self.version}"

    @property
    def roles(self) -> dict:
        return {"label": self.label_column or None, "prediction": self.prediction_column or None}


class AuditSuite(models.Model):
    """The checks a model's batches must pass, suggested from its reference and edited by reviewers."""

    model = models.OneToOneField(RegisteredModel, on_delete=models.CASCADE, related_name="audit_suite")
    suite = models.JSONField()
    suggested_from = models.ForeignKey(ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("edit_audit_checks", "Can edit audit suites and schedules")]

    def __str__(self) -> str:
        return f"Audit suite of {self.model.name}"


class AuditKind(models.TextChoices):
    REFERENCE = "reference", "Build the training reference"
    BATCH = "batch", "Audit a batch"


AuditState = JobState

# A feed key holds a storage path (up to 500 characters) behind a short prefix.
FEED_MAX_LENGTH = 600


class Verdict(models.TextChoices):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


class AuditJob(models.Model):
    """One audit (or reference build) as a background job, with its progress and outcome."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="audit_jobs")
    version = models.ForeignKey(
        ModelVersion,
        on_delete=models.PROTECT,
        related_name="audit_jobs",
        help_text="Whose training reference the batch is compared with.",
    )
    batch = models.ForeignKey(DataBatch, on_delete=models.PROTECT, related_name="audit_jobs")
    kind = models.CharField(max_length=10, choices=AuditKind.choices, default=AuditKind.BATCH)
    state = models.CharField(max_length=10, choices=AuditState.choices, default=AuditState.QUEUED)
    stage = models.CharField(max_length=100, blank=True)
    rows_done = models.BigIntegerField(default=0)
    rows_total = models.BigIntegerField(null=True, blank=True)
    verdict = models.CharField(max_length=4, choices=Verdict.choices, blank=True)
    error = models.TextField(blank=True, help_text="Why the audit could not run, for the person who sent the data.")
    facts = models.JSONField(default=dict, blank=True, help_text="File facts: bytes, rows, sha256, columns.")
    profile = models.JSONField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    schedule = models.ForeignKey("AuditSchedule", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs")
    trigger_key = models.CharField(
        max_length=100, blank=True, help_text="The scheduler's task id: a redelivered run starts one audit, not two."
    )
    feed = models.CharField(
        max_length=FEED_MAX_LENGTH,
        blank=True,
        help_text="Where the batch came from (audits.services.feed_key): only a later audit of the same feed "
        "resolves this feed's alerts.",
    )
    repeat_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The first audit of the same model of exactly these bytes (same sha256): a repeat neither "
        "opens nor resolves alerts.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("run_audits", "Can send batches and start audits"),
            ("view_audits", "Can read audits, their reports, alerts, suites and schedules"),
        ]
        constraints = [
            choice_constraint("state", AuditState, "audits_job_state_valid"),
            failure_explained_constraint("audits_failed_job_says_why"),
            models.CheckConstraint(
                condition=Q(verdict="") | (Q(state=AuditState.SUCCEEDED) & Q(kind=AuditKind.BATCH)),
                name="audits_verdict_only_on_success",
            ),
            models.UniqueConstraint(
                fields=["trigger_key"], condition=~Q(trigger_key=""), name="audits_job_trigger_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Audit #{self.pk} of {self.batch} ({self.state})"

    @property
    def progress(self) -> float | None:
        if not self.rows_total:
            return None
        return min(1.0, self.rows_done / self.rows_total)


class Severity(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class FindingStatus(models.TextChoices):
    """A finding passes, warns or fails as an audit does, or says its check did not run (and why)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    NOT_CHECKED = "not_checked", "Not checked"


class Finding(models.Model):
    """One check's outcome in one audit. Written once, when the audit completes."""

    job = models.ForeignKey(AuditJob, on_delete=models.CASCADE, related_name="findings")
    check_name = models.CharField(max_length=100)
    column = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=11, choices=FindingStatus.choices)
    message = models.TextField()
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    redacted_at = models.DateTimeField(
        null=True, blank=True, help_text="When a privacy request replaced a person's id in the text."
    )

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["job", "status"], name="audits_finding_status")]

    def __str__(self) -> str:
        where = f"[{self.column}] " if self.column else ""
        return f"{self.status.upper()} {self.check_name} {where}{self.message[:60]}"


class AlertState(models.TextChoices):
    OPEN = "open"
    RESOLVED = "resolved"


class Alert(models.Model):
    """One incident per (model, feed, check, column): repeated failures of that feed update it rather
    than add alerts. Only a later audit of the same feed in which the check passes resolves it, or a
    reviewer by hand with a reason; a resolved alert keeps who or what resolved it, and when."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="alerts")
    feed = models.CharField(
        max_length=FEED_MAX_LENGTH, blank=True, help_text="The feed whose audits raised it (see AuditJob.feed)."
    )
    check_name = models.CharField(max_length=100)
    column = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    state = models.CharField(max_length=10, choices=AlertState.choices, default=AlertState.OPEN)
    message = models.TextField()
    occurrences = models.PositiveIntegerField(default=1)
    first_job = models.ForeignKey(AuditJob, on_delete=models.SET_NULL, null=True, related_name="+")
    last_job = models.ForeignKey(AuditJob, on_delete=models.SET_NULL, null=True, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by_job = models.ForeignKey(
        AuditJob,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="resolved_alerts",
        help_text="The audit of the same feed that passed the check.",
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The reviewer who resolved it by hand.",
    )
    resolution_reason = models.TextField(blank=True, help_text="Why a reviewer resolved it by hand.")

    class Meta:
        ordering = ["state", "-last_seen_at"]
        permissions = [("resolve_alerts", "Can resolve an alert by hand, with a reason")]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "feed", "check_name", "column"],
                condition=Q(state=AlertState.OPEN),
                name="audits_one_open_alert_per_feed_check",
            ),
            models.CheckConstraint(
                condition=(
                    Q(state=AlertState.OPEN)
                    & Q(resolved_at__isnull=True)
                    & Q(resolved_by_job__isnull=True)
                    & Q(resolved_by__isnull=True)
                    & Q(resolution_reason="")
                )
                | (Q(state=AlertState.RESOLVED) & Q(resolved_at__isnull=False)),
                name="audits_alert_resolution_when_resolved",
            ),
            models.CheckConstraint(
                condition=Q(resolved_by__isnull=True) | (Q(resolved_by_job__isnull=True) & ~Q(resolution_reason="")),
                name="audits_alert_resolved_by_hand_says_why",
            ),
        ]

    def __str__(self) -> str:
        where = f"[{self.column}] " if self.column else ""
        return f"{self.model.name}: {self.check_name} {where}({self.state}, ×{self.occurrences})"


# Where a prediction was served ("web", "app", "upsell-email"): a short lower-case name.
SURFACE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class PredictionLog(models.Model):
    """One prediction a serving system made, as it logged it: what it received (raw features), what
    the model saw (features after processing), what it answered, with which version and when.
    Logged rows are never edited, except a privacy erasure, which empties what identifies a person."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="predictions")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="predictions")
    request_id = models.CharField(
        max_length=100,
        help_text="The sender's id of the request: re-sending a batch adds nothing twice; a shadow or canary "
        "version's decision on the same request is logged with the same id under its own version.",
    )
    entity_id = models.CharField(max_length=200, blank=True, help_text="Who the prediction was about (a customer id).")
    predicted_at = models.DateTimeField()
    raw_features = models.JSONField(default=dict, blank=True, help_text="As received, before processing.")
    features = models.JSONField(default=dict, blank=True, help_text="As the model saw them, after processing.")
    score = models.FloatField(null=True, blank=True)
    label = models.CharField(max_length=100, blank=True, help_text="The decision or predicted class.")
    # db_default: rows inserted by SQL that names no surface (benchmarks, bulk loads) get "" too.
    surface = models.CharField(
        max_length=64, blank=True, default="", db_default="", help_text="Where it was served (web, app, email)."
    )
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    erased_at = models.DateTimeField(null=True, blank=True, help_text="When a privacy request emptied this row.")

    class Meta:
        ordering = ["-predicted_at", "-id"]
        permissions = [("log_predictions", "Can send serving logs")]
        indexes = [
            models.Index(fields=["model", "predicted_at"], name="audits_prediction_time"),
            models.Index(fields=["entity_id", "-predicted_at"], name="audits_prediction_entity"),
            # A relabelling campaign over some surfaces reads (model, surface in …, window).
            models.Index(fields=["model", "surface", "predicted_at"], name="audits_prediction_surface"),
        ]
        constraints = [
            # One decision per version and request: production's and a shadow's of the same request
            # pair up by request_id (the disagreement design of relabelling reads them together).
            models.UniqueConstraint(
                fields=["model", "version", "request_id"], name="audits_prediction_request_once_per_version"
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=False) | ~Q(label=""), name="audits_prediction_has_output"
            ),
            models.CheckConstraint(
                condition=Q(erased_at__isnull=True) | Q(entity_id=""), name="audits_erased_prediction_names_nobody"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.version.version} {self.request_id} at {self.predicted_at:%Y-%m-%d %H:%M}"


class ErasedEntity(models.Model):
    """A person whose logged data was erased on request: later logs about them are anonymised on
    arrival, and sampling for review leaves them out. Records that erasure happened, not what it removed."""

    entity_id = models.CharField(max_length=200, unique=True)
    erased_at = models.DateTimeField(default=timezone.now)
    counts = models.JSONField(default=dict, blank=True, help_text="How many rows of each kind were anonymised.")

    def __str__(self) -> str:
        return f"Erased {self.entity_id} at {self.erased_at:%Y-%m-%d %H:%M}"
