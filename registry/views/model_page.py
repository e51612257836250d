"""The model page, which both the catalog pages and the promotion pages render: the rollback form
lives on it, so a refused rollback is shown there, in place."""

from django.db.models import prefetch_related_objects
from django.shortcuts import render

from mlops.roles import APPROVE_PROMOTION, REGISTER_MODELS, VIEW_PROMOTIONS

from .. import selectors
from ..forms import CompareForm, RollbackForm
from ..models import RegisteredModel

__all__ = ["AGEING_SHARE", "model_detail_page", "model_panels"]

# Amber once the production model has used this share of the policy's staleness limit.
AGEING_SHARE = 0.8


def model_detail_page(request, model: RegisteredModel, *, rollback_form=None, status: int = 200):
    """The model page; the rollback view renders it too, to show its form's errors in place."""
    versions = selectors.versions_with_aliases(model)
    # One query for every version's checks; ArtifactCheck's ordering puts the newest first, which the
    # timeline shows as the artifact's current status.
    prefetch_related_objects(versions, "artifact_checks")
    metric_names, metric_rows = selectors.metrics_table(versions)
    return render(
        request,
        "registry/model_detail.html",
        {
            "model": model,
            "aliases": sorted(selectors.alias_map(model).items()),
            "versions": versions,
            "history": selectors.alias_history(model),
            "metric_names": metric_names,
            "metric_rows": metric_rows,
            "compare_form": CompareForm(model=model),
            **model_panels(request, model, rollback_form=rollback_form),
        },
        status=status,
    )


def model_panels(request, model: RegisteredModel, *, rollback_form: RollbackForm | None = None) -> dict:
    """Context for the serving, health, promotions and rollback panels of the model page."""
    health = selectors.model_health(model)
    if health["production"] is None:
        health["level"] = "none"
    elif health["stale"]:
        health["level"] = "bad"
    else:
        health["level"] = "warn" if health["age_days"] >= AGEING_SHARE * health["staleness_days"] else "ok"
    may_roll_back = request.user.has_perm(APPROVE_PROMOTION)
    if may_roll_back and rollback_form is None:
        rollback_form = RollbackForm(targets=selectors.rollback_targets(model))
    return {
        "serving": selectors.serving_config(model),
        "health": health,
        "recent_promotions": selectors.recent_promotions(model) if request.user.has_perm(VIEW_PROMOTIONS) else [],
        "may_request_promotion": request.user.has_perm(REGISTER_MODELS),
        "rollback_form": rollback_form if may_roll_back else None,
    }
