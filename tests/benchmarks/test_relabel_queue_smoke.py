"""Smoke test of benchmarks/relabel_queue.py, so it cannot silently rot: on PostgreSQL (the test
database), a small campaign is built the benchmark's way and every timed path runs and reports. No
timings are asserted."""

import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import relabel_queue  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_every_path_runs_on_a_small_queue(capsys):
    if connection.vendor != "postgresql":
        pytest.skip("the benchmark builds its queue with PostgreSQL's generate_series")
    people = relabel_queue.labellers(3)
    campaign = relabel_queue.build_campaign(2_000, people, done_share=0.05)
    assert campaign.items.count() == 2_000
    assert campaign.items.filter(labels_count__gt=0).count() == 100
    timed = relabel_queue.measure(campaign, people, calls=3, peer_calls=3, explain=True)
    assert {key: len(values) for key, values in timed.items()} == {
        "service": 3,
        "progress": 3,
        "http": 3,
        "random()": 3,
        "pandas": 3,
    }
    relabel_queue.report({2_000: timed})
    out = capsys.readouterr().out
    assert "audits_relabel_queue" in out and "Keel item_next + card" in out and "target < 100 ms" in out
