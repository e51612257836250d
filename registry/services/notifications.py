"""Telling people and systems about promotion events: signed webhooks and email.

`notify` records one delivery per interested channel inside the caller's transaction and queues it
after commit; the Celery task `deliver_notification` makes the attempts. The workflow never waits on
a receiver and never fails because of one: a slow, broken or unreachable receiver costs retries in
the background, and a broker that is down leaves the delivery pending for the periodic sweep.
"""

import http.client
import json
import logging
import random
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import Retry
from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import signing
from ..models import ChannelKind, DeliveryState, NotificationChannel, NotificationDelivery, NotificationEvent

__all__ = [
    "DeliveryFailed",
    "notify",
    "delivery_attempt",
    "delivery_fail",
    "deliveries_requeue_pending",
    "delivery_retry_countdown",
]

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 10 * 60
# Payload keys the email body does not list as "Field: value" lines: the subject and the link.
EMAIL_OWN_KEYS = ("title", "url")


class DeliveryFailed(Exception):
    """A transient failure: the delivery is still pending and worth another attempt later."""

    def __init__(self, message: str, *, delivery_id: int, attempts: int):
        super().__init__(message)
        self.delivery_id = delivery_id
        self.attempts = attempts


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    status_code: int | None = None
    error: str = ""
    transient: bool = True


# --- recording and queueing ---------------------------------------------------------------------


@transaction.atomic
def notify(*, event: str, model, dedupe_key: str, payload: dict) -> list[NotificationDelivery]:
    """Record `event` about `model` for every active channel that wants it, and queue the sends for
    after the caller's transaction commits (a rolled-back workflow notifies nobody).

    `dedupe_key` names the occurrence (e.g. "promotion:42:approved"): sending the same key again
    returns the existing deliveries and sends nothing new. `payload` is JSON-serialisable; a "title"
    becomes the email subject and a "url" (a Keel path such as "/promotions/7/", made absolute with
    KEEL_BASE_URL) the link. Never raises because a receiver or the broker is unavailable.
    """
    if event not in NotificationEvent.values:
        raise ValueError(f"Unknown notification event {event!r}.")
    # Round-trip through JSON now so the stored payload is byte-for-byte what receivers get on every
    # retry (dates become ISO strings once), and a non-serialisable payload fails in the caller's tests.
    body = json.loads(
        json.dumps(
            {**payload, "event": event, "model": model.name, "sent_at": timezone.now().isoformat()},
            cls=DjangoJSONEncoder,
        )
    )
    if isinstance(body.get("url"), str):
        # Callers pass Keel paths ("/promotions/7/"); a mail reader or a chat bot needs the full address.
        body["url"] = urllib.parse.urljoin(settings.KEEL_BASE_URL, body["url"])
    candidates = NotificationChannel.objects.filter(is_active=True).filter(Q(model__isnull=True) | Q(model=model))
    deliveries = []
    for channel in candidates:
        if not channel.wants(event, model.pk):
            continue
        delivery, created = NotificationDelivery.objects.get_or_create(
            channel=channel,
            dedupe_key=dedupe_key,
            defaults={"event": event, "payload": body},
        )
        deliveries.append(delivery)
        if created:
            transaction.on_commit(lambda pk=delivery.pk: _queue_delivery(pk))
    return deliveries


def _queue_delivery(delivery_id: int) -> bool:
    """Hand the delivery to Celery. Returns False (and logs) instead of raising: the event is already
    recorded, so a broker outage delays it until the sweep rather than failing the workflow."""
    from ..tasks import deliver_notification

    try:
        deliver_notification.delay(delivery_id)
    except Retry:
        # Eager mode only (quick start, unit tests): the attempt ran in-process, failed transiently,
        # and eager Celery cannot schedule the delayed retry. The row says pending; the sweep retries.
        logger.info("Notification delivery %s failed its first attempt; it stays pending for the sweep.", delivery_id)
    except Exception:  # noqa: BLE001 - any broker or eager-task error; the delivery stays pending
        logger.warning(
            "Could not queue notification delivery %s; it stays pending for the sweep.", delivery_id, exc_info=True
        )
        return False
    return True


def delivery_retry_countdown(*, attempts: int, jitter: bool = True) -> float:
    """Seconds to wait after the `attempts`-th failure: 5 s doubling per attempt, capped at 10 min.
    Jitter (up to a quarter less) spreads retries so a receiver coming back is not hit all at once."""
    delay = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)
    return random.uniform(delay * 0.75, delay) if jitter else float(delay)


def _retry_window_seconds() -> float:
    """How long a delivery can legitimately stay pending while its retries run: every backoff plus
    every attempt's timeout. Pending longer than that means its retry was lost."""
    attempts = settings.KEEL_NOTIFY_MAX_ATTEMPTS
    waits = sum(delivery_retry_countdown(attempts=n, jitter=False) for n in range(1, attempts))
    return waits + attempts * settings.KEEL_WEBHOOK_TIMEOUT_SECONDS


def deliveries_requeue_pending(*, older_than_seconds: int = 60) -> int:
    """Queue again the deliveries that were recorded but never handed to a worker (the broker was
    down at commit), and those whose retry was lost. Returns how many were queued.

    A delivery between retries is pending too, but its next attempt is already scheduled: it is left
    alone until its whole retry window has passed. A duplicate send is still harmless, because an
    attempt locks the row and skips a delivery that is no longer pending.
    """
    now = timezone.now()
    never_tried = Q(attempts=0, created_at__lt=now - timedelta(seconds=older_than_seconds))
    retry_lost = Q(created_at__lt=now - timedelta(seconds=older_than_seconds + _retry_window_seconds()))
    stale = (
        NotificationDelivery.objects.filter(state=DeliveryState.PENDING)
        .filter(never_tried | retry_lost)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    queued = 0
    for delivery_id in stale:
        if not _queue_delivery(delivery_id):
            break  # the broker is still down; the next sweep tries again
        queued += 1
    return queued


# --- attempts -----------------------------------------------------------------------------------


def delivery_attempt(*, delivery_id: int) -> NotificationDelivery:
    """Send one pending delivery once. Delivered or failed deliveries are returned untouched, so a
    duplicate task is harmless.

    Raises DeliveryFailed on a transient failure (5xx, 408, 429, network error, timeout, SMTP error)
    while attempts remain, for the task to retry with backoff. A permanent failure (another 4xx, a bad
    target) or the last allowed attempt marks the delivery failed and returns it.
    """
    with transaction.atomic():
        # The row lock keeps two workers (a retry and a sweep's duplicate) from both sending.
        delivery = (
            NotificationDelivery.objects.select_for_update(of=("self",)).select_related("channel").get(pk=delivery_id)
        )
        if delivery.state != DeliveryState.PENDING:
            return delivery
        channel = delivery.channel
        if not channel.is_active:
            outcome = _Outcome(ok=False, error="The channel was switched off before delivery.", transient=False)
        elif channel.kind == ChannelKind.WEBHOOK:
            outcome = _send_webhook(delivery)
        else:
            outcome = _send_email(delivery)

        delivery.attempts += 1
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        if outcome.ok:
            delivery.state = DeliveryState.DELIVERED
            delivery.delivered_at = timezone.now()
        elif not outcome.transient or delivery.attempts >= settings.KEEL_NOTIFY_MAX_ATTEMPTS:
            delivery.state = DeliveryState.FAILED
            logger.warning(
                "Giving up on notification delivery %s to %s after %s attempt(s): %s",
                delivery.pk,
                channel,
                delivery.attempts,
                outcome.error,
            )
        delivery.save(update_fields=["attempts", "last_status_code", "last_error", "state", "delivered_at"])

    # Raised after commit: the attempt count and the error must survive for the next try to see them.
    if delivery.state == DeliveryState.PENDING:
        raise DeliveryFailed(outcome.error, delivery_id=delivery.pk, attempts=delivery.attempts)
    return delivery


def delivery_fail(*, delivery_id: int, reason: str) -> None:
    """Give up on a pending delivery with the reason (a time limit, a worker that kept dying)."""
    NotificationDelivery.objects.filter(pk=delivery_id, state=DeliveryState.PENDING).update(
        state=DeliveryState.FAILED, last_error=reason
    )
    logger.warning("Giving up on notification delivery %s: %s", delivery_id, reason)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as a failure instead of followed: the signed body goes only to the URL
    an admin configured, never on to wherever that server points."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_RefuseRedirects)


def _send_webhook(delivery: NotificationDelivery) -> _Outcome:
    channel = delivery.channel
    # Checked here as well as in the admin: urllib would also open file:// and ftp:// targets.
    if urllib.parse.urlsplit(channel.target).scheme not in ("http", "https"):
        return _Outcome(ok=False, error=f"The target {channel.target!r} is not an http(s) URL.", transient=False)
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(
        channel.target,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Keel",
            "X-Keel-Event": delivery.event,
            "X-Keel-Delivery": str(delivery.pk),
            "X-Keel-Timestamp": str(timestamp),
            "X-Keel-Signature": signing.sign(channel.secret, timestamp, body),
        },
    )
    try:
        with _opener.open(request, timeout=settings.KEEL_WEBHOOK_TIMEOUT_SECONDS) as response:
            return _Outcome(ok=True, status_code=response.status)
    except urllib.error.HTTPError as exc:
        # 408 and 429 say "not now"; any other 4xx will not change on retry (wrong URL, refused).
        transient = not (400 <= exc.code < 500) or exc.code in (408, 429)
        return _Outcome(ok=False, status_code=exc.code, error=f"HTTP {exc.code} {exc.reason}", transient=transient)
    except ValueError as exc:  # a malformed URL (http.client.InvalidURL is one): retrying cannot help
        return _Outcome(ok=False, error=f"Invalid target URL: {exc}", transient=False)
    except (urllib.error.URLError, OSError) as exc:  # refused, unreachable, DNS, TLS, timeout
        reason = getattr(exc, "reason", exc)
        return _Outcome(ok=False, error=f"{type(reason).__name__}: {reason}")
    except http.client.HTTPException as exc:  # a garbled or cut-off response
        return _Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")


def _send_email(delivery: NotificationDelivery) -> _Outcome:
    payload = delivery.payload
    subject = payload.get("title") or NotificationEvent(delivery.event).label
    # Header injection guard: send_mail refuses newlines in a subject, so fold them to spaces.
    subject = " ".join(str(subject).split())
    lines = [
        f"{key.replace('_', ' ').capitalize()}: {value}"
        for key, value in payload.items()
        if key not in EMAIL_OWN_KEYS and isinstance(value, str | int | float | bool) and value != ""
    ]
    if payload.get("url"):
        lines += ["", f"Open in Keel: {payload['url']}"]
    try:
        send_mail(subject, "\n".join(lines) + "\n", settings.DEFAULT_FROM_EMAIL, [delivery.channel.target])
    except (smtplib.SMTPException, OSError) as exc:
        return _Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
    return _Outcome(ok=True)
