"""The "Explain a decision" pages, mounted under /support/explain/: the form (a customer ID, or the
features typed in), an explanation (score, decision against the threshold, the waterfall plot, the
reasons in plain words, the inputs), and its plot. Separate from support.views.entries (the lists' pages).

Thin like the other pages: selectors read, one service call writes, and a refusal comes back on the
form with the service's status code. Role: support.explain_decisions (agents, reviewers, pipelines);
LoginRequiredMiddleware sends anonymous visitors to the login page.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods

from mlops.errors import ApplicationError
from mlops.forms import show_service_error
from mlops.permissions import permission_required_403
from mlops.png import png_response
from mlops.roles import EXPLAIN_DECISIONS, MANAGE_LISTS, READ_LIST_RECORDS

from .. import selectors, services
from ..forms import FEATURE_PREFIX, ChooseModelForm, ExplainForm

explainer_required = permission_required_403(EXPLAIN_DECISIONS)

# A queued or running explanation's page reloads itself this often to show its progress.
REFRESH_SECONDS = 2


def _context(request) -> dict:
    return {"may_manage": request.user.has_perm(MANAGE_LISTS)}


def _history_url(request, entity_id: str) -> str | None:
    """The customer's support history page (the lists' pages), for those who may read it."""
    if not entity_id or not request.user.has_perm(READ_LIST_RECORDS):
        return None
    try:
        base = reverse("support:history")
    except NoReverseMatch:
        return None
    return f"{base}?{urlencode({'entity_type': settings.KEEL_SUPPORT_PRIVACY_ENTITY_TYPE, 'entity_id': entity_id})}"


def _form_page(request, *, models, model, version, form, status=200):
    chooser = ChooseModelForm(initial={"model": model.name}, models=models) if len(models) > 1 else None
    cached = None
    entity_id = (form["entity_id"].value() or "").strip()
    if entity_id and not form.is_bound:
        cached = selectors.cached_for_entity(model, entity_id)
    return render(
        request,
        "support/explain_form.html",
        {
            "models": models,
            "model": model,
            "version": version,
            "form": form,
            "chooser": chooser,
            "cached": cached,
            "feature_inputs": form.feature_inputs,
            **_context(request),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@explainer_required
def explain_form(request):
    models = selectors.explainable_models()
    if not models:
        return render(request, "support/explain_form.html", {"models": [], **_context(request)})
    wanted = (request.POST if request.method == "POST" else request.GET).get("model")
    chosen = next(((m, v) for m, v in models if m.name == wanted), None)
    model, version = chosen or models[0]
    inputs = selectors.feature_inputs(version)
    if request.method == "GET":
        # Anything in the query string pre-fills the form (the demo links a customer, "try again" links an input).
        initial = {"model": model.name, "entity_id": request.GET.get("entity_id", "")}
        initial.update({key: value for key, value in request.GET.items() if key.startswith(FEATURE_PREFIX)})
        form = ExplainForm(initial=initial, feature_inputs=inputs)
        return _form_page(request, models=models, model=model, version=version, form=form)
    form = ExplainForm(request.POST, feature_inputs=inputs)
    if chosen is None:  # posted for a model that is gone from production meanwhile (or never was)
        form.is_valid()
        form.add_error(None, f"'{wanted}' has no production version to explain; pick a model again.")
        return _form_page(request, models=models, model=model, version=version, form=form, status=400)
    if not form.is_valid():
        return _form_page(request, models=models, model=model, version=version, form=form, status=400)
    try:
        explanation = services.explanation_request(
            actor=request.user,
            model=model,
            entity_id=form.cleaned_data["entity_id"],
            features=form.cleaned_data["features"],
        )
    except ApplicationError as exc:
        show_service_error(form, exc, rename={"model": None})
        return _form_page(request, models=models, model=model, version=version, form=form, status=exc.status_code)
    return redirect("support:explanation", pk=explanation.pk)


@require_GET
@explainer_required
def explanation_detail(request, pk: int):
    explanation = selectors.explanation_get(pk)
    result = explanation.result or {}
    model = explanation.version.model
    retry = {"model": model.name}
    if explanation.entity_id:
        retry["entity_id"] = explanation.entity_id
    else:
        retry.update({FEATURE_PREFIX + name: value for name, value in (explanation.input or {}).items()})
    contributions = result.get("contributions") or []
    largest = max((abs(item["shap"]) for item in contributions), default=0) or 1
    return render(
        request,
        "support/explain_result.html",
        {
            "explanation": explanation,
            "result": result,
            "model": model,
            "version": explanation.version,
            "prediction": explanation.prediction,
            "contributions": [{**item, "width": round(100 * abs(item["shap"]) / largest, 1)} for item in contributions],
            "inputs": list((explanation.input or {}).items()),
            "history_url": _history_url(request, explanation.entity_id),
            "retry_url": f"{reverse('support:explain')}?{urlencode(retry)}",
            "production": services.production_version(model),
            "refresh_seconds": REFRESH_SECONDS if explanation.in_progress else None,
            **_context(request),
        },
    )


@require_GET
@explainer_required
def explanation_waterfall(request, pk: int):
    return png_response(selectors.waterfall_png(selectors.explanation_get(pk)))
