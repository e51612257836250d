"""A campaign's draw keeps the worker's memory flat however big the log (benchmarks/relabel_draw.py
measures the worker's peak at 1,000,000 and 10,000,000 rows; the memory is not measured here):

* on PostgreSQL the log comes through a server-side cursor, a chunk at a time: were it fetched whole
  first (a list(), a client-side cursor, DISABLE_SERVER_SIDE_CURSORS), no cursor would be open on the
  server while the chunks are drawn;
* the drawn items are built and written a batch at a time: a 1% draw of 10,000,000 rows is 100,000
  items, which as model objects handed to one bulk_create took ~60 MiB more at the peak."""

import pytest
from django.db import connection

from audits.models import RelabelItem
from audits.services import relabel, relabel_sources

pytestmark = pytest.mark.django_db


def _open_cursors_reading_the_log() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_cursors")
        return [statement for (statement,) in cursor.fetchall() if "audits_predictionlog" in statement]


@pytest.mark.integration
def test_the_draw_reads_the_log_a_chunk_at_a_time_through_a_server_side_cursor(drawn, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("server-side cursors are PostgreSQL's")
    monkeypatch.setattr(relabel_sources, "DRAW_CHUNK", 50)
    read = relabel.population_chunks
    seen = []

    def watched(campaign, rows):
        for chunk in read(campaign, rows):
            seen.append((len(chunk), _open_cursors_reading_the_log()))
            yield chunk

    monkeypatch.setattr(relabel, "population_chunks", watched)
    campaign = drawn(design={"kind": "uniform", "rate": 0.1})

    assert campaign.population == 240
    assert [size for size, _ in seen] == [50, 50, 50, 50, 40]
    # Every full chunk was handed to the engine while the rest of the log still waited on the server.
    assert all(len(cursors) == 1 for _, cursors in seen[:-1]), seen
    assert not _open_cursors_reading_the_log()  # and the cursor is closed once the draw is done


def test_the_drawn_items_are_written_a_batch_at_a_time(drawn, churn, monkeypatch):
    monkeypatch.setattr(relabel, "ITEM_BATCH", 50, raising=False)
    create = RelabelItem.objects.bulk_create
    written = []

    def counted(objs, *args, **kwargs):
        objs = list(objs)
        written.append(len(objs))
        return create(objs, *args, **kwargs)

    monkeypatch.setattr(RelabelItem.objects, "bulk_create", counted)
    campaign = drawn(design={"kind": "uniform", "rate": 1.0}, overlap_share=0.5)

    assert written == [50, 50, 50, 50, 40]
    items = campaign.items.order_by("prediction_id")
    assert [i.prediction_id for i in items] == [row.pk for row in churn.rows]
    assert {i.inclusion_probability for i in items} == {1.0}
    assert sum(i.required_labels for i in items) == campaign.labels_required == 240 + 120
