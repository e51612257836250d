from django.conf import settings

from mlops.jobs import DATABASE_RETRIES, job_task

from . import services


@job_task(
    "gate",
    "artifact check",
    job=("version_id", "check_key"),
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def verify_artifact(self, version_id: int, check_key: str) -> dict:
    """Re-hash a stored artifact in the background; the check is recorded once per check_key."""
    check = services.artifact_verify(version_id=version_id, check_key=check_key)
    return {"check_id": check.pk, "ok": check.ok}


def _gate_fail(*, request_id: int, reason: str) -> None:
    services.promotion_gate_fail(promotion_id=request_id, reason=reason)


@job_task("gate", "promotion gate", job=("request_id",), fail=_gate_fail, **DATABASE_RETRIES)
def run_promotion_gate(self, request_id: int) -> dict:
    """Validate a promotion request on its hold-out data; a retry after the verdict does nothing."""
    promotion = services.promotion_gate_run(promotion_id=request_id)
    return {"request_id": promotion.pk, "state": promotion.state}


@job_task("sweep", "sweep of stalled gates")
def requeue_stalled_gates(self, older_than_seconds: int = 600) -> int:
    """Restart gates whose job was never queued (broker down) or whose worker died before the verdict."""
    return services.promotion_gates_requeue(older_than_seconds=older_than_seconds)


@job_task(
    "notification",
    "notification delivery",
    job=("delivery_id",),
    fail=services.delivery_fail,
    max_retries=settings.KEEL_NOTIFY_MAX_ATTEMPTS,
)
def deliver_notification(self, delivery_id: int) -> dict:
    """Send one notification delivery; transient failures come back with a growing, jittered delay.
    The service counts attempts and gives up on its own, so max_retries is only a backstop."""
    try:
        delivery = services.delivery_attempt(delivery_id=delivery_id)
    except services.DeliveryFailed as exc:
        raise self.retry(exc=exc, countdown=services.delivery_retry_countdown(attempts=exc.attempts)) from exc
    return {"delivery_id": delivery.pk, "state": delivery.state, "attempts": delivery.attempts}


@job_task("sweep", "sweep of pending deliveries")
def requeue_pending_deliveries(self, older_than_seconds: int = 60) -> int:
    """Queue deliveries recorded while the broker was down, or whose retry was lost (beat: every minute)."""
    return services.deliveries_requeue_pending(older_than_seconds=older_than_seconds)
