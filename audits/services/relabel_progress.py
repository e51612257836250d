"""A campaign's progress counts (RelabelProgress), kept beside its items: recounted from the items
when they change in bulk (a draw, a withdrawal), moved by one when an answer completes a label an
item needed. Reading progress then costs a few rows whatever the campaign's size."""

from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Least

from ..models import RelabelItem, RelabelProgress

__all__ = ["progress_count_answer", "progress_counts", "progress_recount"]


def progress_counts(items) -> dict[str, dict[str, int]]:
    """Per stratum of the items given (a queryset): items, done, answers, answers needed, withdrawn."""
    live = Q(withdrawn_at__isnull=True)
    rows = (
        items.filter(is_gold=False)
        .order_by()
        .values("stratum")
        .annotate(
            items=Count("pk", filter=live),
            done=Count("pk", filter=live & Q(labels_count__gte=F("required_labels"))),
            answers=Sum(Least("labels_count", "required_labels"), filter=live),
            answers_needed=Sum("required_labels", filter=live),
            withdrawn=Count("pk", filter=~live),
        )
    )
    return {
        row["stratum"]: {key: row[key] or 0 for key in ("items", "done", "answers", "answers_needed", "withdrawn")}
        for row in rows
    }


@transaction.atomic
def progress_recount(*, campaign_id: int) -> None:
    """Count the campaign's progress again from its items (idempotent)."""
    counts = progress_counts(RelabelItem.objects.filter(campaign_id=campaign_id))
    RelabelProgress.objects.filter(campaign_id=campaign_id).exclude(stratum__in=counts.keys()).delete()
    for stratum, values in counts.items():
        RelabelProgress.objects.update_or_create(campaign_id=campaign_id, stratum=stratum, defaults=values)


def progress_count_answer(item: RelabelItem, *, labels_before: int) -> None:
    """An item of the sample got its answer number `labels_before + 1`: one more answer towards what
    it needs, and one more item done when that was its last. Called inside the answer's transaction."""
    if item.is_gold or item.withdrawn_at is not None or labels_before >= item.required_labels:
        return
    completes = labels_before + 1 == item.required_labels
    RelabelProgress.objects.filter(campaign_id=item.campaign_id, stratum=item.stratum).update(
        answers=F("answers") + 1, done=F("done") + (1 if completes else 0)
    )
