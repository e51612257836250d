"""A campaign's draw streams the prediction log from the database: on PostgreSQL the rows come
through a server-side cursor, a chunk at a time, so a 10,000,000-row log never sits in the worker's
memory whole (benchmarks/relabel_draw.py measures the worker's peak at 1,000,000 and 10,000,000
rows). If the log were fetched whole first (a list(), a client-side cursor, DISABLE_SERVER_SIDE_CURSORS),
no cursor would be open on the server while the chunks are drawn. The memory is not measured here."""

import pytest
from django.db import connection

from audits.services import relabel, relabel_sources

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _open_cursors_reading_the_log() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_cursors")
        return [statement for (statement,) in cursor.fetchall() if "audits_predictionlog" in statement]


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
