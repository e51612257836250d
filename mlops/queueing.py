"""Queueing Celery work from a service: send the task, and when the broker is down log it and leave
the work to whatever queues it again (a periodic sweep, or the next request)."""

import logging
from collections.abc import Callable

from kombu.exceptions import OperationalError as BrokerUnavailable

__all__ = ["queue_or_wait", "queue_each"]

log = logging.getLogger(__name__)


def queue_or_wait(task, object_id: int, *, what: str, later: str = "waits for the sweep") -> None:
    """`task.delay(object_id)`, tolerating a down broker: the row is saved, `later` says who queues it."""
    try:
        task.delay(object_id)
    except BrokerUnavailable:
        log.warning("Broker unavailable: %s %s %s", what, object_id, later)


def queue_each(queryset, queue: Callable[[int], None]) -> int:
    """Call `queue(pk)` for every row of `queryset` (a sweep of stalled work); how many were queued."""
    ids = list(queryset.values_list("pk", flat=True))
    for pk in ids:
        queue(pk)
    return len(ids)
