"""Reads of the registry shared by pages, the API and later the promotion gate."""

from django.db.models import OuterRef, QuerySet, Subquery

from mlops.errors import NotFound

from .config_diff import DiffRow, diff_configs
from .models import AliasEvent, ModelAlias, ModelVersion, RegisteredModel, TrainingRun

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
    tags are never edited in place, so the newest row of a key is its value."""
    latest: dict[str, tuple[int, str]] = {}
    for row in rows:
        if row.key not in latest or row.id > latest[row.key][0]:
            latest[row.key] = (row.id, row.value)
    return {key: value for key, (_, value) in sorted(latest.items())}


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


def versions_for_api(model: RegisteredModel) -> QuerySet[ModelVersion]:
    return model.versions.select_related("model", "run", "created_by").prefetch_related(
        "tags", "aliases", "artifact_checks")


def runs_for_api() -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("experiment", "created_by").prefetch_related("params", "metrics", "tags")


# --- promotion governance -------------------------------------------------------------------------

ROLLBACK_READY = 7  # approved versions kept ready to roll back to; their artifacts are never pruned


def policy_for(model: RegisteredModel):
    """The model's promotion policy, or the defaults (unsaved) when nobody has edited one yet."""
    from .models import PromotionPolicy

    return PromotionPolicy.objects.filter(model=model).first() or PromotionPolicy(model=model)


def policy_as_dict(policy) -> dict:
    names = [f.name for f in policy._meta.fields if f.name not in ("id", "model", "updated_by", "updated_at")]
    return {name: getattr(policy, name) for name in names}


def production_history(model: RegisteredModel) -> list[ModelVersion]:
    """Versions that served as production, most recent first, each once."""
    seen: dict[int, ModelVersion] = {}
    events = model.alias_events.filter(alias=PRODUCTION, to_version__isnull=False).select_related("to_version")
    for event in events.order_by("-created_at", "-id"):
        seen.setdefault(event.to_version_id, event.to_version)
    return list(seen.values())


def rollback_targets(model: RegisteredModel) -> list[ModelVersion]:
    """Earlier production versions one click can restore: the last seven, artifacts present."""
    current = alias_map(model).get(PRODUCTION)
    return [v for v in production_history(model) if v != current and v.artifact][:ROLLBACK_READY]


def serving_threshold(model: RegisteredModel, version: ModelVersion) -> float | None:
    """The threshold approved with the version's latest production approval, else the version's own."""
    from .models import PromotionRequest, PromotionState

    approved = PromotionRequest.objects.filter(
        model=model, version=version, target_alias=PRODUCTION, state=PromotionState.APPROVED,
    ).order_by("-decided_at").values_list("approved_threshold", flat=True).first()
    return approved if approved is not None else version.decision_threshold


def canary_percent(model: RegisteredModel, version: ModelVersion) -> int | None:
    from .models import PromotionRequest, PromotionState

    return PromotionRequest.objects.filter(
        model=model, version=version, target_alias="canary", state=PromotionState.APPROVED,
    ).order_by("-decided_at").values_list("canary_percent", flat=True).first()


def model_health(model: RegisteredModel, *, now=None) -> dict:
    """How old the production model is against the policy's staleness limit."""
    from django.utils import timezone

    now = now or timezone.now()
    production = alias_map(model).get(PRODUCTION)
    limit = policy_for(model).staleness_days
    if production is None:
        return {"production": None, "age_days": None, "staleness_days": limit, "stale": False}
    trained = production.train_window_end
    reference = trained if trained else production.created_at.date()
    age = (now.date() - reference).days
    return {"production": production, "age_days": age, "staleness_days": limit, "stale": age > limit,
            "measured_from": "training data end" if trained else "registration"}


def audit_status_for_holdout(holdout) -> dict:
    """The latest data-audit verdict for the hold-out data, for the gate to cite.

    The registry reads audits only through here (DESIGN.md): an audit of the very same bytes (same
    sha256) is the one that speaks for this hold-out.
    """
    from audits.selectors import latest_audit_of_bytes

    job = latest_audit_of_bytes(model=holdout.model, sha256=holdout.sha256)
    if job is None:
        return {"status": "not_audited", "detail": "No data audit has run on this hold-out data yet."}
    return {"status": job.verdict, "audit_id": job.pk, "finished_at": job.finished_at.isoformat(),
            "detail": f"Audit #{job.pk} of these exact bytes: {job.verdict}."}


def serving_config(model: RegisteredModel) -> dict:
    """What serving systems need: production, its fallback, shadow and canary, each with artifact
    location, sha256 and decision threshold."""
    from django.urls import reverse

    aliases = alias_map(model)
    production = aliases.get(PRODUCTION)
    fallback = next((v for v in production_history(model) if v != production and v.artifact), None)

    def describe(version: ModelVersion | None) -> dict | None:
        if version is None:
            return None
        return {
            "version": version.version,
            "flavor": version.flavor,
            "artifact_url": reverse("api:version-artifact", args=[model.name, version.version]),
            "sha256": version.artifact_sha256,
            "threshold": serving_threshold(model, version),
            "feature_schema": version.feature_schema,
        }

    canary = aliases.get("canary")
    return {
        "model": model.name,
        "task_type": model.task_type,
        "production": describe(production),
        "fallback": describe(fallback),
        "shadow": describe(aliases.get("shadow")),
        "canary": None if canary is None else {**describe(canary), "percent": canary_percent(model, canary)},
    }
