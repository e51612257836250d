"""Reads of relabelling schedules: the list (deleted ones only when asked) and one with its history."""

from django.db.models import QuerySet

from mlops.errors import NotFound

from ..models import RelabelSchedule

__all__ = ["relabel_schedule_get", "relabel_schedules"]


def relabel_schedules(*, deleted: bool = False) -> QuerySet[RelabelSchedule]:
    found = RelabelSchedule.objects.select_related("model", "created_by")
    return found if deleted else found.filter(deleted_at__isnull=True)


def relabel_schedule_get(pk: int) -> RelabelSchedule:
    """A schedule, deleted or not (a deleted one answers with its history), its history prefetched."""
    schedule = relabel_schedules(deleted=True).prefetch_related("history__actor").filter(pk=pk).first()
    if schedule is None:
        raise NotFound(f"No relabelling schedule {pk}.")
    return schedule
