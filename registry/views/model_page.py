"""The model page, which both the catalog pages and the promotion pages render: the rollback form
lives on it, so a refused rollback is shown there, in place."""

from django.db.models import prefetch_related_objects
from django.shortcuts import render

from mlops.roles import ALLOW_PICKLES, APPROVE_PROMOTION, REGISTER_MODELS, VIEW_PROMOTIONS

from .. import selectors
from ..forms import CompareForm, PicklePolicyForm, RollbackForm
from ..models import RegisteredModel

__all__ = ["AGEING_SHARE", "model_detail_page", "model_panels", "pickle_panel"]

# Amber once the production model has used this share of the policy's staleness limit.
AGEING_SHARE = 0.8


def model_detail_page(request, model: RegisteredModel, *, rollback_form=None, pickle_form=None, status: int = 200):
    """The model page; the rollback and pickle-policy views render it too, to show their forms' errors in place."""
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
            **pickle_panel(request, model, pickle_form),
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
        rollback_form = RollbackForm(targets=selectors.rollback_targets(model, include_rolled_back=True))
    return {
        "serving": selectors.serving_config(model),
        "health": health,
        "recent_promotions": selectors.recent_promotions(model) if request.user.has_perm(VIEW_PROMOTIONS) else [],
        "may_request_promotion": request.user.has_perm(REGISTER_MODELS),
        "rollback_form": rollback_form if may_roll_back else None,
    }


def pickle_panel(request, model: RegisteredModel, form: PicklePolicyForm | None = None) -> dict:
    """Context for the model page's pickle-artifact panel: the decisions so far and, for a reviewer,
    the form that asks for the other state."""
    decisions = list(selectors.pickle_allowance_history(model)[:10])
    allowed = bool(decisions and decisions[0].allowed)
    if request.user.has_perm(ALLOW_PICKLES) and form is None:
        form = PicklePolicyForm(initial={"allowed": not allowed})
    return {
        "pickle_decisions": decisions,
        "pickles_allowed": allowed,
        "pickle_form": form if request.user.has_perm(ALLOW_PICKLES) else None,
    }
