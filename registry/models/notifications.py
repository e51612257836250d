"""Who hears about promotion events, and the record of every delivery attempt."""

import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils import timezone

from mlops.modelkit import choice_constraint

from .catalog import RegisteredModel

__all__ = ["NotificationEvent", "ChannelKind", "NotificationChannel", "DeliveryState", "NotificationDelivery"]


class NotificationEvent(models.TextChoices):
    REQUEST_CREATED = "promotion.created", "Promotion requested"
    VALIDATION_FAILED = "promotion.validation_failed", "Validation failed"
    AWAITING_APPROVAL = "promotion.awaiting_approval", "Awaiting approval"
    APPROVED = "promotion.approved", "Approved"
    ROLLED_BACK = "promotion.rolled_back", "Rolled back"
    CHALLENGER_WINS = "promotion.challenger_beats_production", "A retrained challenger beats production"
    AUDIT_ALERT = "audit.alert_opened", "A data audit opened a high-severity alert"
    MODEL_DEGRADED = "model.degraded", "Relabelling shows the live model below its policy's minimum"


def new_signing_secret() -> str:
    return secrets.token_hex(32)


class ChannelKind(models.TextChoices):
    WEBHOOK = "webhook", "Signed webhook (HMAC-SHA256)"
    EMAIL = "email", "Email"


class NotificationChannel(models.Model):
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    target = models.CharField(max_length=500, help_text="Webhook URL or email address.")
    secret = models.CharField(
        max_length=128,
        default=new_signing_secret,
        blank=True,
        help_text="Signs webhook bodies; receivers verify X-Keel-Signature with it.",
    )
    events = models.JSONField(default=list, blank=True, help_text="Event names to send; empty sends all.")
    model = models.ForeignKey(
        RegisteredModel,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notification_channels",
        help_text="Empty: every model.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            choice_constraint("kind", ChannelKind, "registry_channel_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def clean(self) -> None:
        # Checked before saving (the admin form calls this) so a typo shows up on the form, not as a
        # delivery that fails days later. Webhooks are http(s) only: urllib would also open file:// URLs.
        super().clean()
        errors = {}
        if self.kind == ChannelKind.WEBHOOK:
            # Deliberately looser than URLValidator, which refuses single-label hosts such as
            # http://alerts:8080/ that internal receivers often have.
            try:
                parts = urlsplit(self.target)
                parts.port  # noqa: B018 - raises ValueError for a port that is not a number
                valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            except ValueError:
                valid = False
            if not valid or any(ch.isspace() for ch in self.target):
                errors["target"] = "A webhook target is an http:// or https:// URL."
        elif self.kind == ChannelKind.EMAIL:
            try:
                validate_email(self.target)
            except ValidationError:
                errors["target"] = "An email target is one email address."
        if not isinstance(self.events, list):
            errors["events"] = "A list of event names (empty: every event)."
        else:
            unknown = sorted(set(map(str, self.events)) - set(NotificationEvent.values))
            if unknown:
                errors["events"] = f"Unknown events: {', '.join(unknown)}."
        if errors:
            raise ValidationError(errors)

    def wants(self, event: str, model_id: int) -> bool:
        return self.is_active and (not self.events or event in self.events) and self.model_id in (None, model_id)


class DeliveryState(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class NotificationDelivery(models.Model):
    """One event for one channel. The dedupe key makes a re-sent event deliver once."""

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64, choices=NotificationEvent.choices)
    dedupe_key = models.CharField(max_length=200)
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "notification deliveries"
        constraints = [
            models.UniqueConstraint(fields=["channel", "dedupe_key"], name="registry_delivery_once"),
            choice_constraint("state", DeliveryState, "registry_delivery_state_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.channel} ({self.state}, {self.attempts} attempts)"
