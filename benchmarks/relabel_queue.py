"""Relabelling: the next card with 1,000,000 items queued, on a real PostgreSQL, next to a naive
`ORDER BY random() LIMIT 1` and a pandas sample of the same queue.

    .venv/bin/python benchmarks/relabel_queue.py [--sizes 10000,1000000] [--calls 200] [--labellers 5]
                                                 [--done-share 0.05] [--database-url postgres://…] [--explain]

Without --database-url (or DATABASE_URL in the environment) it starts a throwaway PostgreSQL cluster
on loopback the way `./run test` does (initdb, trust auth, fsync off; as the postgres user when run
as root) and removes it at the end. With a URL it creates (and drops) a database of its own on that
server. The database is migrated with Keel's migrations, so the indexes are the app's.

Per queue size: a campaign of N items over N logged predictions (made server-side with
generate_series, then ANALYZE), 10% of them overlapped (2 labels). Its first --done-share of items
are already answered by the labellers in turn (assignments, append-only answers, labels_count), so the
queue's head is not where it was drawn, as in a campaign under way; other labellers hold items.
Then, labeller after labeller (each answers its card before asking again, answers not timed):
  service  audits.services.item_next + the card serialised (CardOut: the item, its prediction and
           version), what the page and the API read for a card
  progress audits.selectors.campaign_progress, which the API's answer carries beside the card
  http     POST /api/v1/relabel/campaigns/<id>/next through Django's test client (session auth):
           the whole request, card, label set and progress
  peers    SQL: the unanswered items `ORDER BY random() LIMIT 1` (no locking, no per-labeller
           exclusion: a lower bound of the naive way); pandas: the queue read into a DataFrame and
           `DataFrame.sample(1)` (fewer calls: each reads the whole queue)
It prints median, p95 and max in ms per path and size, and each peer's median over Keel's service
median. --explain prints EXPLAIN ANALYZE of item_next's candidate query at each size.

It is a benchmark, not a test: nothing fails on a slow run.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import bench_support  # noqa: E402
from bench_support import log  # noqa: E402

TARGET_MS = 100.0


# ----------------------------------------------------------------------------- the queue


def setup_django(url: str) -> None:
    bench_support.setup_django(url)
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def labellers(count: int) -> list:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from mlops import roles

    roles.sync_role_groups()
    group = Group.objects.get(name=roles.LABELLERS)
    users = []
    for i in range(count):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-labeller-{i}")
        user.groups.add(group)
        users.append(user)
    return users


def build_campaign(size: int, people: list, done_share: float):
    """A campaign of `size` queued items, its head already answered by `people` in turn."""
    from django.db import connection
    from django.utils import timezone

    from audits import services
    from audits.models import (
        CampaignState,
        PredictionLog,
        RelabelAnswer,
        RelabelAssignment,
        RelabelCampaign,
        RelabelItem,
    )
    from tests.factories import ModelVersionFactory

    started = time.perf_counter()
    version = ModelVersionFactory(model__owner=people[0], created_by=people[0])
    model = version.model
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {PredictionLog._meta.db_table}
                (model_id, version_id, request_id, entity_id, predicted_at, raw_features, features, score, label,
                 received_at)
            SELECT %(model)s, %(version)s, 'bench-' || g, 'C' || lpad(g::text, 8, '0'),
                   now() - make_interval(secs => g), f, f, s, CASE WHEN s >= 0.5 THEN 'yes' ELSE 'no' END, now()
            FROM (SELECT g, random() AS s,
                         jsonb_build_object('plan', 'free', 'attendees', g %% 40, 'meeting_minutes', (g %% 90) * 1.5,
                                            'country', 'DE', 'event_type', 'meeting') AS f
                  FROM generate_series(1, %(size)s) AS g) AS rows
            """,
            {"model": model.pk, "version": version.pk, "size": size},
        )
    campaign = RelabelCampaign.objects.create(
        model=model,
        name=f"bench {size:,}",
        design={"kind": "uniform", "rate": 1.0},
        seed=7,
        state=CampaignState.OPEN,
        label_set=["no", "yes", "unsure"],
        overlap_share=0.1,
        population=size,
        items_total=size,
        labels_required=size + size // 10,
        created_by=people[0],
        drawn_at=timezone.now(),
    )
    done = int(size * done_share)
    ids = [u.pk for u in people]
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {RelabelItem._meta.db_table}
                (campaign_id, prediction_id, stratum, inclusion_probability, required_labels, labels_count, is_gold,
                 gold_label, withdrawn_reason)
            SELECT %(campaign)s, id, '', 1.0, CASE WHEN id %% 10 = 0 THEN 2 ELSE 1 END, 0, false, '', ''
            FROM {PredictionLog._meta.db_table} WHERE model_id = %(model)s ORDER BY id
            """,
            {"campaign": campaign.pk, "model": model.pk},
        )
        # The head of the queue answered by the labellers in turn (overlapped items by two of them).
        head = f"""
            SELECT id, required_labels, row_number() OVER (ORDER BY id) AS rn
            FROM {RelabelItem._meta.db_table} WHERE campaign_id = %(campaign)s ORDER BY id LIMIT %(done)s
        """
        who = f"""
            SELECT h.id AS item_id, (%(ids)s::bigint[])[1 + ((h.rn + k) %% %(n)s)] AS labeller_id
            FROM ({head}) AS h CROSS JOIN generate_series(0, 1) AS k WHERE k < h.required_labels
        """
        params = {"campaign": campaign.pk, "done": done, "ids": ids, "n": len(ids)}
        cur.execute(
            f"""
            INSERT INTO {RelabelAssignment._meta.db_table} (item_id, labeller_id, assigned_at, expires_at, answered_at)
            SELECT item_id, labeller_id, now() - interval '1 day', now() - interval '1 day' + interval '10 minutes',
                   now() - interval '1 day' + interval '1 minute' FROM ({who}) AS w
            """,
            params,
        )
        cur.execute(
            f"""
            INSERT INTO {RelabelAnswer._meta.db_table} (item_id, labeller_id, label, note, seconds, created_at)
            SELECT item_id, labeller_id, CASE WHEN item_id %% 7 = 0 THEN 'yes' ELSE 'no' END, '', 4.0,
                   now() - interval '1 day' + interval '1 minute' FROM ({who}) AS w
            """,
            params,
        )
        cur.execute(
            f"UPDATE {RelabelItem._meta.db_table} SET labels_count = required_labels "
            f"WHERE id IN (SELECT id FROM ({head}) AS h)",
            params,
        )
        for table in (PredictionLog, RelabelItem, RelabelAssignment, RelabelAnswer):
            cur.execute(f"ANALYZE {table._meta.db_table}")
    # The rows were written behind the services' backs: count the campaign's progress as a draw does.
    services.progress_recount(campaign_id=campaign.pk)
    log(
        f"  built {size:,} queued items ({done:,} already answered) in {time.perf_counter() - started:.1f} s "
        "(generate_series, server-side)"
    )
    return campaign


def _stats(values: list[float]) -> tuple[float, float, float]:
    ms = np.asarray(values) * 1000
    return float(np.median(ms)), float(np.percentile(ms, 95)), float(ms.max())


def measure(campaign, people: list, calls: int, peer_calls: int, explain: bool) -> dict:
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from audits import selectors, services
    from audits.serializers.relabel import CardOut

    def answer(labeller, item_id):
        item = selectors.relabel_item_get(item_id)
        services.answer_submit(labeller=labeller, item=item, label="no", seconds=3.0)

    # Other labellers hold an item each while the measured ones ask (their holds count against items).
    for holder in people[1:]:
        services.item_next(labeller=holder, campaign=campaign)
    timed = {"service": [], "progress": [], "http": [], "random()": [], "pandas": []}
    asking = people[0]
    for _ in range(calls):
        t = time.perf_counter()
        assignment = services.item_next(labeller=asking, campaign=campaign)
        card = CardOut(assignment).data
        assert card["item"] == assignment.item_id
        timed["service"].append(time.perf_counter() - t)
        t = time.perf_counter()
        selectors.campaign_progress(campaign)
        timed["progress"].append(time.perf_counter() - t)
        answer(asking, assignment.item_id)
    client = Client()
    client.force_login(asking)
    url = f"/api/v1/relabel/campaigns/{campaign.pk}/next"
    for _ in range(calls):
        t = time.perf_counter()
        response = client.post(url)
        timed["http"].append(time.perf_counter() - t)
        assert response.status_code == 200, response.content[:500]
        answer(asking, response.json()["card"]["item"])

    from audits.models import RelabelItem

    table = RelabelItem._meta.db_table
    pending = "campaign_id = %s AND withdrawn_at IS NULL AND labels_count < required_labels"
    with connection.cursor() as cur:
        for _ in range(peer_calls):
            t = time.perf_counter()
            cur.execute(f"SELECT id FROM {table} WHERE {pending} ORDER BY random() LIMIT 1", [campaign.pk])
            cur.fetchone()
            timed["random()"].append(time.perf_counter() - t)
    import pandas as pd

    for _ in range(max(3, peer_calls // 10)):
        t = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(f"SELECT id, prediction_id FROM {table} WHERE {pending}", [campaign.pk])
            frame = pd.DataFrame(cur.fetchall(), columns=["id", "prediction_id"])
        frame.sample(1)
        timed["pandas"].append(time.perf_counter() - t)

    if explain:
        # A labeller new to the campaign, so item_next looks for an item instead of returning a hold.
        newcomer = labellers(len(people) + 1)[-1]
        with CaptureQueriesContext(connection) as queries:
            services.item_next(labeller=newcomer, campaign=campaign)
        picked = [q["sql"] for q in queries.captured_queries if "SKIP LOCKED" in q["sql"]]
        if picked:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + picked[0])
                log("  EXPLAIN ANALYZE of item_next's candidate query:")
                for (line,) in cur.fetchall():
                    log("    " + line)
                transaction.set_rollback(True)
    return timed


def report(results: dict) -> None:
    log()
    log(f"{'queued':>10} {'path':<44} {'calls':>6} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'vs service':>11}")
    names = {
        "service": "Keel item_next + card",
        "progress": "Keel campaign_progress (carried by the API)",
        "http": "Keel POST …/next (test client)",
        "random()": "peer: ORDER BY random() LIMIT 1",
        "pandas": "peer: queue to pandas, DataFrame.sample(1)",
    }
    for size, timed in results.items():
        base = _stats(timed["service"])[0]
        for key, label in names.items():
            median, p95, worst = _stats(timed[key])
            ratio = f"{median / base:.1f}x" if key != "service" else ""
            log(f"{size:>10,} {label:<44} {len(timed[key]):>6} {median:>10.2f} {p95:>8.2f} {worst:>8.2f} {ratio:>11}")
    biggest = max(results)
    for key in ("service", "http"):
        p95 = _stats(results[biggest][key])[1]
        verdict = "PASS" if p95 < TARGET_MS else "MISS"
        log(f"target < {TARGET_MS:.0f} ms at {biggest:,} queued, {names[key]}: p95 {p95:.1f} ms, {verdict}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000", help="queued items per campaign, comma-separated")
    parser.add_argument("--calls", type=int, default=200, help="timed next-card requests per path and size")
    parser.add_argument("--peer-calls", type=int, default=30, help="timed ORDER BY random() calls per size")
    parser.add_argument("--labellers", type=int, default=5)
    parser.add_argument("--done-share", type=float, default=0.05, help="share of the queue answered before timing")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the candidate query")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    log(
        f"Keel relabelling queue benchmark; {platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    with bench_support.scratch_database(args.database_url, "keel_relabel_bench") as url:
        setup_django(url)
        from django.db import connection

        log(f"PostgreSQL {connection.pg_version}")
        people = labellers(args.labellers)
        results = {}
        for size in sizes:
            log(f"\n{size:,} items queued (load average {os.getloadavg()[0]:.1f})")
            campaign = build_campaign(size, people, args.done_share)
            results[size] = measure(campaign, people, args.calls, args.peer_calls, args.explain)
        log(f"load average after the runs: {os.getloadavg()[0]:.1f}")
        report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
