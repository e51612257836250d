"""Data audit pages: the list with each model's verdict trend and the open alerts, an audit's
report (findings first, then pictures), starting an audit, and a model's audit suite.

Thin like registry's pages: selectors read, one service call writes, and a service's refusal comes
back on the form (with its status code), never as a 500. Roles per action: every Keel member reads;
RUN_AUDITS (reviewers, pipelines) starts audits; EDIT_AUDIT_CHECKS (reviewers) edits suites and
schedules.
"""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mlops.errors import ApplicationError
from mlops.forms import show_service_error
from mlops.permissions import permission_required_403
from mlops.png import png_response
from mlops.roles import EDIT_AUDIT_CHECKS, RESOLVE_ALERTS, RUN_AUDITS, VIEW_AUDITS
from registry.models import RegisteredModel

from .. import report_display, selectors, services
from ..forms import (
    AlertResolveForm,
    AuditFilterForm,
    AuditStartForm,
    ColumnRulesForm,
    ScheduleDeleteForm,
    ScheduleEditForm,
    ScheduleForm,
    ServingAuditForm,
    SuiteJsonForm,
)
from ..models import AuditJob, AuditState, AuditSuite, ReferenceProfile

__all__ = [
    "alert_resolve",
    "audit_detail",
    "audit_list",
    "audit_new",
    "audit_plot_column",
    "audit_plot_nulls",
    "schedule_detail",
    "schedule_list",
    "suite_detail",
]

auditor_required = permission_required_403(RUN_AUDITS)
audits_reader_required = permission_required_403(VIEW_AUDITS)

# A queued or running audit's page reloads itself this often to show its progress.
REFRESH_SECONDS = 3


# --- the list -----------------------------------------------------------------------------------


@require_GET
@audits_reader_required
def audit_list(request):
    form = AuditFilterForm(request.GET or None)
    model, alert_state = None, "open"
    if form.is_valid():
        if form.cleaned_data["model"]:
            model = RegisteredModel.objects.get(name=form.cleaned_data["model"])
        alert_state = form.cleaned_data["alerts"] or "open"
    return render(
        request,
        "audits/audit_list.html",
        {
            "form": form,
            "model": model,
            "alerts": selectors.alert_list(model, alert_state),
            "alert_state": alert_state,
            "alert_table_id": f"{alert_state}-alerts",
            "may_resolve": request.user.has_perm(RESOLVE_ALERTS),
            "trends": selectors.verdict_trends(selectors.audited_models(model)),
            "trend_length": selectors.TREND_LENGTH,
            "audits": selectors.audit_list(model),
            "may_run": request.user.has_perm(RUN_AUDITS),
        },
    )


@require_POST
@permission_required_403(RESOLVE_ALERTS)
def alert_resolve(request, pk: int):
    """A reviewer resolves an open alert by hand, with a reason; back to the list it was shown in."""
    alert = selectors.alert_get(pk)
    form = AlertResolveForm(request.POST)
    back = redirect(f"{reverse('audits:list')}?model={alert.model.name}&alerts=resolved")
    if not form.is_valid():
        messages.error(request, form.errors["reason"][0])
        return redirect(f"{reverse('audits:list')}?model={alert.model.name}")
    try:
        services.alert_resolve(alert=alert, actor=request.user, reason=form.cleaned_data["reason"])
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return back
    messages.success(request, f"Alert #{alert.pk} ({alert.check_name} on {alert.column or 'the batch'}) resolved.")
    return back


# --- the report ---------------------------------------------------------------------------------


@require_GET
@audits_reader_required
def audit_detail(request, pk: int):
    job = selectors.audit_get(pk)
    reference = ReferenceProfile.objects.filter(version=job.version).only("id", "profile", "rows").first()
    sections = report_display.finding_sections(job.findings.all())
    in_progress = job.state in (AuditState.QUEUED, AuditState.RUNNING)
    return render(
        request,
        "audits/audit_detail.html",
        {
            "job": job,
            "model": job.model,
            "batch": job.batch,
            "facts": job.facts or {},
            "reference": reference,
            "sections": sections,
            "plot_columns": report_display.plot_columns(reference and reference.profile, job.profile, sections),
            "refresh_seconds": REFRESH_SECONDS if in_progress else None,
            "in_progress": in_progress,
        },
    )


def _profiles(pk: int) -> tuple[dict, dict]:
    """The reference's and the batch's profiles of an audit, or 404 when either is missing."""
    job = get_object_or_404(AuditJob.objects.only("id", "version_id", "profile"), pk=pk)
    reference = ReferenceProfile.objects.filter(version_id=job.version_id).values_list("profile", flat=True).first()
    if not job.profile or not reference:
        raise Http404("This audit has no profile to draw (it has not finished, or it built a reference).")
    return reference, job.profile


@require_GET
@audits_reader_required
def audit_plot_nulls(request, pk: int):
    # Imported here: matplotlib takes a while to load and only the picture views need it.
    from .. import plots

    reference, current = _profiles(pk)
    try:
        return png_response(plots.null_rates_png(reference, current))
    except ValueError as exc:
        raise Http404(str(exc)) from exc


@require_GET
@audits_reader_required
def audit_plot_column(request, pk: int, column: str):
    from .. import plots

    reference, current = _profiles(pk)
    ref_column, cur_column = reference["columns"].get(column), current["columns"].get(column)
    if ref_column is None or cur_column is None:
        raise Http404(f"The audit has no column '{column}' in both profiles.")
    try:
        return png_response(plots.histogram_png(ref_column, cur_column, column))
    except ValueError as exc:  # an id column, or a kind the batch profiled differently
        raise Http404(str(exc)) from exc


# --- starting an audit --------------------------------------------------------------------------

# Service field names → this form's names.
START_FIELDS = {"storage_path": "storage_path", "batch": "file", "purpose": None}


@require_http_methods(["GET", "POST"])
@auditor_required
def audit_new(request):
    if request.method == "GET":
        initial = {"model": request.GET.get("model")} if request.GET.get("model") else {}
        return _start_page(request, AuditStartForm(initial=initial))
    form = AuditStartForm(request.POST, request.FILES)
    if not form.is_valid():
        return _start_page(request, form, status=400)
    data = form.cleaned_data
    try:
        job = services.audit_submit(
            model=data["model"],
            actor=request.user,
            name=form.batch_name(),
            version=data["model_version"],
            uploaded=data["file"],
            storage_path=data["storage_path"].strip(),
            format=data["format"],
        )
    except ApplicationError as exc:
        show_service_error(form, exc, START_FIELDS)
        return _start_page(request, form, status=exc.status_code)
    batch = job.batch
    messages.success(
        request,
        f"Audit #{job.pk} queued: Keel compares “{batch.name}” with "
        f"v{job.version.version}'s training data. This page follows its progress.",
    )
    return redirect("audits:detail", pk=job.pk)


def _start_page(request, form, status=200):
    return render(request, "audits/audit_new.html", {"form": form}, status=status)


# --- the suite ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@audits_reader_required
def suite_detail(request, name: str):
    model = get_object_or_404(RegisteredModel, name=name)
    saved = AuditSuite.objects.filter(model=model).select_related("suggested_from", "updated_by").first()
    # With no saved suite yet, audits run with the one production's reference suggests: show that.
    suggestion = None if saved else selectors.suggested_suite(model)
    suite = saved.suite if saved else (suggestion["suite"] if suggestion else None)
    may_edit = request.user.has_perm(EDIT_AUDIT_CHECKS)
    bound = {}
    status = 200
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied("Only reviewers edit audit suites.")
        if suite is None:
            raise Http404(f"'{model.name}' has no suite to edit yet.")
        form, changed = _bound_suite_form(request.POST, suite)
        if form is None:
            raise Http404("No such column in the suite.")
        if changed is not None:
            try:
                services.suite_update(model=model, actor=request.user, suite=changed)
            except ApplicationError as exc:
                # A column's form shows the engine's reason above its fields.
                show_service_error(form, exc, {"suite": None} if "column" in form.fields else None)
                status = exc.status_code
            else:
                what = f"The rules of {form.cleaned_data['column']}" if "column" in form.fields else "The suite"
                messages.success(request, f"{what} saved. They apply to audits that start from now on.")
                return redirect("audits:suite", name=model.name)
        else:
            status = 400
        bound = {request.POST.get("column") or "json": form}  # re-shown with its errors, open
    return render(
        request,
        "audits/suite_detail.html",
        {
            "model": model,
            "saved": saved,
            "suggestion": suggestion,
            "may_edit": may_edit,
            "suite": suite,
            "columns": [
                (column, _column_form(column, bound) if may_edit else None)
                for column in report_display.suite_columns(suite)
            ],
            "json_form": (bound.get("json") or SuiteJsonForm(initial={"suite": json.dumps(suite, indent=2)}))
            if may_edit and suite
            else None,
            "json_open": "json" in bound,
        },
        status=status,
    )


def _column_form(column, bound: dict) -> ColumnRulesForm:
    return bound.get(column.name) or ColumnRulesForm(column=column.name, kind=column.kind, rules=column.rules)


def _bound_suite_form(data, suite: dict):
    """The form a suite POST filled in (one column's rules, or the whole JSON) and, when it is
    valid, the suite it asks for; (None, None) for a column the suite does not have."""
    if "column" not in data:
        form = SuiteJsonForm(data)
        return form, form.cleaned_data["suite"] if form.is_valid() else None
    current = (suite.get("columns") or {}).get(data["column"])
    if current is None:
        return None, None
    form = ColumnRulesForm(data, column=data["column"], kind=current.get("kind", ""))
    if not form.is_valid():
        return form, None
    return form, {**suite, "columns": {**suite["columns"], data["column"]: form.rules(current)}}


# --- schedules and serving-log audits -------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@audits_reader_required
def schedule_list(request, name: str):
    """A model's audit schedules (beat runs them) and a button to audit its serving log now."""
    model = get_object_or_404(RegisteredModel, name=name)
    may_edit = request.user.has_perm(EDIT_AUDIT_CHECKS)
    may_run = request.user.has_perm(RUN_AUDITS)
    form, serving_form, status = ScheduleForm(), ServingAuditForm(), 200
    if request.method == "POST":
        action = request.POST.get("action")
        if not (may_run if action == "serving" else may_edit):
            raise PermissionDenied(
                "Only reviewers and pipelines audit serving logs."
                if action == "serving"
                else "Only reviewers schedule audits."
            )
        try:
            if action == "create":
                form = ScheduleForm(request.POST)
                if form.is_valid():
                    schedule = services.schedule_create(model=model, actor=request.user, **form.cleaned_data)
                    messages.success(
                        request, f"Schedule “{schedule.name}” saved; beat runs it at “{schedule.cron}” UTC."
                    )
                    return redirect("audits:schedules", name=model.name)
                status = 400
            elif action in ("pause", "resume"):
                schedule = selectors.schedule_get(model, request.POST.get("schedule", ""))
                services.schedule_set_enabled(schedule=schedule, actor=request.user, enabled=action == "resume")
                messages.success(
                    request, f"Schedule “{schedule.name}” {'resumed' if action == 'resume' else 'paused'}."
                )
                return redirect("audits:schedules", name=model.name)
            elif action == "serving":
                serving_form = ServingAuditForm(request.POST)
                if serving_form.is_valid():
                    now = timezone.now()
                    job = services.serving_audit_submit(
                        model=model,
                        actor=request.user,
                        until=now,
                        since=now - timezone.timedelta(hours=serving_form.cleaned_data["hours"]),
                    )
                    messages.success(request, f"Audit #{job.pk} queued: the serving log against the training data.")
                    return redirect("audits:detail", pk=job.pk)
                status = 400
            else:
                raise Http404("Unknown action.")
        except ApplicationError as exc:
            if action not in ("create", "serving"):
                raise
            target = serving_form if action == "serving" else form
            show_service_error(target, exc, {"since": None, "version": None} if action == "serving" else None)
            status = exc.status_code
    return render(
        request,
        "audits/schedule_list.html",
        {
            "model": model,
            "schedules": selectors.audit_schedules(model),
            "deleted_schedules": selectors.audit_schedules(model, deleted=True),
            "may_edit": may_edit,
            "may_run": may_run,
            "form": form,
            "serving_form": serving_form,
            "predictions_logged": selectors.predictions().filter(model=model).count(),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@audits_reader_required
def schedule_detail(request, name: str, schedule_name: str):
    """One schedule: its settings, its history, and for reviewers an edit form and a delete form
    (each with a required reason)."""
    model = get_object_or_404(RegisteredModel, name=name)
    schedule = selectors.schedule_get(model, schedule_name)  # its NotFound is a 404
    may_edit = request.user.has_perm(EDIT_AUDIT_CHECKS) and schedule.deleted_at is None
    edit_form, delete_form, status = ScheduleEditForm.for_schedule(schedule), ScheduleDeleteForm(), 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in ("edit", "delete"):
            raise Http404("Unknown action.")
        if not request.user.has_perm(EDIT_AUDIT_CHECKS):
            raise PermissionDenied("Only reviewers edit or delete schedules.")
        form = (
            ScheduleEditForm.for_schedule(schedule, request.POST)
            if action == "edit"
            else ScheduleDeleteForm(request.POST)
        )
        if action == "edit":
            edit_form = form
        else:
            delete_form = form
        status = 400
        if form.is_valid():
            data = dict(form.cleaned_data)
            reason = data.pop("reason")
            try:
                if action == "edit":
                    services.schedule_update(schedule=schedule, actor=request.user, reason=reason, **data)
                    messages.success(request, f"Schedule “{schedule.name}” changed; beat runs the new settings.")
                    return redirect("audits:schedule", name=model.name, schedule_name=schedule.name)
                services.schedule_delete(schedule=schedule, actor=request.user, reason=reason)
                messages.success(request, f"Schedule “{schedule.name}” deleted; it will not run again.")
                return redirect("audits:schedule", name=model.name, schedule_name=schedule.name)
            except ApplicationError as exc:
                show_service_error(form, exc)
                status = exc.status_code
    return render(
        request,
        "audits/schedule_detail.html",
        {
            "model": model,
            "schedule": schedule,
            "history": selectors.schedule_history(schedule),
            "may_edit": may_edit,
            "edit_form": edit_form,
            "delete_form": delete_form,
        },
        status=status,
    )
