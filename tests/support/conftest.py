"""Fixtures for the support-lists stories: surfaces, a clock to travel with, and clients whose every
request commits, so after-commit work (cache invalidation, queued erasures, rate counting) runs as
it does in production, where each request is its own transaction."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from support.lists import cache as lists_cache
from support.services import privacy
from tests.factories import SurfaceFactory


@pytest.fixture(autouse=True)
def _no_lists_in_worker_memory():
    lists_cache.clear_local()
    yield
    lists_cache.clear_local()


@pytest.fixture
def surfaces(db):
    """The shop's surfaces: recommendations on the home page, in search, in the weekly email."""
    return {name: SurfaceFactory(name=name, description=f"Recommendations on {name}")
            for name in ("home", "search", "email")}


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """`with commit(): ...`: the block's after-commit callbacks run at its end, as a commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def api(api_as, django_capture_on_commit_callbacks):
    """api(user): that user's API client (token for pipelines, session for people); api(): anonymous.
    Each request commits."""

    def make(user=None) -> APIClient:
        client = api_as(user) if user is not None else APIClient()
        send = client.request

        def request(**kwargs):
            with django_capture_on_commit_callbacks(execute=True):
                return send(**kwargs)

        client.request = request
        return client

    return make


class Clock:
    """Moves Keel's `timezone.now()` forward: expiry needs no job, only time."""

    def __init__(self):
        self.offset = timedelta(0)

    def advance(self, **delta) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    real_now = timezone.now
    found = Clock()
    monkeypatch.setattr(timezone, "now", lambda: real_now() + found.offset)
    return found


@pytest.fixture
def erasures(monkeypatch):
    """Stands in for audits.services.entity_erase: records each call and answers with counts."""
    calls: list[str] = []

    def erase(*, entity_id: str) -> dict:
        calls.append(entity_id)
        return {"prediction_rows": 12, "audit_rows": 3}

    monkeypatch.setattr(privacy, "entity_data_erase", erase)
    return calls
