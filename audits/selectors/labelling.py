"""Reads for one labeller's pages: how much of a campaign they answered and how much is left for them,
and their own latest answer to an item (never anyone else's: the queue is blind)."""

from django.db.models import F
from django.utils import timezone

from ..models import RelabelAnswer, RelabelAssignment, RelabelItem

__all__ = ["labeller_answer", "labeller_counts"]


def labeller_counts(campaign, labeller) -> dict:
    """Items of the campaign the labeller answered, and items still open to them: the one they hold
    plus those that still need labels and that they never had."""
    mine = RelabelAssignment.objects.filter(labeller=labeller, item__campaign=campaign)
    answered = mine.filter(answered_at__isnull=False).count()
    holding = mine.filter(
        answered_at__isnull=True, expires_at__gt=timezone.now(), item__withdrawn_at__isnull=True
    ).count()
    unseen = (
        RelabelItem.objects.filter(campaign=campaign, withdrawn_at__isnull=True, labels_count__lt=F("required_labels"))
        .exclude(assignments__labeller=labeller)
        .count()
    )
    return {"answered": answered, "left": holding + unseen}


def labeller_answer(item, labeller) -> RelabelAnswer | None:
    """The labeller's latest answer to the item (a later answer supersedes an earlier one)."""
    return RelabelAnswer.objects.filter(item=item, labeller=labeller).order_by("-pk").first()
