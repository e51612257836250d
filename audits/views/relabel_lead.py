"""Pages of relabelling leads (reviewers): the disputed items of a campaign with one decision form
each, gold items, and the team's agreement and per-labeller figures. Thin: selectors read, one
service call writes, and a service's refusal comes back on the form."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from mlops.errors import ApplicationError
from mlops.forms import show_service_error
from mlops.permissions import permission_required_403
from mlops.roles import LEAD_RELABELLING

from .. import selectors, services
from ..forms import AdjudicateForm, GoldForm
from ..models import UNSURE

__all__ = ["lead_adjudicate", "lead_gold", "lead_team"]

lead_required = permission_required_403(LEAD_RELABELLING)


def _decision_labels(campaign) -> list[str]:
    return [label for label in campaign.label_set if label != UNSURE]


@require_http_methods(["GET", "POST"])
@lead_required
def lead_adjudicate(request, pk: int):
    """The disputed items, oldest first; each lead's decision settles one and takes it off the list."""
    campaign = selectors.campaign_get(pk, request.user)
    failed, status = None, 200
    if request.method == "POST":
        form = AdjudicateForm(request.POST)
        if form.is_valid():
            item = selectors.relabel_item_get(form.cleaned_data["item"])
            try:
                if item.campaign_id != campaign.pk:
                    raise ApplicationError("This item is not in this campaign.", field="item")
                services.item_adjudicate(
                    lead=request.user, item=item, label=form.cleaned_data["label"], note=form.cleaned_data["note"]
                )
            except ApplicationError as exc:
                show_service_error(form, exc)
                status = exc.status_code
            else:
                messages.success(request, f"Item {item.pk} decided: {form.cleaned_data['label']}.")
                return redirect("relabel:lead-adjudicate", pk=campaign.pk)
        else:
            status = 400
        failed = form
    disputes = selectors.campaign_disputes(campaign)
    for dispute in disputes:
        dispute["form"] = failed if failed is not None and failed.data.get("item") == str(dispute["item"].pk) else None
    # A refusal about an item not on the list (decided meanwhile, another campaign's) shows above it.
    elsewhere = failed if failed is not None and not any(d["form"] for d in disputes) else None
    return render(
        request,
        "audits/relabel/lead_adjudicate.html",
        {
            "campaign": campaign,
            "disputes": disputes,
            "failed_elsewhere": elsewhere,
            "labels": _decision_labels(campaign),
            "tab": "adjudicate",
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@lead_required
def lead_gold(request, pk: int):
    """The campaign's gold items and how labellers did on each; a form adds more."""
    campaign = selectors.campaign_get(pk, request.user)
    form, status = GoldForm(request.POST or None), 200
    if request.method == "POST":
        if form.is_valid():
            try:
                added = services.gold_items_add(lead=request.user, campaign=campaign, items=form.cleaned_data["lines"])
            except ApplicationError as exc:
                show_service_error(form, exc, rename={"items": "lines"})
                status = exc.status_code
            else:
                messages.success(request, f"{len(added)} gold item{'s' if len(added) != 1 else ''} added.")
                return redirect("relabel:lead-gold", pk=campaign.pk)
        else:
            status = 400
    return render(
        request,
        "audits/relabel/lead_gold.html",
        {
            "campaign": campaign,
            "form": form,
            "gold_items": selectors.campaign_gold_items(campaign),
            "labels": _decision_labels(campaign),
            "tab": "gold",
        },
        status=status,
    )


@require_GET
@lead_required
def lead_team(request, pk: int):
    """How well the campaign's labellers agree, and each labeller's figures."""
    campaign = selectors.campaign_get(pk, request.user)
    return render(
        request,
        "audits/relabel/lead_team.html",
        {
            "campaign": campaign,
            "agreement": selectors.campaign_agreement(campaign),
            "labellers": selectors.campaign_labeller_figures(campaign),
            "tab": "team",
        },
    )
