from celery import shared_task
from django.db import OperationalError as DatabaseOperationalError

from . import services


@shared_task(
    bind=True, acks_late=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8
)
def erase_privacy_request(self, request_id: int) -> dict:
    """Erase a customer's logged data for their privacy request; done once, retried until it is."""
    request = services.privacy_request_erase(request_id=request_id)
    return {"request_id": request.pk, "erase_state": request.erase_state}


@shared_task(acks_late=True)
def requeue_pending_erasures(older_than_seconds: int = 600) -> int:
    """Queue again erasures still pending (broker down when filed, retries exhausted)."""
    return services.privacy_erasures_requeue(older_than_seconds=older_than_seconds)


# --- explanations (support.services.explanations) --------------------------------------------------------


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseOperationalError,), retry_backoff=True, max_retries=5)
def compute_explanation(self, explanation_id: int) -> dict:
    """Explain one prediction with the model-agnostic explainer (seconds, so off the request).
    Idempotent: redelivered after a lost worker, it finishes the explanation once; a bad input ends
    it failed with the reason rather than raising. Retried on database hiccups only."""
    from .services.explanations import explanation_compute

    explanation = explanation_compute(explanation_id=explanation_id)
    return {"explanation_id": explanation_id, "state": explanation.state if explanation else "deleted"}
