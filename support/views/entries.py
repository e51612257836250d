"""Support agents' pages, mounted at /support/: search an ID and read its whole history, blacklist,
boost, lift early, upload a CSV of IDs (preview, then confirm) and file privacy requests.

Thin like the other apps' pages: selectors read, one service call writes, and a service's refusal
comes back on the form with the status code the service chose (400 bad input, 409 conflict, 429 rate
limit with Retry-After, 413 too big), never as a 500. Roles: READ_LIST_RECORDS (agents,
reviewers; not pipelines, which poll only the serving lists) reads every page but the forms;
MANAGE_LISTS (support agents) fills in the forms. A reader without it sees no forms and gets a 403
on any POST. LoginRequiredMiddleware sends anonymous visitors to the login page.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mlops.errors import ApplicationError
from mlops.forms import show_service_error
from mlops.permissions import permission_required_403
from mlops.roles import MANAGE_LISTS, READ_LIST_RECORDS

from .. import forms, selectors, services
from ..models import EntryKind, EntryReason, EraseState, RowStatus

lists_reader_required = permission_required_403(READ_LIST_RECORDS)
lists_manager_required = permission_required_403(MANAGE_LISTS)

BULK_ROWS_SHOWN = 500
RECENT_UPLOADS = 10
# The id of a conflicting entry in a refusal's detail is not a message: the message already names
# the entry, and the page links to the ID's history.
CONFLICT_DATA = ("existing_entry",)


def history_url(entity_type: str, entity_id: str) -> str:
    return f"{reverse('support:history')}?{urlencode({'entity_type': entity_type, 'entity_id': entity_id})}"


def _refused(response, exc: ApplicationError):
    """A page showing a refusal carries the service's status (and Retry-After for the rate limit)."""
    response.status_code = exc.status_code
    if isinstance(exc, services.RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _agent_context(request) -> dict:
    may_manage = request.user.has_perm(MANAGE_LISTS)
    return {
        "may_manage": may_manage,
        "changes_left": services.rate_limit_remaining(actor=request.user) if may_manage else None,
        "rate_window_minutes": settings.KEEL_SUPPORT_RATE_LIMIT_SECONDS // 60,
        "privacy_entity_type": settings.KEEL_SUPPORT_PRIVACY_ENTITY_TYPE,
    }


# --- landing page and search ------------------------------------------------------------------------


@require_GET
@lists_reader_required
def home(request):
    return render(
        request,
        "support/home.html",
        {
            "search_form": forms.SearchForm(),
            "changes": selectors.recent_changes(),
            **_agent_context(request),
        },
    )


@require_GET
@lists_reader_required
def search(request):
    form = forms.SearchForm(request.GET)
    results, query, entity_type = [], "", ""
    if form.is_valid():
        query, entity_type = form.cleaned_data["q"].strip(), form.cleaned_data["entity_type"]
        results = selectors.entity_search(query=query, entity_type=entity_type or None)
        # The ID itself and nothing else that starts like it: straight to its history.
        if len(results) == 1 and results[0].entity_id == query:
            return redirect(history_url(results[0].entity_type, results[0].entity_id))
    exact = {(r.entity_type, r.entity_id) for r in results if r.entity_id == query}
    types = [entity_type] if entity_type else list(settings.KEEL_SUPPORT_ENTITY_TYPES)
    return render(
        request,
        "support/search.html",
        {
            "search_form": form,
            "query": query,
            "results": results,
            # An ID without history has a page too: to read that it has none and to act on it.
            "open_as": [
                (t, history_url(t, query))
                for t in types
                if query and (t, query) not in exact and services.ID_PATTERN.fullmatch(query)
            ],
            **_agent_context(request),
        },
        status=200 if form.is_valid() else 400,
    )


# --- an ID's history --------------------------------------------------------------------------------


def _history_page(
    request, entity_type: str, entity_id: str, *, bound_lift: forms.LiftForm | None = None, status: int = 200
):
    context = _agent_context(request)
    active = selectors.entity_active_entries(entity_type=entity_type, entity_id=entity_id)
    rows = []
    for entry in active:
        form = None
        if context["may_manage"] and entry.reason != EntryReason.PRIVACY:
            form = (
                bound_lift
                if bound_lift is not None and bound_lift.entry_pk == entry.pk
                else forms.LiftForm(entry_pk=entry.pk)
            )
        rows.append((entry, form))
    # A lift refused for an entry no longer listed (lifted meanwhile, expired, a privacy blacklist)
    # shows its reason above the table.
    placed = any(form is not None and form is bound_lift for _, form in rows)
    requests = list(selectors.privacy_requests(entity_type=entity_type, entity_id=entity_id))
    return render(
        request,
        "support/history.html",
        {
            "entity_type": entity_type,
            "entity_id": entity_id,
            "known_type": entity_type in settings.KEEL_SUPPORT_ENTITY_TYPES,
            "active_rows": rows,
            "lift_refusal": bound_lift if bound_lift is not None and not placed else None,
            "blacklisted": any(e.kind == EntryKind.BLACKLIST for e in active),
            "boosted": any(e.kind == EntryKind.BOOST for e in active),
            "privacy_requests": requests,
            "forgotten": bool(requests),
            "events": selectors.entity_history(entity_type=entity_type, entity_id=entity_id),
            "query": urlencode({"entity_type": entity_type, "entity_id": entity_id}),
            "erase_done": EraseState.DONE,
            "erase_failed": EraseState.FAILED,
            **context,
        },
        status=status,
    )


@require_GET
@lists_reader_required
def history(request):
    entity_type = request.GET.get("entity_type", "").strip()
    entity_id = request.GET.get("entity_id", "").strip()
    if not entity_type or not entity_id:
        messages.error(request, "Say which ID: search for it here.")
        return redirect("support:home")
    return _history_page(request, entity_type, entity_id)


@require_POST
@lists_manager_required
def entry_lift(request, pk: int):
    entry = selectors.entry_get(pk)  # 404 for an entry that does not exist
    form = forms.LiftForm(request.POST, entry_pk=entry.pk)
    if form.is_valid():
        try:
            services.entry_lift(entry=entry.pk, actor=request.user, reason=form.cleaned_data["reason"])
        except ApplicationError as exc:
            show_service_error(form, exc, ignore=CONFLICT_DATA)
            return _refused(_history_page(request, entry.entity_type, entry.entity_id, bound_lift=form), exc)
        messages.success(
            request,
            f"Lifted {entry.get_kind_display().lower()} #{entry.pk} of {entry.entity_type} "
            f"{entry.entity_id}: it no longer applies.",
        )
        return redirect(history_url(entry.entity_type, entry.entity_id))
    return _history_page(request, entry.entity_type, entry.entity_id, bound_lift=form, status=400)


# --- blacklist and boost ----------------------------------------------------------------------------


def _prefill(request) -> dict:
    return {key: request.GET[key] for key in ("entity_type", "entity_id") if request.GET.get(key)}


def _entry_form_view(request, *, form_class, add, template: str, describe):
    if request.method == "GET":
        form = form_class(initial=_prefill(request))
        return _entry_page(request, template, form)
    form = form_class(request.POST)
    if not form.is_valid():
        return _entry_page(request, template, form, status=400)
    try:
        entry = add(actor=request.user, **form.service_kwargs())
    except ApplicationError as exc:
        conflict_url = None
        if exc.detail.get("existing_entry"):
            conflict_url = history_url(form.cleaned_data["entity_type"], form.cleaned_data["entity_id"].strip())
        show_service_error(form, exc, ignore=CONFLICT_DATA)  # takes the fields it names out of cleaned_data
        return _refused(_entry_page(request, template, form, conflict_url=conflict_url), exc)
    messages.success(request, describe(entry))
    return redirect(history_url(entry.entity_type, entry.entity_id))


def _entry_page(request, template: str, form, *, conflict_url: str | None = None, status: int = 200):
    return render(
        request, template, {"form": form, "conflict_url": conflict_url, **_agent_context(request)}, status=status
    )


def _until(entry) -> str:
    return f"until {entry.expires_at:%Y-%m-%d %H:%M %Z}" if entry.expires_at else "until lifted"


@require_http_methods(["GET", "POST"])
@lists_manager_required
def blacklist_new(request):
    return _entry_form_view(
        request,
        form_class=forms.BlacklistForm,
        add=services.blacklist_add,
        template="support/blacklist_form.html",
        describe=lambda e: f"Blacklisted {e.entity_type} {e.entity_id} on {e.scope_label} {_until(e)} (entry #{e.pk}).",
    )


@require_http_methods(["GET", "POST"])
@lists_manager_required
def boost_new(request):
    return _entry_form_view(
        request,
        form_class=forms.BoostForm,
        add=services.boost_add,
        template="support/boost_form.html",
        describe=lambda e: (
            f"Boosted {e.entity_type} {e.entity_id} with weight {e.weight:g} on {e.scope_label} "
            f"{_until(e)} (entry #{e.pk})."
        ),
    )


# --- bulk uploads -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@lists_manager_required
def bulk_new(request):
    if request.method == "GET":
        return _bulk_upload_page(request, forms.BulkUploadForm())
    form = forms.BulkUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _bulk_upload_page(request, form, status=400)
    try:
        bulk = services.bulk_preview(actor=request.user, **form.service_kwargs())
    except ApplicationError as exc:
        show_service_error(form, exc, ignore=CONFLICT_DATA)
        return _refused(_bulk_upload_page(request, form), exc)
    return redirect("support:bulk-detail", pk=bulk.pk)


def _bulk_upload_page(request, form, status: int = 200):
    return render(
        request,
        "support/bulk_form.html",
        {
            "form": form,
            "uploads": selectors.bulk_uploads(created_by=request.user)[:RECENT_UPLOADS],
            "max_rows": settings.KEEL_SUPPORT_BULK_MAX_ROWS,
            "max_mb": settings.KEEL_SUPPORT_BULK_MAX_BYTES / (1024 * 1024),
            "threshold": settings.KEEL_SUPPORT_BULK_CONFIRM_THRESHOLD,
            **_agent_context(request),
        },
        status=status,
    )


def _bulk_page(request, bulk, *, confirm_form=None, status: int = 200):
    filter_form = forms.BulkRowFilterForm(request.GET)
    shown_status = filter_form.cleaned_data["status"] if filter_form.is_valid() else ""
    rows, matching = selectors.bulk_rows(bulk, status=shown_status or None, limit=BULK_ROWS_SHOWN)
    state = bulk.state_at()
    context = _agent_context(request)
    needs_count = services.bulk_needs_count(bulk)
    may_confirm = (
        context["may_manage"]
        and bulk.created_by_id == request.user.pk
        and state == "previewed"
        and not bulk.invalid_count
        and bulk.new_count > 0
    )
    if may_confirm and confirm_form is None:
        confirm_form = forms.BulkConfirmForm(needs_count=needs_count)
    return render(
        request,
        "support/bulk_detail.html",
        {
            "bulk": bulk,
            "state": state,
            "rows": rows,
            "matching": matching,
            "shown_status": shown_status,
            "statuses": [(value, label, int(bulk.counts.get(value, 0))) for value, label in RowStatus.choices],
            "needs_count": needs_count,
            "confirm_form": confirm_form,
            "may_confirm": may_confirm,
            "uploader": bulk.created_by_id == request.user.pk,
            **context,
        },
        status=status,
    )


@require_GET
@lists_reader_required
def bulk_detail(request, pk: int):
    return _bulk_page(request, selectors.bulk_get(pk))


@require_POST
@lists_manager_required
def bulk_confirm(request, pk: int):
    bulk = selectors.bulk_get(pk)
    form = forms.BulkConfirmForm(request.POST, needs_count=services.bulk_needs_count(bulk))
    if not form.is_valid():
        return _bulk_page(request, bulk, confirm_form=form, status=400)
    try:
        applied = services.bulk_confirm(
            bulk=bulk.pk, actor=request.user, confirm_count=form.cleaned_data["confirm_count"]
        )
    except ApplicationError as exc:
        show_service_error(form, exc, ignore=CONFLICT_DATA)
        return _refused(_bulk_page(request, selectors.bulk_get(pk), confirm_form=form), exc)
    if applied.already_applied:
        messages.info(
            request,
            f"This upload was already applied on {applied.applied_at:%Y-%m-%d %H:%M %Z} "
            f"({applied.applied_count} IDs); nothing was applied again.",
        )
    else:
        verb = "Blacklisted" if applied.kind == EntryKind.BLACKLIST else "Boosted"
        messages.success(
            request, f"{verb} {applied.applied_count} IDs on {applied.scope_label} (bulk upload #{applied.pk})."
        )
    return redirect("support:bulk-detail", pk=applied.pk)


# --- privacy requests -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@lists_manager_required
def privacy_new(request):
    entity_type = settings.KEEL_SUPPORT_PRIVACY_ENTITY_TYPE
    if request.method == "GET":
        initial = {"entity_id": request.GET["entity_id"]} if request.GET.get("entity_id") else {}
        return _privacy_page(request, forms.PrivacyRequestForm(initial=initial))
    form = forms.PrivacyRequestForm(request.POST)
    if not form.is_valid():
        return _privacy_page(request, form, status=400)
    try:
        created = services.privacy_request_create(actor=request.user, **form.service_kwargs())
    except ApplicationError as exc:
        show_service_error(form, exc, ignore=CONFLICT_DATA)
        return _refused(_privacy_page(request, form), exc)
    messages.success(
        request,
        f"Privacy request #{created.pk} filed: {entity_type} {created.entity_id} is "
        "blacklisted on every surface for good, and their logged data is being erased. "
        "The history below shows when it is done.",
    )
    return redirect(history_url(created.entity_type, created.entity_id))


def _privacy_page(request, form, status: int = 200):
    return render(request, "support/privacy_form.html", {"form": form, **_agent_context(request)}, status=status)
