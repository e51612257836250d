"""Reads of promotion requests for the reviewer pages: the queue, one request with its history, a
model's recent requests, and how many wait for a reviewer (the nav badge)."""

from dataclasses import dataclass

from django.db.models import Max, Prefetch, QuerySet

from mlops.errors import NotFound

from .models import (
    HoldoutDataset,
    ModelVersion,
    PromotionEvent,
    PromotionRequest,
    PromotionState,
    RegisteredModel,
)

DECIDED_SHOWN = 30  # the queue is for work to do; older decisions are a filter away


def promotion_requests() -> QuerySet[PromotionRequest]:
    return PromotionRequest.objects.select_related(
        "model", "version", "compared_version", "holdout", "submitted_by", "decided_by")


def promotion_get(pk: int) -> PromotionRequest:
    """One request with its event history (actors loaded), or 404."""
    found = promotion_requests().prefetch_related(
        Prefetch("events", queryset=PromotionEvent.objects.select_related("actor"))).filter(pk=pk).first()
    if found is None:
        raise NotFound(f"No promotion request #{pk}.")
    return found


@dataclass
class PromotionQueue:
    awaiting: list[PromotionRequest]
    validating: list[PromotionRequest]
    decided: list[PromotionRequest]
    decided_total: int


def promotion_queue(*, model: RegisteredModel | None = None, state: str = "") -> PromotionQueue:
    """What reviewers act on first: requests awaiting approval, longest-waiting first; then the gate's
    work in progress; then the latest decisions (by when they were last touched)."""
    requests = promotion_requests().annotate(last_event_at=Max("events__created_at"))
    if model is not None:
        requests = requests.filter(model=model)
    if state:
        requests = requests.filter(state=state)
    open_states = (PromotionState.AWAITING_APPROVAL, PromotionState.VALIDATING)
    decided = requests.exclude(state__in=open_states).order_by("-last_event_at", "-id")
    return PromotionQueue(
        awaiting=list(requests.filter(state=PromotionState.AWAITING_APPROVAL).order_by("submitted_at", "id")),
        validating=list(requests.filter(state=PromotionState.VALIDATING).order_by("submitted_at", "id")),
        decided=list(decided[:DECIDED_SHOWN]),
        decided_total=decided.count(),
    )


def awaiting_approval_count() -> int:
    return PromotionRequest.objects.filter(state=PromotionState.AWAITING_APPROVAL).count()


def recent_promotions(model: RegisteredModel, limit: int = 5) -> list[PromotionRequest]:
    return list(promotion_requests().filter(model=model)[:limit])


def promotable_versions(model: RegisteredModel) -> QuerySet[ModelVersion]:
    """Versions a request can name: only those with an artifact the gate can load, newest first."""
    return model.versions.exclude(artifact="").order_by("-version")


def model_holdouts(model: RegisteredModel) -> QuerySet[HoldoutDataset]:
    return model.holdouts.order_by("-created_at", "-id")
