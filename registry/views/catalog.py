"""Reviewer pages for the registry. Thin: look up by URL, call selectors, render.

LoginRequiredMiddleware already sends anonymous visitors to the login page, so each view only checks
the Keel role; `raise_exception` makes a signed-in user without one get a 403 rather than a login
loop.
"""

from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from mlops.permissions import keel_member_required

from .. import selectors
from ..config_diff import SAME, changed_only
from ..forms import CompareForm
from ..models import ModelVersion, RegisteredModel
from .model_page import model_detail_page

__all__ = [
    "model_list",
    "model_detail",
    "version_diff",
    "version_detail",
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
        ModelVersion.objects.select_related("model", "created_by", "run__experiment"),
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
        },
    )
