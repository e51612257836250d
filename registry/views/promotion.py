"""Promotion governance pages: the queue, asking for a promotion, the approval page with the gate's
evidence, rollback and the policy. Thin like the catalog pages: selectors read, one service call writes, and a
service's refusal comes back on the form (with its status code), never as a 500.

Roles per action: VIEW_PROMOTIONS reads; REGISTER_MODELS asks for (and cancels its own) promotions,
uploading a new hold-out with the request only with LOG_TRAINING (a pipeline's); APPROVE_PROMOTION
approves, rejects, rolls back and edits the policy. Four eyes (nobody decides on
their own request) is the service's rule; the page only avoids offering what would be refused.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mlops.errors import ApplicationError
from mlops.forms import show_service_error
from mlops.permissions import permission_required_403
from mlops.png import png_response
from mlops.roles import APPROVE_PROMOTION, LOG_TRAINING, REGISTER_MODELS, VIEW_PROMOTIONS

from .. import evidence_display, selectors, services
from ..config_diff import changed_only
from ..forms import (
    REQUEST_FIELDS,
    ApproveForm,
    CancelForm,
    PolicyForm,
    PromotionRequestForm,
    QueueFilterForm,
    RejectForm,
    RollbackForm,
)
from ..models import PromotionAction, PromotionRequest, PromotionState, RegisteredModel, ThresholdRule
from . import model_page

__all__ = [
    "REFRESH_SECONDS",
    "promotion_queue",
    "promotion_new",
    "promotion_detail",
    "promotion_approve",
    "promotion_reject",
    "promotion_cancel",
    "promotion_plot",
    "model_rollback",
    "model_policy",
]

registrar_required = permission_required_403(REGISTER_MODELS)
approver_required = permission_required_403(APPROVE_PROMOTION)
promotions_reader_required = permission_required_403(VIEW_PROMOTIONS)

# The gate writes progress while it runs; a validating request's page reloads itself this often.
REFRESH_SECONDS = 3


# --- the queue --------------------------------------------------------------------------------------


@require_GET
@promotions_reader_required
def promotion_queue(request):
    form = QueueFilterForm(request.GET or None)
    model, state = None, ""
    if form.is_valid():
        if form.cleaned_data["model"]:
            model = RegisteredModel.objects.get(name=form.cleaned_data["model"])
        state = form.cleaned_data["state"]
    return render(
        request,
        "registry/promotion_queue.html",
        {
            "form": form,
            "queue": selectors.promotion_queue(model=model, state=state),
            "filtered": bool(model or state),
        },
    )


# --- asking for a promotion -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@registrar_required
def promotion_new(request, name: str):
    model = get_object_or_404(RegisteredModel, name=name)
    may_upload = request.user.has_perm(LOG_TRAINING)
    if request.method == "GET":
        # A link may preselect the version (?version=N); otherwise the newest is offered first.
        number = request.GET.get("version", "")
        chosen = model.versions.filter(version=number).first() if number.isdigit() else None
        form = PromotionRequestForm(model=model, may_upload=may_upload, initial={"version": chosen})
        return _request_form_page(request, model, form)

    if request.FILES and not may_upload:
        raise PermissionDenied("Hold-outs are registered by the model's pipeline; pick one it sent.")
    form = PromotionRequestForm(request.POST, request.FILES, model=model, may_upload=may_upload)
    if not form.is_valid():
        return _request_form_page(request, model, form, status=400)
    data = form.cleaned_data
    holdout = data["holdout"]
    if data.get("holdout_file"):
        try:
            holdout = services.holdout_register(
                model=model,
                actor=request.user,
                name=data["holdout_file"].name,
                label_column=data["label_column"].strip(),
                positive_label=data.get("positive_label") or "",
                uploaded=data["holdout_file"],
            )
        except ApplicationError as exc:
            show_service_error(form, exc, REQUEST_FIELDS)
            return _request_form_page(request, model, form, status=exc.status_code)
    try:
        promotion = services.promotion_request_create(
            version=data["version"],
            actor=request.user,
            reason=data["reason"],
            target_alias=data["target_alias"],
            holdout=holdout,
            canary_percent=data["canary_percent"],
        )
    except ApplicationError as exc:
        if data.get("holdout_file"):
            # The upload is registered and kept: select it, so fixing the request needs no second upload.
            form = PromotionRequestForm({**request.POST.dict(), "holdout": holdout.pk}, model=model, may_upload=True)
            form.is_valid()
            messages.info(request, f"Hold-out '{holdout.name}' was registered; it is selected below.")
        show_service_error(form, exc, REQUEST_FIELDS)
        return _request_form_page(request, model, form, status=exc.status_code)
    messages.success(
        request,
        f"Request #{promotion.pk} submitted. Keel is validating v{promotion.version.version} "
        f"on the hold-out data; a second reviewer approves it after that.",
    )
    return redirect("promotions:detail", pk=promotion.pk)


def _request_form_page(request, model, form, status=200):
    return render(
        request,
        "registry/promotion_new.html",
        {
            "model": model,
            "form": form,
            "aliases": sorted(selectors.alias_map(model).items()),
            "policy": selectors.policy_for(model),
        },
        status=status,
    )


# --- the approval page ------------------------------------------------------------------------------


@require_GET
@promotions_reader_required
def promotion_detail(request, pk: int):
    return _detail_page(request, selectors.promotion_get(pk))


def _detail_page(request, promotion: PromotionRequest, *, status: int = 200, **bound_forms):
    """The request page. `bound_forms` carries the form a failed POST re-renders with its errors."""
    user = request.user
    evidence = promotion.evidence or {}
    is_submitter = user.pk == promotion.submitted_by_id
    may_decide = user.has_perm(APPROVE_PROMOTION) and not is_submitter
    forms = {}
    if may_decide and promotion.state == PromotionState.AWAITING_APPROVAL:
        forms["approve_form"] = ApproveForm(promotion=promotion)
    if may_decide and promotion.is_open:
        forms["reject_form"] = RejectForm(promotion=promotion)
    if is_submitter and promotion.is_open:
        forms["cancel_form"] = CancelForm(promotion=promotion)
    forms.update(bound_forms)

    return render(
        request,
        "registry/promotion_detail.html",
        {
            "promotion": promotion,
            "model": promotion.model,
            "events": promotion.events.all(),
            "evidence": evidence,
            "checks_summary": evidence_display.checks_summary(evidence),
            "metric_rows": evidence_display.metric_rows(evidence),
            "slice_tables": evidence_display.slice_tables(evidence),
            "robustness": evidence_display.robustness_table(evidence),
            "plots": evidence_display.available_plots(evidence),
            "threshold_rule_label": _rule_label((evidence.get("threshold") or {}).get("rule")),
            "config_diff": _config_diff(promotion),
            "refresh_seconds": REFRESH_SECONDS if promotion.state == PromotionState.VALIDATING else None,
            "is_submitter": is_submitter,
            "may_decide": may_decide,
            **forms,
        },
        status=status,
    )


def _rule_label(rule: str | None) -> str | None:
    return ThresholdRule(rule).label if rule in ThresholdRule.values else rule


def _config_diff(promotion: PromotionRequest) -> dict | None:
    """What the candidate changes in configuration: against the version it replaces on the alias
    (the one the gate compared with, or before the gate ran the one the alias points at now) or,
    for a first shadow or canary, against production, which the evidence compares it with too."""
    if promotion.action == PromotionAction.REMOVE:
        return None
    aliases = selectors.alias_map(promotion.model)
    against, role = promotion.compared_version or aliases.get(promotion.target_alias), promotion.target_alias
    if against is None:
        against, role = aliases.get(selectors.PRODUCTION), selectors.PRODUCTION
    if against is None or against == promotion.version:
        return {"against": None, "role": role, "rows": []}
    return {"against": against, "role": role, "rows": changed_only(selectors.version_diff(against, promotion.version))}


def _decide(request, pk: int, form_class, form_name: str, act, done: str):
    """The three decisions share one shape: bind the form, call the service, report back. Errors
    re-render the request page with the form and its errors, at the service's status code."""
    promotion = selectors.promotion_get(pk)
    form = form_class(request.POST, promotion=promotion)
    if form.is_valid():
        try:
            act(promotion, form.cleaned_data)
        except ApplicationError as exc:
            show_service_error(form, exc)
            return _detail_page(request, selectors.promotion_get(pk), status=exc.status_code, **{form_name: form})
        messages.success(request, done.format(promotion=promotion))
        return redirect("promotions:detail", pk=pk)
    return _detail_page(request, promotion, status=400, **{form_name: form})


@require_POST
@approver_required
def promotion_approve(request, pk: int):
    return _decide(
        request,
        pk,
        ApproveForm,
        "approve_form",
        lambda promotion, data: services.promotion_approve(
            promotion=promotion, actor=request.user, comment=data["comment"].strip(), threshold=data.get("threshold")
        ),
        "Approved: {promotion.target_alias} now serves v{promotion.version.version}.",
    )


@require_POST
@approver_required
def promotion_reject(request, pk: int):
    return _decide(
        request,
        pk,
        RejectForm,
        "reject_form",
        lambda promotion, data: services.promotion_reject(
            promotion=promotion, actor=request.user, comment=data["comment"].strip()
        ),
        "Rejected request #{promotion.pk}; the submitter is told why.",
    )


@require_POST
@registrar_required  # only someone who can submit a request can be its submitter
def promotion_cancel(request, pk: int):
    return _decide(
        request,
        pk,
        CancelForm,
        "cancel_form",
        lambda promotion, data: services.promotion_cancel(
            promotion=promotion, actor=request.user, reason=data["reason"].strip()
        ),
        "Cancelled request #{promotion.pk}.",
    )


@require_GET
@promotions_reader_required
def promotion_plot(request, pk: int, plot: str):
    part = evidence_display.PLOT_PARTS.get(plot)
    if part is None:
        raise Http404(f"No plot called '{plot}'.")
    # Imported here: matplotlib takes a while to load and only these views need it.
    from .. import plots

    draw = {
        "curves": plots.curves_png,
        "prediction-diff": plots.prediction_diff_png,
        "importance": plots.importance_png,
    }[plot]
    evidence = get_object_or_404(PromotionRequest.objects.only("evidence"), pk=pk).evidence or {}
    if not evidence.get(part):
        raise Http404(f"Request #{pk} has no {part.replace('_', ' ')} evidence.")
    try:
        png = draw(evidence)
    except ValueError as exc:
        raise Http404(str(exc)) from exc
    return png_response(png)


# --- the model page's promotion panels, rollback and policy -----------------------------------------


@require_POST
@approver_required
def model_rollback(request, name: str):
    model = get_object_or_404(RegisteredModel.objects.select_related("owner"), name=name)
    form = RollbackForm(request.POST, targets=selectors.rollback_targets(model, include_rolled_back=True))
    if form.is_valid():
        try:
            services.promotion_rollback(
                model=model,
                to_version=form.cleaned_data["to_version"],
                actor=request.user,
                reason=form.cleaned_data["reason"],
                confirm_rolled_back=form.cleaned_data["confirm_rolled_back"],
            )
        except ApplicationError as exc:
            show_service_error(form, exc)
            return model_page.model_detail_page(request, model, rollback_form=form, status=exc.status_code)
        messages.success(request, f"Production rolled back to v{form.cleaned_data['version']}.")
        return redirect(reverse("registry:model-detail", args=[model.name]) + "#serving")
    return model_page.model_detail_page(request, model, rollback_form=form, status=400)


@require_http_methods(["GET", "POST"])
@promotions_reader_required
def model_policy(request, name: str):
    model = get_object_or_404(RegisteredModel, name=name)
    policy = selectors.policy_for(model)
    may_edit = request.user.has_perm(APPROVE_PROMOTION)
    status = 200
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied("Only reviewers edit the promotion policy.")
        form = PolicyForm(request.POST, instance=policy)
        if form.is_valid():
            try:
                services.policy_update(model=model, actor=request.user, **form.changes())
            except (ApplicationError, ValidationError) as exc:
                show_service_error(form, exc)
                status = getattr(exc, "status_code", 400)
            else:
                messages.success(request, "Policy saved. It applies to requests validated from now on.")
                return redirect("registry:model-policy", name=model.name)
        else:
            status = 400
    else:
        form = PolicyForm(instance=policy) if may_edit else None
    return render(
        request,
        "registry/promotion_policy.html",
        {
            "model": model,
            "policy": policy,
            "form": form,
            "may_edit": may_edit,
            "switches": selectors.policy_switches(policy),
        },
        status=status,
    )
