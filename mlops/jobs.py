"""Bounded Celery jobs: every task has a soft and a hard time limit for its kind of work, and a job
whose worker died twice while running it ends failed instead of being delivered again for ever.

Tasks are acks_late, so a worker that dies in the middle of one (SIGKILL, the kernel's OOM killer,
the hard time limit) leaves the message to be delivered again. Each run records its start in the
cache (Redis when there is a broker) under the task's name and its job, and forgets the job's starts
when it returns or raises. A start still recorded when the job arrives again is a run that never
finished: one with the same task id (the broker hands a message out again only once its worker is
gone, given the visibility timeout exceeds the hard limit), or one older than the hard limit (which
would have ended it). When `KEEL_TASK_MAX_WORKER_DEATHS` runs died so, the delivery records the
failure through the app's service and does not run the work.
"""

import functools
import inspect
import logging
import time
from collections.abc import Callable, Sequence

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError

__all__ = ["DATABASE_RETRIES", "job_task", "limit_words", "time_limits"]

log = logging.getLogger(__name__)

STARTS_KEY = "keel:job-starts"
STARTS_TTL_SECONDS = 7 * 24 * 3600

# The options of a job retried (with a growing delay, five times at most) when the database hiccups.
DATABASE_RETRIES = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5}


def time_limits(kind: str) -> dict:
    """Celery's soft and hard time limits (seconds) for a kind of job (`KEEL_TASK_TIME_LIMITS`)."""
    soft = settings.KEEL_TASK_TIME_LIMITS[kind]
    return {"soft_time_limit": soft, "time_limit": soft + settings.KEEL_TASK_TIME_LIMIT_GRACE}


def limit_words(seconds: float) -> str:
    """A limit as an adjective: 1800 → "30-minute", 3600 → "1-hour", 90 → "90-second"."""
    seconds = int(seconds)
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}-hour"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60}-minute"
    return f"{seconds}-second"


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def job_task(
    kind: str,
    what: str,
    *,
    job: Sequence[str] = (),
    fail: Callable[..., object] | None = None,
    **options,
):
    """Declare a bound, acks_late Celery task running one `kind` of job (a key of
    `KEEL_TASK_TIME_LIMITS`). `what` names the job in reasons ("audit"); `job` names the task's
    arguments that identify it (deliveries are counted per job); `fail` is the service that records
    the job failed when the soft limit is reached or its worker died too often, called with the first
    of `job` by its name and the reason: `fail(job_id=7, reason="…")`."""

    def give_up(task, ids: list, reason: str) -> None:
        log.error("%s %s: %s", task.name, ids, reason)
        if fail is not None:
            fail(**{job[0]: ids[0]}, reason=reason)

    def decorate(run):
        signature = inspect.signature(run)

        @functools.wraps(run)
        def bounded(task, *args, **kwargs):
            arguments = signature.bind(task, *args, **kwargs).arguments
            ids = [arguments[name] for name in job]
            key = ":".join([STARTS_KEY, task.name, *map(str, ids)])
            task_id = task.request.id
            if task_id and _died_too_often(key, task_id, task.time_limit):
                reason = (
                    f"The worker running this {what} died {_times(settings.KEEL_TASK_MAX_WORKER_DEATHS)} "
                    "(killed or out of memory); not retrying."
                )
                give_up(task, ids, reason)
                cache.delete(key)
                return None
            try:
                result = run(task, *args, **kwargs)
            except SoftTimeLimitExceeded:
                cache.delete(key)
                reason = f"The {what} exceeded its {limit_words(task.soft_time_limit)} time limit."
                give_up(task, ids, reason)
                raise
            except Exception:
                cache.delete(key)
                raise
            cache.delete(key)
            return result

        return shared_task(bind=True, acks_late=True, **time_limits(kind), **options)(bounded)

    return decorate


def _died_too_often(key: str, task_id: str, hard_limit: float | None) -> bool:
    """Count the job's runs that never finished; record this one's start unless there were too many."""
    now = time.time()
    starts = cache.get(key) or []
    overdue = (hard_limit or 0) + settings.KEEL_TASK_TIME_LIMIT_GRACE
    dead = [start for start in starts if start[0] == task_id or now - start[1] > overdue]
    if len(dead) >= settings.KEEL_TASK_MAX_WORKER_DEATHS:
        return True
    cache.set(key, [*starts, [task_id, now]], STARTS_TTL_SECONDS)
    return False
