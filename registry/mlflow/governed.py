"""Aliases through the MLflow API, under Keel's rules.

A free alias moves as in MLflow, through the same service API v1 uses (alias_move), so AliasEvent
keeps who moved it and when. A governed alias (production, shadow, canary) never moves here: Keel
opens a promotion request for the version when it has what the gate needs, and answers
PERMISSION_DENIED naming the request, so the client sees that the alias did not move. What the gate
needs (registry.services.promotion.promotion_request_create): an artifact uploaded to Keel (its
bytes hashed and format checked; an MLflow `source` alone is not something the gate can score), a
hold-out dataset registered for the model for production and canary, and for a canary its traffic
share, which only API v1 can state."""

from mlops.errors import ApplicationError, Conflict
from mlops.roles import LOG_TRAINING, MOVE_ALIAS

from .. import selectors, services
from ..models import GOVERNED_ALIASES, OPEN_STATES, ModelVersion, PromotionAction, PromotionRequest
from ..services.promotion import HOLDOUT_REQUIRED
from .errors import PERMISSION_DENIED, MlflowError

__all__ = ["alias_set", "alias_remove"]

REASON = "Set through the MLflow API ({call})."


def _denied(message: str) -> MlflowError:
    return MlflowError(PERMISSION_DENIED, message)


def _missing(version: ModelVersion, alias: str) -> list[str]:
    model = version.model
    missing = []
    if not version.artifact:
        missing.append(
            f"an artifact uploaded to Keel with its sha256 (POST /api/v1/models/{model.name}/versions/"
            f"{version.version}/artifact); a source URI alone cannot be scored by the gate"
        )
    if alias in HOLDOUT_REQUIRED and not selectors.model_holdouts(model).exists():
        missing.append(f"a hold-out dataset for the model (POST /api/v1/models/{model.name}/holdouts/)")
    if alias == "canary":
        missing.append("a traffic share: request a canary through POST /api/v1/promotions/ with canary_percent")
    return missing


def _request_promotion(request, version: ModelVersion, alias: str, call: str) -> MlflowError:
    """The PERMISSION_DENIED to answer for a governed alias: naming the request opened (or already
    open) for this version, or what the version lacks for one."""
    model, user = version.model, request.user
    where = f"{model.name} v{version.version}"
    current = selectors.alias_map(model).get(alias)
    head = f"'{alias}' is governed by Keel and was not moved by the MLflow API"
    if current is not None and current.pk == version.pk:
        return None
    open_request = PromotionRequest.objects.filter(
        version=version, target_alias=alias, action=PromotionAction.PROMOTE, state__in=OPEN_STATES
    ).first()
    if open_request is None:
        if not user.has_perm(LOG_TRAINING):
            return _denied(f"{head}; your Keel role cannot request promotions.")
        missing = _missing(version, alias)
        if missing:
            return _denied(f"{head}. A promotion request for {where} needs " + "; ".join(missing) + ".")
        try:
            open_request = services.promotion_request_create(
                version=version,
                actor=user,
                reason=REASON.format(call=call),
                target_alias=alias,
                holdout=selectors.model_holdouts(model).first() if alias in HOLDOUT_REQUIRED else None,
            )
        except (ApplicationError, Conflict) as exc:
            return _denied(f"{head}: {exc.message}")
        opened = "opened"
    else:
        opened = "is already open"
    url = request.build_absolute_uri(f"/promotions/{open_request.pk}/")
    return _denied(
        f"{head}: promotion request #{open_request.pk} for {where} → {alias} {opened} ({url}); "
        f"{alias} stays at {f'v{current.version}' if current else 'no version'} until a reviewer approves it."
    )


def alias_set(request, version: ModelVersion, alias: str, call: str) -> None:
    if alias in GOVERNED_ALIASES:
        error = _request_promotion(request, version, alias, call)
        if error is not None:
            raise error
        return
    if not request.user.has_perm(MOVE_ALIAS):
        raise _denied(f"Your Keel role cannot move aliases; '{alias}' was not moved.")
    services.alias_move(
        model=version.model, alias=alias, version=version, actor=request.user, reason=REASON.format(call=call)
    )


def alias_remove(request, model, alias: str, call: str) -> None:
    if alias in GOVERNED_ALIASES:
        raise _denied(
            f"'{alias}' is governed by Keel and was not removed: production is replaced by a promotion or a "
            f"rollback, shadow and canary are switched off by a request (POST /api/v1/promotions/ with action=remove)."
        )
    if not request.user.has_perm(MOVE_ALIAS):
        raise _denied(f"Your Keel role cannot move aliases; '{alias}' was not removed.")
    if alias not in selectors.alias_map(model):
        return  # as MLflow: deleting an alias the model lacks is not an error
    services.alias_move(model=model, alias=alias, version=None, actor=request.user, reason=REASON.format(call=call))
