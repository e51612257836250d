"""Relabelling: a 1% sample drawn by the app from a 10,000,000-row prediction log in PostgreSQL,
next to pandas `read_sql` + `DataFrame.sample` on the same rows.

    .venv/bin/python benchmarks/relabel_draw.py [--draw-rows 10000000] [--rate 0.01] [--database-url postgres://…]
        [--filters '{"surfaces": ["app"], "segment": {"country": ["DE", "FR"]}}']
    .venv/bin/python benchmarks/relabel_sampling.py --database …   (the same, as part 3 of that benchmark)

Without --database-url (or DATABASE_URL) it starts a throwaway PostgreSQL on loopback
(bench_support.py, as relabel_queue.py does) and removes it at the end; with a URL it creates and
drops a database of its own there. Keel's migrations make the schema.

Per size (--draw-rows, and first a tenth of it, to show whether memory grows with the log): a model
whose prediction log holds that many rows, made server-side with generate_series (small `features`
JSON, a score, 1% of scores missing, the predicted label, the surface it was served on (web, app,
email); every row of 0.1% of the customers erased on request, with their ErasedEntity rows), then
VACUUM ANALYZE. With --filters, the campaign samples that surface and segment only (filtered by the
server, on the features' jsonb) and the peer's query filters the same way. Then two child processes, each timed
from outside (spawn to exit) with its peak RSS from os.wait4's rusage of THAT child (started by
bench_support's small launcher, so none of this benchmark's own memory is counted in it):
  keel    Django set up on the database, audits.services.campaign_create(..., start=False) with a
          uniform --rate design, then audits.services.campaign_draw(campaign_id=...): the app's own
          path (what the Celery job runs), streaming the log through a server-side cursor in chunks
          and writing the drawn items
  pandas  psycopg2 + pandas only: pd.read_sql of the same rows (id, score, label: the model's, not
          erased, no erased customer) into one DataFrame, then frame.sample(frac=rate)
It prints wall, in-child time (keel: the draw; pandas: read + sample), CPU, peak RSS and the peak
before the work began (Keel's includes Django with every app imported) per run, the
ratios pandas/keel, and Keel's peak RSS at --draw-rows over its peak at a tenth of them (flat ≈ 1).

It is a benchmark, not a test: nothing fails on a slow run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import bench_support  # noqa: E402
from bench_support import log  # noqa: E402

SEED = 7
# The peer reads the rows the campaign's population holds (audits.services.relabel._population).
PEER_SQL = """
    SELECT id, score, label FROM audits_predictionlog
    WHERE model_id = %(model)s AND erased_at IS NULL
      AND entity_id NOT IN (SELECT entity_id FROM audits_erasedentity)
"""
SURFACES = ("web", "app", "email")


def peer_query(model_id: int, filters: dict) -> tuple[str, dict]:
    """PEER_SQL with the campaign's surfaces and segment as the same WHERE clauses, and its params."""
    sql, params = PEER_SQL, {"model": model_id}
    if filters.get("surfaces"):
        sql += " AND surface = ANY(%(surfaces)s)"
        params["surfaces"] = list(filters["surfaces"])
    for i, (column, values) in enumerate((filters.get("segment") or {}).items()):
        sql += f" AND features -> %(column{i})s IN (SELECT jsonb_array_elements(%(values{i})s::jsonb))"
        params[f"column{i}"], params[f"values{i}"] = column, json.dumps(values)
    return sql, params


# ----------------------------------------------------------------------------- the log


def build_log(rows: int, actor):
    """A model whose prediction log holds `rows` rows, generated server-side; returns the model."""
    from django.db import connection

    from audits.models import ErasedEntity, PredictionLog
    from tests.factories import ModelVersionFactory

    started = time.perf_counter()
    version = ModelVersionFactory(model__owner=actor, created_by=actor)
    customers = max(rows // 5, 1)  # five predictions per customer on average
    params = {"model": version.model_id, "version": version.pk, "rows": rows, "customers": customers}
    with connection.cursor() as cur:
        # Every row of an erased customer was emptied: no entity, no features (the log's constraint).
        cur.execute(
            f"""
            INSERT INTO {PredictionLog._meta.db_table}
                (model_id, version_id, request_id, entity_id, predicted_at, raw_features, features, score, label,
                 surface, received_at, erased_at)
            SELECT %(model)s, %(version)s, 'draw-' || g, CASE WHEN erased THEN '' ELSE 'C' || c END,
                   now() - make_interval(secs => %(rows)s - g), CASE WHEN erased THEN '{{}}' ELSE f END,
                   CASE WHEN erased THEN '{{}}' ELSE f END, CASE WHEN g %% 100 = 7 THEN NULL ELSE s END,
                   CASE WHEN s >= 0.5 THEN 'yes' ELSE 'no' END, (ARRAY['web', 'app', 'email'])[1 + (g / 7) %% 3],
                   now(), CASE WHEN erased THEN now() END
            FROM (SELECT g, c, c %% 1000 = 0 AS erased, random() AS s,
                         jsonb_build_object('plan', (ARRAY['free', 'pro', 'team'])[1 + g %% 3], 'seats', 1 + g %% 40,
                                            'tenure_months', g %% 61, 'country',
                                            (ARRAY['DE', 'FR', 'US', 'GB', 'NL'])[1 + g %% 5]) AS f
                  FROM (SELECT g, g %% %(customers)s AS c FROM generate_series(1, %(rows)s) AS g) AS numbered
                 ) AS generated
            """,
            params,
        )
        cur.execute(
            f"""
            INSERT INTO {ErasedEntity._meta.db_table} (entity_id, erased_at, counts)
            SELECT 'C' || c, now(), '{{}}' FROM generate_series(0, %(customers)s - 1, 1000) AS c
            ON CONFLICT (entity_id) DO NOTHING
            """,
            params,
        )
        # Hint bits set and statistics fresh, so neither measured reader pays for the bulk insert.
        cur.execute(f"VACUUM (ANALYZE) {PredictionLog._meta.db_table}")
        cur.execute(f"ANALYZE {ErasedEntity._meta.db_table}")
    log(f"  built a {rows:,}-row prediction log in {time.perf_counter() - started:.1f} s (generate_series)")
    return version.model


# ----------------------------------------------------------------------------- the children


def keel_child(model_id: int, actor_id: int, rate: float, filters: dict) -> dict:
    """The app's draw: create the campaign, draw it (as the Celery job does)."""
    started = time.perf_counter()
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from audits import services
    from audits.models import CampaignState
    from registry.models import RegisteredModel

    actor = get_user_model().objects.get(pk=actor_id)
    model = RegisteredModel.objects.get(pk=model_id)
    ready = time.perf_counter()
    ready_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Django and the app imported
    campaign = services.campaign_create(
        actor=actor,
        model=model,
        name=f"draw benchmark {os.getpid()}",
        design={"kind": "uniform", "rate": rate},
        seed=SEED,
        start=False,
        surfaces=filters.get("surfaces"),
        segment=filters.get("segment"),
    )
    created = time.perf_counter()
    campaign = services.campaign_draw(campaign_id=campaign.pk)
    done = time.perf_counter()
    if campaign.state != CampaignState.OPEN:
        raise SystemExit(f"the draw did not open the campaign: {campaign.state} {campaign.error}")
    return {
        "tool": "keel",
        "drawn": campaign.items_total,
        "population": campaign.population,
        "setup_s": ready - started,
        "ready_rss_mib": ready_rss,
        "create_s": created - ready,
        "inside_s": done - ready,
    }


def pandas_child(url: str, model_id: int, rate: float, filters: dict) -> dict:
    """The peer: the rows read into one DataFrame, then DataFrame.sample."""
    import warnings

    import pandas as pd
    import psycopg2

    conn = psycopg2.connect(url)
    ready_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pandas and psycopg2 imported
    started = time.perf_counter()
    with warnings.catch_warnings():  # pandas prefers SQLAlchemy; a DBAPI2 connection works the same
        warnings.simplefilter("ignore", UserWarning)
        sql, params = peer_query(model_id, filters)
        frame = pd.read_sql(sql, conn, params=params)
    read = time.perf_counter()
    sample = frame.sample(frac=rate, random_state=SEED)
    done = time.perf_counter()
    conn.close()
    return {
        "tool": "pandas",
        "drawn": len(sample),
        "population": len(frame),
        "ready_rss_mib": ready_rss,
        "read_s": read - started,
        "sample_s": done - read,
        "inside_s": done - started,
    }


def measure(url: str, model_id: int, actor_id: int, rate: float, filters: dict | None = None) -> dict:
    """Both children on one model's log; {tool: summary with wall_s, cpu_s, peak_rss_mib, load}."""
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "0", "DJANGO_SETTINGS_MODULE": "mlops.settings"}
    runs = {}
    for tool in ("keel", "pandas"):
        load = os.getloadavg()[0]
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", tool, "--model", str(model_id)]
        cmd += ["--actor", str(actor_id), "--rate", str(rate), "--database-url", url]
        cmd += ["--filters", json.dumps(filters or {})]
        runs[tool] = {**bench_support.run_measured(cmd, cwd=ROOT, env=env), "load": load}
    return runs


def report(results: dict, rate: float) -> None:
    """`results`: {rows: {tool: run}}, smallest first."""
    log(
        f"\n{'log rows':>12} {'tool':<8} {'population':>12} {'drawn':>9} {'wall s':>8} {'inside s':>9} "
        f"{'cpu s':>8} {'peak RSS MiB':>13} {'before MiB':>11} {'load':>5}"
    )
    for rows, runs in results.items():
        for tool, r in runs.items():
            log(
                f"{rows:>12,} {tool:<8} {r['population']:>12,} {r['drawn']:>9,} {r['wall_s']:>8.2f} "
                f"{r['inside_s']:>9.2f} {r['cpu_s']:>8.2f} {r['peak_rss_mib']:>13.0f} {r['ready_rss_mib']:>11.0f} "
                f"{r['load']:>5.1f}"
            )
    log(
        "(inside s: keel's campaign_create + campaign_draw after Django's set-up, pandas' read_sql + sample; "
        "before MiB: the peak before that, imports and set-up done)"
    )
    for rows, runs in results.items():
        k, p = runs["keel"], runs["pandas"]
        log(
            f"{rows:>12,} rows, pandas/keel: wall {p['wall_s'] / k['wall_s']:.2f}x, "
            f"peak RSS {p['peak_rss_mib'] / k['peak_rss_mib']:.1f}x "
            f"(pandas read {p['read_s']:.2f} s + sample {p['sample_s']:.2f} s; keel create {k['create_s']:.2f} s "
            f"+ draw {k['inside_s'] - k['create_s']:.2f} s)"
        )
    if len(results) > 1:
        small, big = min(results), max(results)
        k_small, k_big = results[small]["keel"], results[big]["keel"]
        above = [k["peak_rss_mib"] - k["ready_rss_mib"] for k in (k_small, k_big)]
        log(
            f"keel's peak RSS at {big:,} rows / at {small:,}: {k_big['peak_rss_mib'] / k_small['peak_rss_mib']:.2f}x "
            f"({k_small['peak_rss_mib']:.0f} → {k_big['peak_rss_mib']:.0f} MiB; above its set-up: "
            f"{above[0]:.0f} → {above[1]:.0f} MiB)"
        )


def draw_table(draw_rows: int, rate: float, database_url: str, filters: dict | None = None) -> dict:
    """Part 3 of relabel_sampling.py: build and measure a tenth of --draw-rows, then --draw-rows."""
    sizes = [draw_rows // 10, draw_rows] if draw_rows >= 10_000 else [draw_rows]
    log(f"\n3. Drawing {rate:.0%} of a prediction log in PostgreSQL: the app's campaign draw vs pandas read_sql")
    if filters:
        log(f"   filtered to {json.dumps(filters)}")
    with bench_support.scratch_database(database_url, "keel_draw_bench") as url:
        bench_support.setup_django(url)
        from django.contrib.auth import get_user_model
        from django.db import connection

        log(f"PostgreSQL {connection.pg_version}")
        actor, _ = get_user_model().objects.get_or_create(username="draw-bench-pipeline")
        results = {}
        for rows in sizes:
            log(f"\n{rows:,} logged predictions (load average {os.getloadavg()[0]:.1f})")
            model = build_log(rows, actor)
            results[rows] = measure(url, model.pk, actor.pk, rate, filters)
        report(results, rate)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draw-rows", type=int, default=10_000_000, help="rows of the biggest prediction log")
    parser.add_argument("--rate", type=float, default=0.01, help="sampling rate (default 1%%)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument(
        "--filters", type=json.loads, default={}, help='the campaign\'s {"surfaces": [...], "segment": {...}}'
    )
    parser.add_argument("--child", choices=("keel", "pandas"), help=argparse.SUPPRESS)
    parser.add_argument("--model", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--actor", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "keel":
        print(json.dumps(keel_child(args.model, args.actor, args.rate, args.filters)))
        return 0
    if args.child == "pandas":
        print(json.dumps(pandas_child(args.database_url, args.model, args.rate, args.filters)))
        return 0
    log(
        f"Keel relabelling draw benchmark; {platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    draw_table(args.draw_rows, args.rate, args.database_url, args.filters)
    return 0


if __name__ == "__main__":
    sys.exit(main())
