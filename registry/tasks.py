from celery import shared_task

from . import services


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def verify_artifact(self, version_id: int, check_key: str) -> dict:
    """Re-hash a stored artifact in the background; the check is recorded once per check_key."""
    check = services.artifact_verify(version_id=version_id, check_key=check_key)
    return {"check_id": check.pk, "ok": check.ok}
