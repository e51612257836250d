"""What serves: production's history, rollback targets with their history, the decision threshold
that applies to a version in a role, canary shares, production's age, and the configuration serving
systems read."""

from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse
from django.utils import timezone

from ..models import (
    ModelVersion,
    PromotionAction,
    PromotionEvent,
    PromotionRequest,
    PromotionState,
    RegisteredModel,
)
from .catalog import PRODUCTION, alias_map
from .promotion import policy_for

__all__ = [
    "ROLLBACK_READY",
    "production_history",
    "RollbackTarget",
    "rollback_targets",
    "rollback_history",
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


@dataclass(frozen=True)
class RollbackTarget:
    """An earlier production version with its history: the approval that put it in production
    (when, by whom) and, if production was later rolled back past it, when, by whom and why."""

    version: ModelVersion
    approved_at: datetime | None = None
    approved_by: object = None
    rolled_back_at: datetime | None = None
    rolled_back_by: object = None
    rolled_back_reason: str = ""

    @property
    def rolled_back(self) -> bool:
        """Rolled back since its latest approval: restoring it needs a confirmation."""
        return self.rolled_back_at is not None and (self.approved_at is None or self.rolled_back_at >= self.approved_at)


def rollback_history(model: RegisteredModel, versions: list[ModelVersion]) -> list[RollbackTarget]:
    """Each of `versions` with its latest production approval and the latest rollback past it."""
    requests = (
        PromotionRequest.objects.filter(
            model=model,
            version__in=versions,
            target_alias=PRODUCTION,
            action=PromotionAction.PROMOTE,
            state__in=(PromotionState.APPROVED, PromotionState.ROLLED_BACK),
        )
        .select_related("decided_by")
        .order_by("decided_at", "id")
    )
    approvals = {r.version_id: r for r in requests}
    rollbacks = {
        e.request.version_id: e
        for e in PromotionEvent.objects.filter(request__in=requests, to_state=PromotionState.ROLLED_BACK)
        .select_related("actor", "request")
        .order_by("created_at", "id")
    }
    found = []
    for version in versions:
        approval, rollback = approvals.get(version.pk), rollbacks.get(version.pk)
        found.append(
            RollbackTarget(
                version=version,
                approved_at=approval.decided_at if approval else None,
                approved_by=approval.decided_by if approval else None,
                rolled_back_at=rollback.created_at if rollback else None,
                rolled_back_by=rollback.actor if rollback else None,
                rolled_back_reason=rollback.note if rollback else "",
            )
        )
    return found


def rollback_targets(model: RegisteredModel, *, include_rolled_back: bool = False) -> list[RollbackTarget]:
    """Earlier production versions a rollback can restore (the last seven, artifacts present), with
    their history. Versions rolled back since their approval are left out unless asked for."""
    current = alias_map(model).get(PRODUCTION)
    ready = [v for v in production_history(model) if v != current and v.artifact][:ROLLBACK_READY]
    return [t for t in rollback_history(model, ready) if include_rolled_back or not t.rolled_back]


def applicable_threshold(
    version: ModelVersion, *chosen: float | None, approved: bool = False, role: str = PRODUCTION
) -> float | None:
    """The decision threshold that applies to `version`: the first of `chosen` that is set (a
    reviewer's choice, the gate's proposal); else, with `approved`, the threshold approved with the
    version's latest approval for `role` (production, shadow, canary), even if production was rolled
    back past it since; else the version's own."""
    for value in chosen:
        if value is not None:
            return value
    if approved:
        found = (
            PromotionRequest.objects.filter(
                model_id=version.model_id,
                version=version,
                target_alias=role,
                action=PromotionAction.PROMOTE,
                state__in=(PromotionState.APPROVED, PromotionState.ROLLED_BACK),
                approved_threshold__isnull=False,
            )
            .order_by("-decided_at", "-id")
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
    """What serving systems need: production, its fallback (the latest earlier production version
    that was not rolled back), shadow and canary, each with artifact location, sha256 and the decision
    threshold approved for that version in that role (the fallback's: as production)."""
    aliases = alias_map(model)
    production = aliases.get(PRODUCTION)
    fallback = next(iter(rollback_targets(model)), None)

    def describe(version: ModelVersion | None, role: str = PRODUCTION) -> dict | None:
        if version is None:
            return None
        return {
            "version": version.version,
            "flavor": version.flavor,
            "artifact_url": reverse("api:version-artifact", args=[model.name, version.version]),
            "sha256": version.artifact_sha256,
            "threshold": applicable_threshold(version, approved=True, role=role),
            "feature_schema": version.feature_schema,
        }

    canary = aliases.get("canary")
    return {
        "model": model.name,
        "task_type": model.task_type,
        "production": describe(production),
        "fallback": describe(fallback and fallback.version),
        "shadow": describe(aliases.get("shadow"), "shadow"),
        "canary": None if canary is None else {**describe(canary, "canary"), "percent": canary_percent(model, canary)},
    }
