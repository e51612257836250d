"""Labellers ask for their next item at the same moment: each gets a different single-label item.
Needs PostgreSQL's row locks (SELECT … FOR UPDATE SKIP LOCKED), so it runs on the real database."""

import threading
import time

import pytest
from django.db import connection

from audits import services
from audits.services import relabel as relabel_services
from mlops import roles
from tests.audits.factories import RelabelCampaignFactory, RelabelItemFactory
from tests.factories import UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LABELLERS = 6


def test_concurrent_labellers_never_hold_the_same_item(integration_services, monkeypatch):
    # Hold each request for a moment with its item locked, so the requests overlap every round.
    real_has_room = relabel_services._has_room

    def slow_has_room(item, now):
        time.sleep(0.2)
        return real_has_room(item, now)

    monkeypatch.setattr(relabel_services, "_has_room", slow_has_room)
    campaign = RelabelCampaignFactory()
    for _ in range(3 * LABELLERS):
        RelabelItemFactory(campaign=campaign)
    people = [UserFactory(username=f"labeller-{n}", groups=[roles.LABELLERS]) for n in range(LABELLERS)]

    held: dict[int, list[int]] = {}
    for _round in range(2):
        barrier = threading.Barrier(LABELLERS)
        got: dict[str, int | None] = {}
        errors: list[BaseException] = []

        def take(person, barrier, got, errors):
            try:
                barrier.wait(timeout=10)
                assignment = services.item_next(labeller=person, campaign=campaign)
                got[person.username] = assignment.item_id if assignment else None
                if assignment:
                    services.answer_submit(labeller=person, item=assignment.item, label="stay")
            except BaseException as exc:  # reported below, with the thread's outcome
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=take, args=(person, barrier, got, errors)) for person in people]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors
        items = [item for item in got.values() if item is not None]
        assert len(items) == LABELLERS and len(set(items)) == LABELLERS, got
        for name, item in got.items():
            held.setdefault(item, []).append(name)
    assert all(len(names) == 1 for names in held.values()), held
