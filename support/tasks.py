from celery.exceptions import SoftTimeLimitExceeded

from mlops.jobs import DATABASE_RETRIES, job_task

from . import services


@job_task(
    "erasure",
    "privacy erasure",
    job=("request_id",),
    fail=services.privacy_request_erase_fail,
    autoretry_for=(Exception,),
    dont_autoretry_for=(SoftTimeLimitExceeded,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def erase_privacy_request(self, request_id: int) -> dict:
    """Erase a customer's logged data for their privacy request; done once, retried with backoff, and
    ended failed with the last error when the retries run out."""
    try:
        request = services.privacy_request_erase(request_id=request_id)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:
        if self.request.retries < self.max_retries:
            raise
        request = services.privacy_request_erase_fail(
            request_id=request_id,
            reason=f"The erasure failed {self.request.retries + 1} times; the last error: {type(exc).__name__}: {exc}",
        )
    return {"request_id": request.pk, "erase_state": request.erase_state}


@job_task("sweep", "sweep of pending erasures")
def requeue_pending_erasures(self, older_than_seconds: int = 600) -> int:
    """Queue again erasures still pending (broker down when filed, retries exhausted)."""
    return services.privacy_erasures_requeue(older_than_seconds=older_than_seconds)


# --- explanations (support.services.explanations) --------------------------------------------------------


@job_task("explanation", "explanation", job=("explanation_id",), fail=services.explanation_fail, **DATABASE_RETRIES)
def compute_explanation(self, explanation_id: int) -> dict:
    """Explain one prediction with the model-agnostic explainer (seconds, so off the request).
    Idempotent: redelivered after a lost worker, it finishes the explanation once; a bad input ends
    it failed with the reason rather than raising. Retried on database hiccups only."""
    from .services.explanations import explanation_compute

    explanation = explanation_compute(explanation_id=explanation_id)
    return {"explanation_id": explanation_id, "state": explanation.state if explanation else "deleted"}
