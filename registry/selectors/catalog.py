"""Reads of the catalog: models, versions, aliases, runs and what defines a version."""

from django.db.models import OuterRef, QuerySet, Subquery

from mlops.errors import NotFound

from ..config_diff import DiffRow, diff_configs
from ..models import AliasEvent, Experiment, ModelAlias, ModelVersion, RegisteredModel, RunMetric, TrainingRun

__all__ = [
    "PRODUCTION",
    "model_overview",
    "alias_map",
    "versions_with_aliases",
    "alias_history",
    "latest_tags",
    "latest_metrics",
    "metrics_table",
    "version_config",
    "version_diff",
    "run_metric_history",
    "run_metric_history_by_run_id",
    "model_get",
    "version_get",
    "run_get",
    "experiment_get",
    "experiment_get_by_name",
    "versions_for_api",
    "runs_for_api",
]


PRODUCTION = "production"


def model_overview() -> QuerySet[RegisteredModel]:
    """Models with their production version number and when their newest version was registered."""
    production = ModelAlias.objects.filter(model=OuterRef("pk"), name=PRODUCTION)
    newest = ModelVersion.objects.filter(model=OuterRef("pk")).order_by("-version")
    return RegisteredModel.objects.select_related("owner").annotate(
        production_version=Subquery(production.values("version__version")[:1]),
        production_since=Subquery(production.values("updated_at")[:1]),
        latest_version=Subquery(newest.values("version")[:1]),
        last_refreshed_at=Subquery(newest.values("created_at")[:1]),
    )


def alias_map(model: RegisteredModel) -> dict[str, ModelVersion]:
    return {a.name: a.version for a in model.aliases.select_related("version")}


def versions_with_aliases(model: RegisteredModel) -> list[ModelVersion]:
    """Newest first, each with `.alias_names` set: the version timeline."""
    versions = list(model.versions.select_related("created_by", "run").order_by("-version"))
    names: dict[int, list[str]] = {}
    for alias in model.aliases.all():
        names.setdefault(alias.version_id, []).append(alias.name)
    for version in versions:
        version.alias_names = sorted(names.get(version.pk, []))
    return versions


def alias_history(model: RegisteredModel) -> QuerySet[AliasEvent]:
    return model.alias_events.select_related("from_version", "to_version", "actor")


def latest_tags(rows) -> dict[str, str]:
    """The current value of each tag from its history rows (a queryset or prefetched rows):
    tags are never edited in place, so the newest row of a key is its value (none if that row
    removes the tag)."""
    latest: dict[str, tuple[int, str, bool]] = {}
    for row in rows:
        if row.key not in latest or row.id > latest[row.key][0]:
            latest[row.key] = (row.id, row.value, bool(row.removed))
    # A tag whose newest row removes it has no value.
    return {key: value for key, (_, value, removed) in sorted(latest.items()) if not removed}


def latest_metrics(points) -> dict[str, float | None]:
    """Each metric's latest value (highest step, then newest timestamp, as MLflow's "latest"), None
    for NaN, from a run's metric points (a queryset or prefetched rows)."""
    latest = {}
    for point in points:
        best = latest.get(point.key)
        if best is None or (point.step, point.timestamp) >= (best.step, best.timestamp):
            latest[point.key] = point
    return {key: (None if p.is_nan else p.value) for key, p in sorted(latest.items())}


def metrics_table(versions: list[ModelVersion]) -> tuple[list[str], list[tuple[ModelVersion, list]]]:
    """Metric names across versions and, per version, its value for each name (None when absent)."""
    keys = sorted({key for v in versions for key in v.metrics})
    return keys, [(v, [v.metrics.get(key) for key in keys]) for v in versions]


def _feature_label(feature: dict) -> str:
    return feature["type"] + (", categorical" if feature.get("categorical") else "")


def version_config(version: ModelVersion) -> dict[str, dict]:
    """What defines a version, by section, in the shape config_diff compares."""
    return {
        "Decision": {
            "decision_threshold": version.decision_threshold,
            "flavor": version.flavor,
        },
        "Training data": {
            "window_start": version.train_window_start.isoformat() if version.train_window_start else None,
            "window_end": version.train_window_end.isoformat() if version.train_window_end else None,
            "dataset_uri": version.dataset_uri or None,
            "dataset_sha256": version.dataset_sha256 or None,
        },
        "Code": {
            "code_commit": version.code_commit or None,
            "training_run": version.run.run_id if version.run_id else None,
        },
        "Hyperparameters": dict(sorted(version.hyperparameters.items())),
        "Feature schema": {f["name"]: _feature_label(f) for f in version.feature_schema},
        "Metrics": dict(sorted(version.metrics.items())),
    }


def version_diff(left: ModelVersion, right: ModelVersion) -> list[DiffRow]:
    return diff_configs(version_config(left), version_config(right))


def run_metric_history(run: TrainingRun, key: str) -> QuerySet:
    return run.metrics.filter(key=key).order_by("step", "timestamp")


def run_metric_history_by_run_id(run_id: str, key: str) -> QuerySet[RunMetric]:
    """A metric's points for a run named by its run_id, read without reading the run first (empty
    for a run that does not exist as for a metric never logged)."""
    return RunMetric.objects.filter(run__run_id=run_id, key=key).order_by("step", "timestamp")


def model_get(name: str) -> RegisteredModel:
    model = RegisteredModel.objects.select_related("owner").filter(name=name).first()
    if model is None:
        raise NotFound(f"No model named '{name}'.")
    return model


def version_get(model: RegisteredModel, number: int) -> ModelVersion:
    version = model.versions.select_related("model", "run").filter(version=number).first()
    if version is None:
        raise NotFound(f"Model '{model.name}' has no version {number}.")
    return version


def run_get(run_id: str) -> TrainingRun:
    run = TrainingRun.objects.select_related("experiment").filter(run_id=run_id).first()
    if run is None:
        raise NotFound(f"No training run with id '{run_id}'.")
    return run


def experiment_get(pk: int) -> Experiment:
    experiment = Experiment.objects.filter(pk=pk).first()
    if experiment is None:
        raise NotFound(f"No experiment with id '{pk}'.")
    return experiment


def experiment_get_by_name(name: str) -> Experiment:
    experiment = Experiment.objects.filter(name=name).first()
    if experiment is None:
        raise NotFound(f"No experiment named '{name}'.")
    return experiment


def versions_for_api(model: RegisteredModel) -> QuerySet[ModelVersion]:
    return model.versions.select_related("model", "run", "created_by", "logged_model").prefetch_related(
        "tags", "aliases", "artifact_checks"
    )


def runs_for_api() -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("experiment", "created_by").prefetch_related(
        "params", "metrics", "tags", "artifacts", "logged_models__artifacts"
    )
