"""A relabelling campaign's results page, for leads (pipelines read the same through the API):
progress, the live estimate with its intervals, the trend across the model's campaigns beside the
hold-out accuracy, the error patterns, and links to the corrected labels. Labellers are sent to the
labelling card instead: the results are not theirs to read."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from mlops.errors import ApplicationError, NotFound
from mlops.permissions import permission_required_403, roles_needed
from mlops.png import png_response
from mlops.roles import CREATE_RELABEL_CAMPAIGNS, LABEL_ITEMS, LEAD_RELABELLING, VIEW_RELABEL_RESULTS
from registry import selectors as registry_selectors

from .. import plots, selectors, services
from ..models import CampaignState

__all__ = ["relabel_campaign", "relabel_campaign_close", "relabel_campaign_trend"]

results_reader_required = permission_required_403(VIEW_RELABEL_RESULTS)
EXPORT_FORMATS = (("csv", "CSV"), ("parquet", "Parquet"), ("jsonl", "JSON lines"))


def _campaign(request, pk: int):
    try:
        return selectors.campaign_get(pk, request.user)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


@login_required
@require_GET
def relabel_campaign(request, pk: int):
    if not request.user.has_perm(VIEW_RELABEL_RESULTS) and request.user.has_perm(LABEL_ITEMS):
        return redirect("relabel:label", pk=pk)
    if not request.user.has_perm(VIEW_RELABEL_RESULTS):
        raise PermissionDenied(roles_needed(VIEW_RELABEL_RESULTS))
    campaign = _campaign(request, pk)
    estimates = selectors.campaign_latest_estimates(campaign)
    patterns = selectors.campaign_error_patterns(campaign)
    return render(
        request,
        "audits/relabel/campaign_detail.html",
        {
            "campaign": campaign,
            "model": campaign.model,
            "progress": selectors.campaign_progress(campaign),
            "estimates": estimates,
            "minimum": registry_selectors.live_accuracy_minimum(campaign.model),
            "trend": selectors.model_estimate_trend(campaign.model),
            "patterns": patterns.to_dict(orient="records"),
            "exports": [
                (label, reverse("audits-api:relabel-campaign-labels", args=[pk]) + f"?format={fmt}")
                for fmt, label in EXPORT_FORMATS
            ],
            "estimate_api": reverse("audits-api:relabel-campaign-estimate", args=[pk]),
            "may_lead": request.user.has_perm(LEAD_RELABELLING),
            "may_close": campaign.state == CampaignState.OPEN and request.user.has_perm(CREATE_RELABEL_CAMPAIGNS),
        },
    )


@results_reader_required
@require_GET
def relabel_campaign_trend(request, pk: int):
    """The model's live accuracy across its campaigns with the hold-out accuracy beside it (PNG)."""
    campaign = _campaign(request, pk)
    minimum = registry_selectors.live_accuracy_minimum(campaign.model)
    points = selectors.model_estimate_trend(campaign.model)
    return png_response(plots.relabel_trend_png(points, minimum=minimum["value"] if minimum else None))


@permission_required_403(CREATE_RELABEL_CAMPAIGNS)
@require_POST
def relabel_campaign_close(request, pk: int):
    """Close the campaign: it takes no more answers, and its final estimate is computed."""
    campaign = _campaign(request, pk)
    try:
        services.campaign_close(campaign=campaign, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{campaign.name} is closed: its final estimate is being computed.")
    return redirect("relabel:campaign", pk=pk)
