"""The labeller's pages, mounted at /relabel/: the campaigns open for labelling, and the card of the
next item (the prediction, its inputs and reasons) answered with a label, "unsure" or a note.

Blind: a card never shows another labeller's answer to its item; once the labeller answered, the next
card tells them how their last answer stands against the others'. Plain POST forms work without
JavaScript; audits/static/audits/relabel.js adds the keyboard (1–9, u, n, Enter, ←). The items a
labeller answered in this browser session are kept in the session, so ← can take them back to one and
they can answer again (a later answer supersedes; answers are append-only). Roles: LABEL_ITEMS
(labellers) label; LEAD_RELABELLING (reviewers) may look at the list too.
"""

import math

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from mlops.errors import ApplicationError, Conflict, NotFound
from mlops.permissions import permission_required_403, roles_needed
from mlops.roles import LABEL_ITEMS, LEAD_RELABELLING, VIEW_RELABEL_RESULTS

from .. import selectors, services
from ..forms import LabelAnswerForm
from ..models import UNSURE, CampaignState, RelabelCampaign, RelabelItem
from ..services.relabel import consensus as item_consensus

__all__ = ["relabel_label", "relabel_list"]

labeller_required = permission_required_403(LABEL_ITEMS)
HISTORY = 50  # items of a campaign remembered per session for going back
DIGIT_LABELS = 9
MAX_SECONDS = 24 * 3600  # a card left open longer than a day says nothing about the time an item takes


def _labeller_or_lead(view):
    def wrapped(request, *args, **kwargs):
        if not (request.user.has_perm(LABEL_ITEMS) or request.user.has_perm(LEAD_RELABELLING)):
            raise PermissionDenied(roles_needed(LABEL_ITEMS))
        return view(request, *args, **kwargs)

    wrapped.__wrapped__ = view
    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@require_GET
@_labeller_or_lead
def relabel_list(request):
    """The campaigns open for labelling, each with its progress and what is left for the user; those
    who read results (leads) see every campaign, each linked to its results page."""
    may_read_results = request.user.has_perm(VIEW_RELABEL_RESULTS)
    campaigns = selectors.campaigns_for(request.user)
    if not may_read_results:
        campaigns = campaigns.filter(state=CampaignState.OPEN)
    campaigns = list(campaigns.order_by("-created_at")[:200])
    for campaign in campaigns:
        campaign.progress = selectors.campaign_progress(campaign)
        campaign.mine = selectors.labeller_counts(campaign, request.user)
    return render(
        request,
        "audits/relabel/list.html",
        {"campaigns": campaigns, "may_label": request.user.has_perm(LABEL_ITEMS), "may_read_results": may_read_results},
    )


# --- the card -----------------------------------------------------------------------------------


def _session_key(campaign) -> str:
    return f"relabel-{campaign.pk}"


def _history(request, campaign) -> dict:
    return request.session.get(_session_key(campaign)) or {"answered": [], "last": None}


def _previous(request, campaign, item_id: int | None = None) -> int | None:
    """The item answered before `item_id` in this session (before the current card when None)."""
    answered = _history(request, campaign)["answered"]
    if item_id is not None:
        answered = answered[: answered.index(item_id)] if item_id in answered else []
    return answered[-1] if answered else None


def _remember(request, campaign, item_id: int) -> None:
    state = _history(request, campaign)
    answered = [pk for pk in state["answered"] if pk != item_id] + [item_id]
    request.session[_session_key(campaign)] = {"answered": answered[-HISTORY:], "last": item_id}


class _Closed(Exception):
    """The campaign exists but is no longer open to this labeller."""


def _campaign(request, pk: int) -> RelabelCampaign:
    """The campaign, open for labelling; one that closed sends the labeller back to the list."""
    try:
        return selectors.campaign_get(pk, request.user)
    except NotFound:
        if RelabelCampaign.objects.filter(pk=pk).exists():
            raise _Closed from None
        raise


def _closed_response(request):
    messages.warning(request, "That campaign is not open for labelling any more; choose another one.")
    return redirect("relabel:list")


def _features(prediction) -> list[dict]:
    """One row per feature: the raw serving input beside the processed value where both are logged."""
    raw, processed = prediction.raw_features or {}, prediction.features or {}
    names = list(processed) + [name for name in raw if name not in processed]
    return [
        {"name": name, "raw": raw.get(name, ""), "has_raw": name in raw, "value": processed.get(name, "")}
        for name in names
    ]


def _labels(campaign) -> list[dict]:
    """The campaign's labels with their keys: 1–9 in order, "unsure" on u."""
    found, digit = [], 0
    for label in campaign.label_set:
        if label == UNSURE:
            key = "u"
        else:
            digit += 1
            key = str(digit) if digit <= DIGIT_LABELS else ""
        found.append({"label": label, "key": key})
    return found


def _estimate(campaign) -> dict | None:
    # The stored estimate, refreshed in the background shortly after answers: computing it here would
    # cost the card time that grows with the answers given.
    stored = selectors.campaign_latest_estimate(campaign)
    if stored is None or stored.accuracy is None:
        return None
    estimate = selectors.estimate_as_dict(stored)
    accuracy = estimate["accuracy"]

    def percent(value):
        return "–" if value is None else f"{100 * value:.1f}%"

    return {
        "settled": estimate["settled"],
        "wrong": estimate["wrong"],
        "accuracy": percent(accuracy["value"]),
        "low": percent(accuracy.get("low")),
        "high": percent(accuracy.get("high")),
        "method": accuracy.get("method", ""),
    }


def _last_answer(request, campaign) -> dict | None:
    """How the labeller's last answer stands: shown once, on the card after it."""
    key = _session_key(campaign)
    state = request.session.get(key)
    if not state or not state.get("last"):
        return None
    item = RelabelItem.objects.filter(pk=state["last"], campaign=campaign).first()
    request.session[key] = {**state, "last": None}
    answer = item and selectors.labeller_answer(item, request.user)
    if answer is None:
        return None
    found = item_consensus(item)
    return {"label": answer.label, "agree": found["counts"].get(answer.label, 0), **found}


def _context(request, campaign, **extra) -> dict:
    state = _history(request, campaign)
    return {
        "campaign": campaign,
        "progress": selectors.campaign_progress(campaign),
        "mine": selectors.labeller_counts(campaign, request.user),
        "estimate": _estimate(campaign),
        "answered": state["answered"],
        **extra,
    }


def _card(request, campaign, item, *, review: bool, form=None):
    prediction = item.prediction
    mine = selectors.labeller_answer(item, request.user) if review else None
    initial = {"item": item.pk, "shown_at": timezone.now().timestamp()}
    if mine is not None:
        initial.update(label=mine.label, note=mine.note)
    form = form or LabelAnswerForm(initial=initial, label_set=campaign.label_set)
    # ← from a reviewed item goes to the one answered before it; from a new card, to the last answered.
    previous = _previous(request, campaign, item.pk if review else None)
    context = _context(
        request,
        campaign,
        item=item,
        prediction=prediction,
        features=_features(prediction),
        reasons=services.card_reasons(prediction),
        labels=_labels(campaign),
        form=form,
        selected=form["label"].value(),
        review=review,
        my_answer=mine,
        # Blind: another labeller's answer shows only on an item this labeller answered already.
        consensus=item_consensus(item) if review and mine is not None else None,
        previous=previous,
        last=None if review else _last_answer(request, campaign),
    )
    return render(request, "audits/relabel/card.html", context)


def _seconds(shown_at) -> float | None:
    if shown_at is None or not math.isfinite(shown_at):
        return None
    seconds = timezone.now().timestamp() - shown_at
    return round(seconds, 1) if 0 <= seconds <= MAX_SECONDS else None


def _answer(request, campaign):
    form = LabelAnswerForm(request.POST, label_set=campaign.label_set)
    here = reverse("relabel:label", args=[campaign.pk])
    item_id = request.POST.get("item", "")
    reviewing = item_id.isdigit() and int(item_id) in _history(request, campaign)["answered"]
    back = f"{here}?item={item_id}" if reviewing else here
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect(back)
    data = form.cleaned_data
    item = RelabelItem.objects.filter(pk=data["item"], campaign=campaign).first()
    if item is None:
        messages.warning(request, "That item is not in this campaign; here is your next item.")
        return redirect(here)
    try:
        services.answer_submit(
            labeller=request.user, item=item, label=data["label"], note=data["note"], seconds=_seconds(data["shown_at"])
        )
    except (Conflict, NotFound) as exc:  # expired and taken, withdrawn, campaign closed: on to the next
        messages.warning(request, exc.message)
        return redirect(here)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    _remember(request, campaign, item.pk)
    return redirect(here)


@require_http_methods(["GET", "POST"])
@labeller_required
def relabel_label(request, pk):
    """GET: the next card (or, with ?item=, an item answered earlier in this session); POST: an answer."""
    try:
        campaign = _campaign(request, pk)
    except _Closed:
        return _closed_response(request)
    if request.method == "POST":
        return _answer(request, campaign)
    review = request.GET.get("item", "")
    if review:
        if not review.isdigit() or int(review) not in _history(request, campaign)["answered"]:
            raise Http404("You can go back only to items you answered in this session.")
        item = RelabelItem.objects.select_related("prediction__version").get(pk=int(review), campaign=campaign)
        return _card(request, campaign, item, review=True)
    try:
        assignment = services.item_next(labeller=request.user, campaign=campaign)
    except Conflict as exc:
        messages.warning(request, exc.message)
        return redirect("relabel:list")
    if assignment is None:
        return render(
            request,
            "audits/relabel/done.html",
            _context(request, campaign, last=_last_answer(request, campaign), previous=_previous(request, campaign)),
        )
    return _card(request, campaign, assignment.item, review=False)
