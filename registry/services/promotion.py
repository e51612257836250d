"""Promotion governance: every state change of a promotion request, each in one function.

validating → validation_failed | awaiting_approval → approved (alias moved) | rejected;
cancelled by the submitter while open; rolled_back when a reviewer rolls production back past it.
Each transition appends a PromotionEvent (who, when, why) and notifies subscribers.
"""

import logging

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from mlops.datafiles import resolve_data_path, save_with_upload, sha256_and_size
from mlops.errors import ApplicationError, Conflict

from ..holdout_files import HoldoutFileError, columns_of, guess_format
from ..models import (
    GOVERNED_ALIASES,
    OPEN_STATES,
    AliasEvent,
    HoldoutDataset,
    ModelAlias,
    ModelVersion,
    NotificationEvent,
    PromotionAction,
    PromotionEvent,
    PromotionPolicy,
    PromotionRequest,
    PromotionState,
    RegisteredModel,
)
from ..selectors import PRODUCTION, applicable_threshold, rollback_targets
from .catalog import alias_point

__all__ = [
    "policy_update", "holdout_register", "promotion_request_create", "promotion_gate_record",
    "promotion_approve", "promotion_reject", "promotion_cancel", "promotion_rollback", "promotion_gates_requeue",
]

log = logging.getLogger(__name__)

# The gate needs hold-out data for aliases that send real users a model's decisions.
HOLDOUT_REQUIRED = ("production", "canary")


# --- policy and hold-out data ---------------------------------------------------------------------


@transaction.atomic
def policy_update(*, model: RegisteredModel, actor, **fields) -> PromotionPolicy:
    policy, _ = PromotionPolicy.objects.select_for_update().get_or_create(model=model)
    allowed = {f.name for f in PromotionPolicy._meta.fields} - {"id", "model", "updated_by", "updated_at"}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ApplicationError("Unknown policy fields.", detail={name: ["Unknown field."] for name in unknown})
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.updated_by = actor
    policy.full_clean(exclude=["model", "updated_by"])
    policy.save()
    return policy


@transaction.atomic
def holdout_register(*, model: RegisteredModel, actor, name: str, label_column: str, uploaded: UploadedFile | None = None,
                     storage_path: str = "", format: str = "", group_column: str = "",
                     window_start=None, window_end=None) -> HoldoutDataset:
    """Register labelled hold-out rows, uploaded or referenced by path, after checking that the file
    reads in its format and has the label column. Nothing is stored when a check fails."""
    if bool(uploaded) == bool(storage_path):
        raise ApplicationError("Send either a file or a storage_path, not both or neither.", field="file")
    source_name = uploaded.name if uploaded else storage_path
    fmt = format or guess_format(source_name)
    if fmt is None:
        raise ApplicationError("Say the format (csv or parquet); it cannot be told from the name.", field="format")
    if window_start and window_end and window_end < window_start:
        raise ApplicationError("The hold-out window ends before it starts.", field="window_end")

    if uploaded:
        limit = settings.KEEL_MAX_HOLDOUT_BYTES
        if uploaded.size > limit:
            raise ApplicationError(f"The file is {uploaded.size} bytes; the limit is {limit} bytes.",
                                   field="file", status_code=413)
        handle = uploaded
    else:
        handle = resolve_data_path(storage_path).open("rb")
    try:
        sha, size = sha256_and_size(handle)
        try:
            columns = columns_of(handle, fmt)
        except HoldoutFileError as exc:
            raise ApplicationError(str(exc), field="file" if uploaded else "storage_path") from exc
    finally:
        if not uploaded:
            handle.close()
    for field, column in (("label_column", label_column), ("group_column", group_column)):
        if column and column not in columns:
            raise ApplicationError(f"The file has no column '{column}'. Its columns: {', '.join(columns[:30])}.",
                                   field=field)

    holdout = HoldoutDataset(model=model, name=name, format=fmt, label_column=label_column,
                             group_column=group_column, sha256=sha, size_bytes=size, window_start=window_start,
                             window_end=window_end, created_by=actor, storage_path=storage_path)
    save_with_upload(holdout, "file", uploaded)
    return holdout


# --- requests -------------------------------------------------------------------------------------


def _transition(request: PromotionRequest, to_state: str, *, actor, note: str = "", **fields) -> PromotionRequest:
    from_state = request.state
    request.state = to_state
    for name, value in fields.items():
        setattr(request, name, value)
    request.save()
    PromotionEvent.objects.create(request=request, from_state=from_state, to_state=to_state, actor=actor, note=note)
    return request


def _queue_gate(request_id: int) -> None:
    from ..tasks import run_promotion_gate

    try:
        run_promotion_gate.delay(request_id)
    except BrokerUnavailable:
        # The request is saved; the periodic sweep (requeue_stalled_gates) starts its gate later.
        log.warning("Broker unavailable: promotion request %s waits for the sweep", request_id)


def _notify(request: PromotionRequest, event: str, **extra) -> None:
    from .notifications import notify

    payload = {
        "title": f"{request.model.name} v{request.version.version} → {request.target_alias}: "
                 f"{NotificationEvent(event).label.lower()}",
        "request_id": request.pk, "model": request.model.name, "version": request.version.version,
        "target_alias": request.target_alias, "state": request.state, "url": f"/promotions/{request.pk}/",
        **extra,
    }
    notify(event=event, model=request.model, dedupe_key=f"{event}:{request.pk}:{request.events.count()}",
           payload=payload)


def _current(model: RegisteredModel, alias: str) -> ModelVersion | None:
    found = ModelAlias.objects.filter(model=model, name=alias).select_related("version").first()
    return found.version if found else None


@transaction.atomic
def promotion_request_create(*, version: ModelVersion, actor, reason: str, target_alias: str = PRODUCTION,
                             holdout: HoldoutDataset | None = None, action: str = PromotionAction.PROMOTE,
                             canary_percent: int | None = None) -> PromotionRequest:
    """Ask for `version` to serve as `target_alias` (or, with action=remove, to stop serving there).
    The validation gate runs as a background job once the request is committed."""
    model = RegisteredModel.objects.select_for_update().get(pk=version.model_id)
    if target_alias not in GOVERNED_ALIASES:
        raise ApplicationError(f"Requests are for governed aliases ({', '.join(GOVERNED_ALIASES)}); move "
                               f"'{target_alias}' directly.", field="target_alias")
    if not (reason or "").strip():
        raise ApplicationError("Say why this version should serve; reviewers read it.", field="reason")
    if action == PromotionAction.REMOVE:
        if target_alias not in ("shadow", "canary"):
            raise ApplicationError("Only shadow and canary traffic can be switched off; production is replaced "
                                   "by promoting or rolling back.", field="action")
        if _current(model, target_alias) != version:
            raise ApplicationError(f"v{version.version} is not the current {target_alias}.", field="version")
    else:
        if not version.artifact:
            raise ApplicationError(f"v{version.version} has no artifact; upload it before requesting promotion.",
                                   field="version")
        if _current(model, target_alias) == version:
            raise Conflict(f"v{version.version} already serves as {target_alias}.", field="version")
    if target_alias == "canary" and action == PromotionAction.PROMOTE:
        if canary_percent is None or not 1 <= canary_percent <= 50:
            raise ApplicationError("A canary takes 1 to 50 percent of traffic.", field="canary_percent")
    elif canary_percent is not None:
        raise ApplicationError("Only a canary promotion takes a traffic percentage.", field="canary_percent")
    if action == PromotionAction.PROMOTE and target_alias in HOLDOUT_REQUIRED and holdout is None:
        raise ApplicationError(f"A {target_alias} promotion is validated on hold-out data: register one "
                               f"(POST /api/v1/models/{model.name}/holdouts/) and name it.", field="holdout")
    if holdout is not None and holdout.model_id != model.pk:
        raise ApplicationError("That hold-out dataset belongs to another model.", field="holdout")
    duplicate = PromotionRequest.objects.filter(version=version, target_alias=target_alias, action=action,
                                                state__in=OPEN_STATES).first()
    if duplicate:
        raise Conflict(f"Request #{duplicate.pk} for the same change is still open.", field="version")

    request = PromotionRequest.objects.create(
        model=model, version=version, target_alias=target_alias, action=action, canary_percent=canary_percent,
        holdout=holdout, reason=reason.strip(), submitted_by=actor, gate_stage="queued")
    PromotionEvent.objects.create(request=request, to_state=PromotionState.VALIDATING, actor=actor, note=reason)
    transaction.on_commit(lambda: _queue_gate(request.pk))
    transaction.on_commit(lambda: _notify(request, NotificationEvent.REQUEST_CREATED))
    return request


@transaction.atomic
def promotion_gate_record(*, request_id: int, evidence: dict, failures: list[str], proposed_threshold,
                          compared_version_id: int | None, blocking: bool) -> PromotionRequest:
    """Store the gate's verdict on a request still validating (a retried gate records nothing twice).

    `blocking` is False for shadow requests: a shadow serves nobody, so failed checks are shown to
    the reviewer as warnings instead of stopping the request.
    """
    request = PromotionRequest.objects.select_for_update().select_related("model", "version").get(pk=request_id)
    if request.state != PromotionState.VALIDATING:
        return request
    fields = dict(evidence=evidence, failure_reasons=failures, proposed_threshold=proposed_threshold,
                  compared_version_id=compared_version_id, gate_stage="done", gate_progress=1.0)
    if failures and blocking:
        _transition(request, PromotionState.VALIDATION_FAILED, actor=None,
                    note="Validation failed: " + " ".join(failures), **fields)
        transaction.on_commit(lambda: _notify(request, NotificationEvent.VALIDATION_FAILED, reasons=failures))
        return request
    note = "Validation passed." if not failures else "Passed with warnings: " + " ".join(failures)
    _transition(request, PromotionState.AWAITING_APPROVAL, actor=None, note=note, **fields)
    transaction.on_commit(lambda: _notify(request, NotificationEvent.AWAITING_APPROVAL))
    if evidence.get("beats_production"):
        transaction.on_commit(lambda: _notify(request, NotificationEvent.CHALLENGER_WINS,
                                              primary_metric=evidence.get("primary_metric"),
                                              candidate=evidence["metrics"]["candidate"].get(evidence["primary_metric"]),
                                              production=evidence["metrics"]["production"].get(evidence["primary_metric"])))
    return request


def _lock_open(request: PromotionRequest) -> PromotionRequest:
    return PromotionRequest.objects.select_for_update().select_related("model", "version").get(pk=request.pk)


@transaction.atomic
def promotion_approve(*, request: PromotionRequest, actor, comment: str = "",
                      threshold: float | None = None) -> PromotionRequest:
    """A second reviewer approves: the alias moves to the version in the same transaction.

    Two approvals racing for the same alias cannot both win: the model row is locked, and an approval
    whose evidence was gathered against a different alias target than the current one is refused.
    """
    RegisteredModel.objects.select_for_update().get(pk=request.model_id)
    request = _lock_open(request)
    if request.submitted_by_id == actor.pk:
        raise ApplicationError("You submitted this request; a different reviewer must approve it (four eyes).",
                               field="actor", status_code=403)
    if request.state != PromotionState.AWAITING_APPROVAL:
        detail = " Validation failed: it cannot be approved; fix the candidate and submit again." \
            if request.state == PromotionState.VALIDATION_FAILED else ""
        raise Conflict(f"Request #{request.pk} is {request.state.replace('_', ' ')}, not awaiting approval.{detail}",
                       field="state")
    current = _current(request.model, request.target_alias)
    if request.action == PromotionAction.PROMOTE and current != request.compared_version \
            and request.target_alias != "shadow":
        raise Conflict(
            f"{request.target_alias} has moved since this request was validated (now "
            f"{'v%d' % current.version if current else 'unset'}); its evidence is stale. Submit it again.",
            field="state")
    if threshold is not None and not 0 <= threshold <= 1:
        raise ApplicationError("A decision threshold is between 0 and 1.", field="threshold")
    serving_threshold = applicable_threshold(request.version, threshold, request.proposed_threshold)

    target = None if request.action == PromotionAction.REMOVE else request.version
    alias_point(model=request.model, alias=request.target_alias, version=target, actor=actor,
                reason=f"Promotion request #{request.pk} approved by {actor.get_username()}"
                       + (f": {comment}" if comment else ""))
    _transition(request, PromotionState.APPROVED, actor=actor, note=comment, decided_by=actor,
                decided_at=timezone.now(), decision_comment=comment, approved_threshold=serving_threshold)
    transaction.on_commit(lambda: _notify(request, NotificationEvent.APPROVED, approved_by=actor.get_username()))
    return request


@transaction.atomic
def promotion_reject(*, request: PromotionRequest, actor, comment: str) -> PromotionRequest:
    request = _lock_open(request)
    if request.submitted_by_id == actor.pk:
        raise ApplicationError("You submitted this request; cancel it instead of rejecting it.",
                               field="actor", status_code=403)
    if request.state not in OPEN_STATES:
        raise Conflict(f"Request #{request.pk} is already {request.state.replace('_', ' ')}.", field="state")
    if not (comment or "").strip():
        raise ApplicationError("Say why you reject it; the submitter reads it.", field="comment")
    return _transition(request, PromotionState.REJECTED, actor=actor, note=comment, decided_by=actor,
                       decided_at=timezone.now(), decision_comment=comment)


@transaction.atomic
def promotion_cancel(*, request: PromotionRequest, actor, reason: str = "") -> PromotionRequest:
    request = _lock_open(request)
    if request.submitted_by_id != actor.pk:
        raise ApplicationError("Only the submitter cancels a request; reviewers reject it.", field="actor",
                               status_code=403)
    if request.state not in OPEN_STATES:
        raise Conflict(f"Request #{request.pk} is already {request.state.replace('_', ' ')}.", field="state")
    return _transition(request, PromotionState.CANCELLED, actor=actor, note=reason or "Cancelled by the submitter.")


@transaction.atomic
def promotion_rollback(*, model: RegisteredModel, to_version: ModelVersion, actor, reason: str) -> AliasEvent:
    """Put production back on an earlier approved version, at once: the insurance policy.

    One reviewer suffices (it restores a state that was already approved). The requests whose
    versions served since that version are marked rolled_back.
    """
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    if not (reason or "").strip():
        raise ApplicationError("Say why production is rolled back.", field="reason")
    targets = rollback_targets(model)
    if to_version not in targets:
        allowed = ", ".join(f"v{v.version}" for v in targets) or "none"
        raise ApplicationError(f"v{to_version.version} is not an earlier approved production version "
                               f"(rollback targets: {allowed}).", field="version")
    from_version = _current(model, PRODUCTION)
    # Requests approved since `to_version` last became production are the ones being undone.
    since = AliasEvent.objects.filter(model=model, alias=PRODUCTION, to_version=to_version).order_by(
        "-created_at").values_list("created_at", flat=True).first()
    event = alias_point(model=model, alias=PRODUCTION, version=to_version, actor=actor,
                        reason=f"Rollback: {reason.strip()}")
    rolled = PromotionRequest.objects.select_for_update().select_related("model", "version").filter(
        model=model, target_alias=PRODUCTION, state=PromotionState.APPROVED, decided_at__gt=since,
    ).exclude(version=to_version)
    for request in rolled:
        _transition(request, PromotionState.ROLLED_BACK, actor=actor,
                    note=f"Production rolled back to v{to_version.version}: {reason.strip()}")
        transaction.on_commit(lambda r=request: _notify(r, NotificationEvent.ROLLED_BACK, to_version=to_version.version,
                                                        from_version=from_version.version if from_version else None))
    return event


def promotion_gates_requeue(*, older_than_seconds: int = 600) -> int:
    """Queue the gate again for requests validating longer than expected. Safe: the gate is idempotent."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    stalled = list(PromotionRequest.objects.filter(state=PromotionState.VALIDATING, submitted_at__lt=cutoff)
                   .values_list("pk", flat=True))
    for request_id in stalled:
        _queue_gate(request_id)
    return len(stalled)
