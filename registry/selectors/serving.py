"""What serves: production's history, rollback targets, the decision threshold that applies to a
version, canary shares, production's age, and the configuration serving systems read."""

from django.urls import reverse
from django.utils import timezone

from ..models import ModelVersion, PromotionRequest, PromotionState, RegisteredModel
from .catalog import PRODUCTION, alias_map
from .promotion import policy_for

__all__ = [
    "ROLLBACK_READY",
    "production_history",
    "rollback_targets",
    "applicable_threshold",
    "canary_percent",
    "model_health",
    "serving_config",
]


ROLLBACK_READY = 7  # approved versions kept ready to roll back to; their artifacts are never pruned


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


def applicable_threshold(version: ModelVersion, *chosen: float | None, approved: bool = False) -> float | None:
    """The decision threshold that applies to `version`: the first of `chosen` that is set (a
    reviewer's choice, the gate's proposal); else, with `approved`, the threshold approved with the
    version's latest production approval; else the version's own."""
    for value in chosen:
        if value is not None:
            return value
    if approved:
        found = (
            PromotionRequest.objects.filter(
                model_id=version.model_id,
                version=version,
                target_alias=PRODUCTION,
                state=PromotionState.APPROVED,
            )
            .order_by("-decided_at")
            .values_list("approved_threshold", flat=True)
            .first()
        )
        if found is not None:
            return found
    return version.decision_threshold


def canary_percent(model: RegisteredModel, version: ModelVersion) -> int | None:
    return (
        PromotionRequest.objects.filter(
            model=model,
            version=version,
            target_alias="canary",
            state=PromotionState.APPROVED,
        )
        .order_by("-decided_at")
        .values_list("canary_percent", flat=True)
        .first()
    )


def model_health(model: RegisteredModel, *, now=None) -> dict:
    """How old the production model is against the policy's staleness limit."""
    now = now or timezone.now()
    production = alias_map(model).get(PRODUCTION)
    limit = policy_for(model).staleness_days
    if production is None:
        return {"production": None, "age_days": None, "staleness_days": limit, "stale": False}
    trained = production.train_window_end
    reference = trained if trained else production.created_at.date()
    age = (now.date() - reference).days
    return {
        "production": production,
        "age_days": age,
        "staleness_days": limit,
        "stale": age > limit,
        "measured_from": "training data end" if trained else "registration",
    }


def serving_config(model: RegisteredModel) -> dict:
    """What serving systems need: production, its fallback, shadow and canary, each with artifact
    location, sha256 and decision threshold."""
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
            "threshold": applicable_threshold(version, approved=True),
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
