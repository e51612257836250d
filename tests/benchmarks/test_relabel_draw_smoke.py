"""Smoke test of benchmarks/relabel_draw.py (relabel_sampling.py --database), so it cannot silently rot:
on PostgreSQL (the test database, committed so the children see it), a small prediction log is built
the benchmark's way and both measured children draw about 1% of the same population. No timings are
asserted."""

import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import UserFactory
from tests.integration.processes import database_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import relabel_draw  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_app_and_pandas_draw_from_the_same_logged_rows(capsys):
    if connection.vendor != "postgresql":
        pytest.skip("the benchmark builds its log with PostgreSQL's generate_series")
    actor = UserFactory(username="draw-bench-pipeline")
    model = relabel_draw.build_log(20_000, actor)
    assert model.predictions.count() == 20_000
    erased = model.predictions.filter(erased_at__isnull=False).count()
    assert 0 < erased < 200  # the customers erased on request: 0.1% of them, every row of theirs

    runs = relabel_draw.measure(database_url(connection.settings_dict), model.pk, actor.pk, rate=0.01)
    keel, pandas = runs["keel"], runs["pandas"]
    assert keel["population"] == pandas["population"] == 20_000 - erased
    for run in runs.values():
        assert 120 <= run["drawn"] <= 280 and run["peak_rss_mib"] > 0
    campaign = model.relabel_campaigns.get()
    assert campaign.items.count() == keel["drawn"] and campaign.state == "open"

    relabel_draw.report({20_000: runs}, rate=0.01)
    assert "pandas/keel" in capsys.readouterr().out


def test_a_filtered_draw_and_the_peer_read_the_same_surface_and_segment():
    if connection.vendor != "postgresql":
        pytest.skip("the benchmark builds its log with PostgreSQL's generate_series")
    actor = UserFactory(username="draw-bench-pipeline")
    model = relabel_draw.build_log(5_000, actor)
    filters = {"surfaces": ["app"], "segment": {"country": ["DE", "FR"], "plan": ["pro"]}}
    # In this process (the measured children are the other test's): the same code, without their start-up.
    keel = relabel_draw.keel_child(model.pk, actor.pk, 0.05, filters)
    pandas = relabel_draw.pandas_child(database_url(connection.settings_dict), model.pk, 0.05, filters)
    inside = model.predictions.filter(
        erased_at__isnull=True, surface="app", features__country__in=["DE", "FR"], features__plan="pro"
    ).count()
    assert 0 < keel["population"] == pandas["population"] == inside < 5_000
    campaign = model.relabel_campaigns.get()
    assert (campaign.surfaces, campaign.segment) == (filters["surfaces"], filters["segment"])
    assert not campaign.items.exclude(prediction__surface="app").exists()
