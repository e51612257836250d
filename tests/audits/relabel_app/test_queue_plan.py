"""The next card stays fast as a campaign fills up: on PostgreSQL, the query that finds a labeller's
next item reads the queue through an index of the items still needing labels, so it never walks
past the items already answered (with 1,000,000 items queued and 5% answered, walking past them
cost ~25 ms a card: benchmarks/relabel_queue.py). The plan is checked, not the time."""

import json

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from audits import services
from audits.models import RelabelItem

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _scans_of(plan: dict, table: str):
    if plan.get("Relation Name") == table:
        yield plan
    for child in plan.get("Plans", []):
        yield from _scans_of(child, table)


def test_the_next_item_is_found_without_reading_the_answered_ones(drawn, labeller, second_labeller):
    if connection.vendor != "postgresql":
        pytest.skip("the query plan is PostgreSQL's")
    campaign = drawn(design={"kind": "uniform", "rate": 1.0})
    items = list(campaign.items.order_by("pk"))
    answered = items[: len(items) * 3 // 4]  # the head of the queue, as in a campaign under way
    RelabelItem.objects.filter(pk__in=[i.pk for i in answered]).update(labels_count=2, required_labels=2)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {RelabelItem._meta.db_table}")

    with CaptureQueriesContext(connection) as queries:
        assignment = services.item_next(labeller=labeller, campaign=campaign)
    assert assignment.item_id == items[len(answered)].pk  # the first item still needing a label

    [candidates] = [q["sql"] for q in queries.captured_queries if "SKIP LOCKED" in q["sql"]]
    with transaction.atomic(), connection.cursor() as cursor:
        # As the planner does on a big queue, where a sequential scan never wins (this one is small).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + candidates)
        plan = cursor.fetchone()[0]
        transaction.set_rollback(True)
    plan = plan if isinstance(plan, list) else json.loads(plan)
    [scan] = list(_scans_of(plan[0]["Plan"], RelabelItem._meta.db_table))
    assert scan.get("Rows Removed by Filter", 0) < 5, scan
    assert scan["Index Name"] == "audits_relabel_queue"
