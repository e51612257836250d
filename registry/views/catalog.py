"""Reviewer pages for the registry. Thin: look up by URL, call selectors, render.

LoginRequiredMiddleware already sends anonymous visitors to the login page, so each view only checks
the Keel role; `raise_exception` makes a signed-in user without one get a 403 rather than a login
loop.
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from mlops.errors import ApplicationError
from mlops.forms import show_service_error
from mlops.permissions import keel_member_required, permission_required_403
from mlops.roles import ALLOW_PICKLES

from .. import selectors, services
from ..config_diff import SAME, changed_only
from ..forms import CompareForm, PicklePolicyForm
from ..models import ModelVersion, RegisteredModel
from .model_page import model_detail_page

__all__ = [
    "model_list",
    "model_detail",
    "version_diff",
    "version_detail",
    "model_pickle_policy",
]


@require_GET
@keel_member_required
def model_list(request):
    return render(request, "registry/model_list.html", {"models": selectors.model_overview()})


@require_GET
@keel_member_required
def model_detail(request, name: str):
    return model_detail_page(request, get_object_or_404(RegisteredModel.objects.select_related("owner"), name=name))


@require_GET
@keel_member_required
def version_diff(request, name: str):
    model = get_object_or_404(RegisteredModel, name=name)
    form = CompareForm(request.GET, model=model)
    context = {"model": model, "form": form}
    if form.is_valid():
        rows = selectors.version_diff(form.cleaned_data["left_version"], form.cleaned_data["right_version"])
        differences = changed_only(rows)
        context.update(
            {
                "left": form.cleaned_data["left_version"],
                "right": form.cleaned_data["right_version"],
                "rows": differences if form.cleaned_data["changes"] else rows,
                "difference_count": len(differences),
                "same_count": sum(row.status == SAME for row in rows),
                "only_changes": form.cleaned_data["changes"],
            }
        )
    return render(request, "registry/version_diff.html", context)


@require_GET
@keel_member_required
def version_detail(request, name: str, number: int):
    version = get_object_or_404(
        ModelVersion.objects.select_related("model", "created_by", "run__experiment", "logged_model"),
        model__name=name,
        version=number,
    )
    run = version.run
    return render(
        request,
        "registry/version_detail.html",
        {
            "model": version.model,
            "version": version,
            "aliases": sorted(alias for alias, v in selectors.alias_map(version.model).items() if v.pk == version.pk),
            "config": selectors.version_config(version),
            "tags": selectors.latest_tags(version.tags.all()),
            "checks": version.artifact_checks.all()[:5],
            "run": run,
            "run_params": run.params.all() if run else [],
            "run_metrics": selectors.latest_metrics(run.metrics.all()) if run else {},
            "run_tags": selectors.latest_tags(run.tags.all()) if run else {},
            "run_artifacts": run.artifacts.all() if run else [],
            "logged_model": version.logged_model,
            "logged_model_artifacts": version.logged_model.artifacts.all() if version.logged_model_id else [],
        },
    )


@require_POST
@permission_required_403(ALLOW_PICKLES)
def model_pickle_policy(request, name: str):
    """A reviewer allows, or stops allowing, pickle artifacts for the model, with a reason."""
    model = get_object_or_404(RegisteredModel.objects.select_related("owner"), name=name)
    form = PicklePolicyForm(request.POST)
    if form.is_valid():
        try:
            services.model_pickle_policy_set(model=model, actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            show_service_error(form, exc)
            return model_detail_page(request, model, pickle_form=form, status=exc.status_code)
        state = "allowed" if form.cleaned_data["allowed"] else "no longer allowed"
        messages.success(request, f"Pickle artifacts are {state} for {model.name}.")
        return redirect(reverse("registry:model-detail", args=[model.name]) + "#pickles")
    return model_detail_page(request, model, pickle_form=form, status=400)
