"""What MLflow's Run message shows of runs' logs, for a page of runs in one query: their params,
their current tags, the latest point of each metric and the logged models they named as outputs.

The MLflow client reads runs hundreds of times a training job (get_run, search_runs), and each query
is a round trip plus the ORM's SQL compilation, which together cost more than the database's work
(measured in benchmarks/README.md). So the four reads are one `UNION ALL` statement (per 1,000 runs; the
client's default page is 1,000) whose text is built by string formatting, not compiled by the ORM.
Table names come from the models; values are parameters. PostgreSQL and SQLite (3.25+, window
functions) run it alike."""

from dataclasses import dataclass, field

from django.db import connection

from ..models import LoggedModel, RunMetric, RunParam, RunTag

__all__ = ["RunLogs", "MetricPoint", "run_logs"]


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    is_nan: bool
    step: int
    timestamp: int


@dataclass
class RunLogs:
    """A run's logs as MLflow shows them, each list in the order MLflow's answer has it."""

    params: list[tuple[str, str]] = field(default_factory=list)  # by key
    tags: dict[str, str] = field(default_factory=dict)  # current values, by key
    metrics: list[MetricPoint] = field(default_factory=list)  # each key's latest point, by key
    outputs: list[tuple[str, int]] = field(default_factory=list)  # (model_id, step), as logged


# kind, run, key, text, number, flag, step, timestamp, order. A tag is its newest row (the flag says
# it was removed).
_SQL = """
SELECT 0, run_id, "key", "value", {number}, {flag}, {int}, {int}, id FROM {param} WHERE run_id IN ({ids})
UNION ALL
SELECT 1, run_id, "key", "value", {number}, removed, {int}, {int}, id FROM {tag} WHERE run_id IN ({ids})
UNION ALL
SELECT 2, run_id, "key", {text}, "value", is_nan, "step", "timestamp", id FROM ({latest}) points
UNION ALL
SELECT 3, run_id, model_id, {text}, {number}, {flag}, output_step, {int}, id FROM {model}
    WHERE run_id IN ({ids}) AND output_step IS NOT NULL
"""
# A metric's latest point: the highest step, then the newest timestamp, then the last logged. Two
# spellings of the same rule, each the faster on its database (measured on 30 runs of 500 points):
# PostgreSQL sorts the points once (7 ms; the probe below takes 14 ms there, its planner hashing the
# whole table), SQLite looks up each key's newest point in the (run, key, step, timestamp) index
# (1.3 ms; the window takes 14 ms there).
_LATEST = {
    "window": """
        SELECT run_id, "key", "value", is_nan, "step", "timestamp", id FROM (
            SELECT run_id, "key", "value", is_nan, "step", "timestamp", id, ROW_NUMBER() OVER (
                PARTITION BY run_id, "key" ORDER BY "step" DESC, "timestamp" DESC, id DESC
            ) AS latest FROM {metric} WHERE run_id IN ({ids})
        ) ranked WHERE latest = 1""",
    "probe": """
        SELECT p.run_id, p."key", p."value", p.is_nan, p."step", p."timestamp", p.id
          FROM (SELECT DISTINCT run_id, "key" FROM {metric} WHERE run_id IN ({ids})) k
          JOIN {metric} p ON p.id = (
              SELECT m.id FROM {metric} m WHERE m.run_id = k.run_id AND m."key" = k."key"
               ORDER BY m."step" DESC, m."timestamp" DESC, m.id DESC LIMIT 1)""",
}
# Typed NULLs: PostgreSQL resolves a UNION's column types pair by pair, and two bare NULLs are text.
_NULLS = {
    "text": "CAST(NULL AS TEXT)",
    "number": "CAST(NULL AS DOUBLE PRECISION)",
    "flag": "CAST(NULL AS BOOLEAN)",
    "int": "CAST(NULL AS BIGINT)",
}
_TABLES = {
    "param": RunParam._meta.db_table,
    "tag": RunTag._meta.db_table,
    "metric": RunMetric._meta.db_table,
    "model": LoggedModel._meta.db_table,
}


CHUNK = 1000  # runs a statement: 4,000 parameters


def _sql(count: int) -> str:
    latest = _LATEST["window" if connection.vendor == "postgresql" else "probe"]
    return _SQL.replace("{latest}", latest).format(ids=", ".join(["%s"] * count), **_TABLES, **_NULLS)


def run_logs(run_pks: list[int]) -> dict[int, RunLogs]:
    """The logs of these runs (by primary key), one `RunLogs` per run asked for."""
    logs = {pk: RunLogs() for pk in run_pks}
    if not logs:
        return logs
    pks = list(logs)
    rows = []
    with connection.cursor() as cursor:
        # A page may hold up to 50,000 runs (MLflow's limit): read in slices that stay well below
        # SQLite's 32,766 parameters a statement. One query for any page the client asks by default.
        for start in range(0, len(pks), CHUNK):
            chunk = pks[start : start + CHUNK]
            cursor.execute(_sql(len(chunk)), chunk * 4)
            rows.extend(cursor.fetchall())
    newest_tags: dict[int, dict[str, tuple[int, str, bool]]] = {pk: {} for pk in pks}
    models: dict[int, list[tuple[int, str, int]]] = {pk: [] for pk in pks}
    for kind, run, key, text, number, flag, step, timestamp, order in rows:
        if kind == 0:
            logs[run].params.append((key, text))
        elif kind == 1:
            newest = newest_tags[run].get(key)
            if newest is None or order > newest[0]:
                newest_tags[run][key] = (order, text, bool(flag))
        elif kind == 2:
            logs[run].metrics.append(MetricPoint(key, number, bool(flag), step, timestamp))
        else:
            models[run].append((order, key, step))
    for pk, run_logs_ in logs.items():
        run_logs_.params.sort()
        run_logs_.metrics.sort(key=lambda point: point.key)
        run_logs_.tags = {k: v for k, (_, v, removed) in sorted(newest_tags[pk].items()) if not removed}
        run_logs_.outputs = [(model_id, step) for _, model_id, step in sorted(models[pk])]
    return logs
