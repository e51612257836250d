"""Reads for one labeller's pages: how much of a campaign they answered and how much is left for them,
and their own latest answer to an item (never anyone else's: the queue is blind)."""

from django.db.models import F
from django.utils import timezone

from ..models import RelabelAnswer, RelabelAssignment
from .relabel import campaign_progress

__all__ = ["labeller_answer", "labeller_counts"]


def labeller_counts(campaign, labeller) -> dict:
    """Items of the campaign the labeller answered, and items still open to them: those that still
    need labels (the campaign's progress counts) less those they already had (answered or let
    expire), so the figure costs the labeller's own assignments, not the whole queue."""
    mine = RelabelAssignment.objects.filter(labeller=labeller, item__campaign=campaign, item__is_gold=False)
    answered = mine.filter(answered_at__isnull=False).count()
    progress = campaign_progress(campaign)
    open_items = progress["items"] - progress["done"]
    had_open = (
        mine.filter(item__withdrawn_at__isnull=True, item__labels_count__lt=F("item__required_labels"))
        .exclude(answered_at__isnull=True, expires_at__gt=timezone.now())
        .count()
    )
    return {"answered": answered, "left": max(open_items - had_open, 0)}


def labeller_answer(item, labeller) -> RelabelAnswer | None:
    """The labeller's latest answer to the item (a later answer supersedes an earlier one)."""
    return RelabelAnswer.objects.filter(item=item, labeller=labeller).order_by("-pk").first()
