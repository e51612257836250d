"""A logged model's metrics: the points a run logs with MLflow's `Metric.model_id` (and, optionally,
the dataset they were measured on). Each point is stored once, in the run's metric history
(services.run_log); the logged model gets a link to it (LoggedModelMetric), so MLflow's
`search_logged_models` can filter and order by it and the logged model answers it in `data.metrics`."""

import re
import time
from collections.abc import Iterable

from django.db import transaction

from mlops.errors import ApplicationError, NotFound

from ..models import DATASET_DIGEST_MAX, DATASET_NAME_MAX, LoggedModel, LoggedModelMetric, RunMetric, TrainingRun
from .catalog import _finite_metric, run_log

__all__ = ["run_log_with_models"]

MODEL_ID_RE = re.compile(r"m-[0-9a-f]{32}")


def _model_named(model_id, known: dict[str, LoggedModel]) -> LoggedModel:
    if not isinstance(model_id, str) or not MODEL_ID_RE.fullmatch(model_id) or model_id not in known:
        shown = model_id[:100] if isinstance(model_id, str) else model_id
        raise NotFound(f"Logged model with id '{shown}' not found.")
    return known[model_id]


def _dataset(item: dict, field: str, limit: int) -> str:
    value = item.get(field) or ""
    if not isinstance(value, str) or len(value) > limit:
        raise ApplicationError(f"A metric's {field} is text of at most {limit} characters.", field="metrics")
    return value


def run_log_with_models(
    *,
    run: TrainingRun,
    actor,
    params: Iterable[tuple[str, object]] = (),
    metrics: Iterable[dict] = (),
    tags: Iterable[tuple[str, str]] = (),
) -> dict[str, int]:
    """services.run_log, all or nothing, and each metric naming a logged model (`model_id`, with
    `dataset_name` / `dataset_digest`) linked to that model. An unknown or deleted logged model
    refuses the whole batch (NotFound). A point logged again links nothing twice."""
    # The time is fixed here, so the point linked is the one run_log stores.
    now_ms = int(time.time() * 1000)
    metrics = [dict(m, timestamp=m.get("timestamp") or now_ms) if isinstance(m, dict) else m for m in metrics]
    named = [m for m in metrics if isinstance(m, dict) and m.get("model_id")]
    ids = {m["model_id"] for m in named if isinstance(m["model_id"], str) and MODEL_ID_RE.fullmatch(m["model_id"])}
    known = {lm.model_id: lm for lm in LoggedModel.objects.filter(model_id__in=ids, deleted_at__isnull=True)}
    wanted = [
        (
            _model_named(m["model_id"], known),
            m,
            _dataset(m, "dataset_name", DATASET_NAME_MAX),
            _dataset(m, "dataset_digest", DATASET_DIGEST_MAX),
        )
        for m in named
    ]
    if not wanted:
        # run_log is all or nothing by itself: no outer transaction, so no savepoint round trips.
        return run_log(run=run, actor=actor, params=params, metrics=metrics, tags=tags)
    with transaction.atomic():
        counts = run_log(run=run, actor=actor, params=params, metrics=metrics, tags=tags)
        counts["model_metrics"] = _link(run, wanted)
    return counts


def _link(run: TrainingRun, wanted: list) -> int:
    keys = {m["key"] for _, m, _, _ in wanted}
    points = {}
    for point in RunMetric.objects.filter(
        run=run, key__in=keys, timestamp__in={m["timestamp"] for _, m, _, _ in wanted}
    ):
        points[(point.key, point.step, point.timestamp, point.value, point.is_nan)] = point
    links = []
    for logged, item, dataset_name, dataset_digest in wanted:
        # As run_log stored it (NaN as a flag, infinities clamped): run_log has checked the value.
        value, is_nan = _finite_metric(item["key"], item["value"])
        point = points[(item["key"], item.get("step", 0) or 0, item["timestamp"], value, is_nan)]
        links.append(
            LoggedModelMetric(
                logged_model=logged, point=point, dataset_name=dataset_name, dataset_digest=dataset_digest
            )
        )
    return len(LoggedModelMetric.objects.bulk_create(links, ignore_conflicts=True))
