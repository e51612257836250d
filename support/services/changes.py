"""Every change of the lists takes the change lock and its number first, and counts against the
agent's rate limit once it has committed."""

from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from mlops.errors import ApplicationError

from ..lists import cache as lists_cache
from ..models import ListState

__all__ = ["RateLimited", "rate_limit_remaining"]

RATE_BUCKETS = 10


class RateLimited(ApplicationError):
    """An agent made too many changes in the window; `retry_after` is in seconds."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


# --- the change lock ---------------------------------------------------------------------------------


def begin_change() -> int:
    """Take the change lock and this change's number. Call first in every change's transaction.

    Cursor correctness. Serving systems poll `?since=<cursor>` and must never miss a change. If
    changes were numbered by an auto-increment id or a timestamp, a transaction could take number 10,
    commit after number 11 had committed and been read by a poller, and that poller, now past 11,
    would skip 10 for ever. Here every change starts by incrementing the one ListState row; the row
    lock is held until the change commits, so the next change cannot take its number until this one
    is visible: numbers become visible in order, without gaps. Readers take the number and the rows
    as of one instant (support.selectors.lists), so a cursor means "every change up to N, nothing
    after". On SQLite the UPDATE takes the database's write lock, with the same effect. Changes are
    made by people, rate limited, so serialising them costs nothing that matters. The lock also makes
    conflict checks race-free: two agents cannot both add the same entry.
    """
    # First statement of the transaction, also for SQLite: a transaction that read before it writes
    # cannot wait for the write lock there ("database is locked"); one that writes first queues.
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("begin_change must run inside the change's transaction")
    # An upsert: the row is made by a migration, but a test database's flush removes it, and two
    # first changes must then not both try to create it.
    table = connection.ops.quote_name(ListState._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, seq) VALUES (1, 1) "
            f"ON CONFLICT (id) DO UPDATE SET seq = {table}.seq + 1 RETURNING seq"
        )
        seq = cursor.fetchone()[0]
    transaction.on_commit(lists_cache.invalidate)
    return seq


# --- rate limit (Django cache: Redis in production) ------------------------------------------------------


def _rate_bucket_seconds() -> int:
    return max(1, settings.KEEL_SUPPORT_RATE_LIMIT_SECONDS // RATE_BUCKETS)


def _rate_keys(actor_pk: int, now: datetime) -> list[tuple[int, str]]:
    size = _rate_bucket_seconds()
    current = int(now.timestamp()) // size
    return [(b, f"support:rate:{actor_pk}:{b}") for b in range(current - RATE_BUCKETS + 1, current + 1)]


def _rate_counts(actor_pk: int, now: datetime) -> list[tuple[int, int]]:
    keys = _rate_keys(actor_pk, now)
    found = cache.get_many([key for _, key in keys])
    return [(bucket, int(found.get(key) or 0)) for bucket, key in keys]


def rate_limit_remaining(*, actor, now: datetime | None = None) -> int:
    """How many changes the agent may still make in the current window (for pages to show)."""
    used = sum(count for _, count in _rate_counts(actor.pk, now or timezone.now()))
    return max(0, settings.KEEL_SUPPORT_RATE_LIMIT_CHANGES - used)


def rate_check(actor, now: datetime) -> None:
    """Counts the agent's changes in the last window (ten buckets of a tenth of it: a sliding window
    to within a tenth, never more lenient than the setting)."""
    limit = settings.KEEL_SUPPORT_RATE_LIMIT_CHANGES
    counts = _rate_counts(actor.pk, now)
    used = sum(count for _, count in counts)
    if used < limit:
        return
    size = _rate_bucket_seconds()
    # Free again when enough of the oldest buckets have left the window.
    excess, retry_after = used - limit + 1, size
    for bucket, count in counts:
        excess -= count
        if excess <= 0:
            retry_after = max(1, int((bucket + RATE_BUCKETS) * size - now.timestamp()) + 1)
            break
    minutes = settings.KEEL_SUPPORT_RATE_LIMIT_SECONDS / 60
    raise RateLimited(
        f"You have made {used} changes in the last {minutes:g} minutes; the limit is {limit}. "
        f"Try again in {retry_after} seconds.",
        retry_after=retry_after,
    )


def _rate_record(actor_pk: int, now: datetime) -> None:
    size = _rate_bucket_seconds()
    key = f"support:rate:{actor_pk}:{int(now.timestamp()) // size}"
    cache.add(key, 0, timeout=settings.KEEL_SUPPORT_RATE_LIMIT_SECONDS + 2 * size)
    try:
        cache.incr(key)
    except ValueError:  # evicted in between: count this change anew
        cache.add(key, 1, timeout=settings.KEEL_SUPPORT_RATE_LIMIT_SECONDS + 2 * size)


def after_change(actor, now: datetime) -> None:
    """A successful change counts against the agent's rate limit once it has committed."""
    actor_pk = actor.pk
    transaction.on_commit(lambda: _rate_record(actor_pk, now))
