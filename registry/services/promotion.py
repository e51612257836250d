"""Promotion governance: every state change of a promotion request, each in one function.

validating → validation_failed | awaiting_approval → approved (alias moved) | rejected;
cancelled by the submitter while open; rolled_back when a reviewer rolls production back past it.
Each transition appends a PromotionEvent (who, when, why) and notifies subscribers.
"""

from django.db import transaction
from django.utils import timezone

from mlops.errors import ApplicationError, Conflict
from mlops.queueing import queue_each, queue_or_wait

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
    PromotionRequest,
    PromotionState,
    RegisteredModel,
)
from ..selectors import PRODUCTION, applicable_threshold, rollback_targets
from .catalog import alias_point

__all__ = [
    "promotion_request_create",
    "promotion_gate_progress",
    "promotion_gate_record",
    "promotion_approve",
    "promotion_reject",
    "promotion_cancel",
    "promotion_rollback",
    "promotion_gates_requeue",
]

# The gate needs hold-out data for aliases that send real users a model's decisions.
HOLDOUT_REQUIRED = ("production", "canary")


# --- requests -------------------------------------------------------------------------------------


def _transition(promotion: PromotionRequest, to_state: str, *, actor, note: str = "", **fields) -> PromotionRequest:
    from_state = promotion.state
    promotion.state = to_state
    for name, value in fields.items():
        setattr(promotion, name, value)
    promotion.save()
    PromotionEvent.objects.create(request=promotion, from_state=from_state, to_state=to_state, actor=actor, note=note)
    return promotion


def _decide(promotion: PromotionRequest, to_state: str, *, actor, comment: str, **fields) -> PromotionRequest:
    """A reviewer's decision: the transition, with who decided, when and their comment."""
    return _transition(
        promotion,
        to_state,
        actor=actor,
        note=comment,
        decided_by=actor,
        decided_at=timezone.now(),
        decision_comment=comment,
        **fields,
    )


def _queue_gate(promotion_id: int) -> None:
    from ..tasks import run_promotion_gate

    # If the broker is down, the request is saved and the periodic sweep (requeue_stalled_gates) starts its gate.
    queue_or_wait(run_promotion_gate, promotion_id, what="promotion request")


def _notify(promotion: PromotionRequest, event: str, **extra) -> None:
    from .notifications import notify

    payload = {
        "title": f"{promotion.model.name} v{promotion.version.version} → {promotion.target_alias}: "
        f"{NotificationEvent(event).label.lower()}",
        "request_id": promotion.pk,
        "model": promotion.model.name,
        "version": promotion.version.version,
        "target_alias": promotion.target_alias,
        "state": promotion.state,
        "url": f"/promotions/{promotion.pk}/",
        **extra,
    }
    notify(
        event=event,
        model=promotion.model,
        dedupe_key=f"{event}:{promotion.pk}:{promotion.events.count()}",
        payload=payload,
    )


def _current(model: RegisteredModel, alias: str) -> ModelVersion | None:
    found = ModelAlias.objects.filter(model=model, name=alias).select_related("version").first()
    return found.version if found else None


@transaction.atomic
def promotion_request_create(
    *,
    version: ModelVersion,
    actor,
    reason: str,
    target_alias: str = PRODUCTION,
    holdout: HoldoutDataset | None = None,
    action: str = PromotionAction.PROMOTE,
    canary_percent: int | None = None,
) -> PromotionRequest:
    """Ask for `version` to serve as `target_alias` (or, with action=remove, to stop serving there).
    The validation gate runs as a background job once the request is committed."""
    model = RegisteredModel.objects.select_for_update().get(pk=version.model_id)
    if target_alias not in GOVERNED_ALIASES:
        raise ApplicationError(
            f"Requests are for governed aliases ({', '.join(GOVERNED_ALIASES)}); move '{target_alias}' directly.",
            field="target_alias",
        )
    if not (reason or "").strip():
        raise ApplicationError("Say why this version should serve; reviewers read it.", field="reason")
    if action == PromotionAction.REMOVE:
        if target_alias not in ("shadow", "canary"):
            raise ApplicationError(
                "Only shadow and canary traffic can be switched off; production is replaced "
                "by promoting or rolling back.",
                field="action",
            )
        if _current(model, target_alias) != version:
            raise Conflict(f"v{version.version} is not the current {target_alias}.", field="version")
    else:
        if not version.artifact:
            raise Conflict(
                f"v{version.version} has no artifact; upload it before requesting promotion.", field="version"
            )
        if _current(model, target_alias) == version:
            raise Conflict(f"v{version.version} already serves as {target_alias}.", field="version")
    if target_alias == "canary" and action == PromotionAction.PROMOTE:
        if canary_percent is None or not 1 <= canary_percent <= 50:
            raise ApplicationError("A canary takes 1 to 50 percent of traffic.", field="canary_percent")
    elif canary_percent is not None:
        raise ApplicationError("Only a canary promotion takes a traffic percentage.", field="canary_percent")
    if action == PromotionAction.PROMOTE and target_alias in HOLDOUT_REQUIRED and holdout is None:
        raise ApplicationError(
            f"A {target_alias} promotion is validated on hold-out data: register one "
            f"(POST /api/v1/models/{model.name}/holdouts/) and name it.",
            field="holdout",
        )
    if holdout is not None and holdout.model_id != model.pk:
        raise ApplicationError("That hold-out dataset belongs to another model.", field="holdout")
    duplicate = PromotionRequest.objects.filter(
        version=version, target_alias=target_alias, action=action, state__in=OPEN_STATES
    ).first()
    if duplicate:
        raise Conflict(f"Request #{duplicate.pk} for the same change is still open.", field="version")

    promotion = PromotionRequest.objects.create(
        model=model,
        version=version,
        target_alias=target_alias,
        action=action,
        canary_percent=canary_percent,
        holdout=holdout,
        reason=reason.strip(),
        submitted_by=actor,
        gate_stage="queued",
    )
    PromotionEvent.objects.create(request=promotion, to_state=PromotionState.VALIDATING, actor=actor, note=reason)
    transaction.on_commit(lambda: _queue_gate(promotion.pk))
    transaction.on_commit(lambda: _notify(promotion, NotificationEvent.REQUEST_CREATED))
    return promotion


def promotion_gate_progress(*, promotion_id: int, stage: str, share: float) -> None:
    """Show how far the gate has got on a request (its stage and share done). Call it outside any
    transaction: the request page reads it while the job runs."""
    PromotionRequest.objects.filter(pk=promotion_id).update(gate_stage=stage, gate_progress=share)


@transaction.atomic
def promotion_gate_record(
    *,
    promotion_id: int,
    evidence: dict,
    failures: list[str],
    proposed_threshold,
    compared_version_id: int | None,
    blocking: bool,
) -> PromotionRequest:
    """Store the gate's verdict on a request still validating (a retried gate records nothing twice).

    `blocking` is False for shadow requests: a shadow serves nobody, so failed checks are shown to
    the reviewer as warnings instead of stopping the request.
    """
    promotion = PromotionRequest.objects.select_for_update().select_related("model", "version").get(pk=promotion_id)
    if promotion.state != PromotionState.VALIDATING:
        return promotion
    fields = dict(
        evidence=evidence,
        failure_reasons=failures,
        proposed_threshold=proposed_threshold,
        compared_version_id=compared_version_id,
        gate_stage="done",
        gate_progress=1.0,
    )
    if failures and blocking:
        _transition(
            promotion,
            PromotionState.VALIDATION_FAILED,
            actor=None,
            note="Validation failed: " + " ".join(failures),
            **fields,
        )
        transaction.on_commit(lambda: _notify(promotion, NotificationEvent.VALIDATION_FAILED, reasons=failures))
        return promotion
    note = "Validation passed." if not failures else "Passed with warnings: " + " ".join(failures)
    _transition(promotion, PromotionState.AWAITING_APPROVAL, actor=None, note=note, **fields)
    transaction.on_commit(lambda: _notify(promotion, NotificationEvent.AWAITING_APPROVAL))
    if evidence.get("beats_production"):
        transaction.on_commit(
            lambda: _notify(
                promotion,
                NotificationEvent.CHALLENGER_WINS,
                primary_metric=evidence.get("primary_metric"),
                candidate=evidence["metrics"]["candidate"].get(evidence["primary_metric"]),
                production=evidence["metrics"]["production"].get(evidence["primary_metric"]),
            )
        )
    return promotion


def _lock_open(promotion: PromotionRequest) -> PromotionRequest:
    return PromotionRequest.objects.select_for_update().select_related("model", "version").get(pk=promotion.pk)


@transaction.atomic
def promotion_approve(
    *, promotion: PromotionRequest, actor, comment: str = "", threshold: float | None = None
) -> PromotionRequest:
    """A second reviewer approves: the alias moves to the version in the same transaction.

    Two approvals racing for the same alias cannot both win: the model row is locked, and an approval
    whose evidence was gathered against a different alias target than the current one is refused.
    """
    RegisteredModel.objects.select_for_update().get(pk=promotion.model_id)
    promotion = _lock_open(promotion)
    if promotion.submitted_by_id == actor.pk:
        raise ApplicationError(
            "You submitted this request; a different reviewer must approve it (four eyes).",
            field="actor",
            status_code=403,
        )
    if promotion.state != PromotionState.AWAITING_APPROVAL:
        detail = (
            " Validation failed: it cannot be approved; fix the candidate and submit again."
            if promotion.state == PromotionState.VALIDATION_FAILED
            else ""
        )
        raise Conflict(
            f"Request #{promotion.pk} is {promotion.state.replace('_', ' ')}, not awaiting approval.{detail}",
            field="state",
        )
    current = _current(promotion.model, promotion.target_alias)
    if (
        promotion.action == PromotionAction.PROMOTE
        and current != promotion.compared_version
        and promotion.target_alias != "shadow"
    ):
        raise Conflict(
            f"{promotion.target_alias} has moved since this request was validated (now "
            f"{f'v{current.version}' if current else 'unset'}); its evidence is stale. Submit it again.",
            field="state",
        )
    if threshold is not None and not 0 <= threshold <= 1:
        raise ApplicationError("A decision threshold is between 0 and 1.", field="threshold")
    serving_threshold = applicable_threshold(promotion.version, threshold, promotion.proposed_threshold)

    target = None if promotion.action == PromotionAction.REMOVE else promotion.version
    alias_point(
        model=promotion.model,
        alias=promotion.target_alias,
        version=target,
        actor=actor,
        reason=f"Promotion request #{promotion.pk} approved by {actor.get_username()}"
        + (f": {comment}" if comment else ""),
    )
    _decide(promotion, PromotionState.APPROVED, actor=actor, comment=comment, approved_threshold=serving_threshold)
    transaction.on_commit(lambda: _notify(promotion, NotificationEvent.APPROVED, approved_by=actor.get_username()))
    return promotion


@transaction.atomic
def promotion_reject(*, promotion: PromotionRequest, actor, comment: str) -> PromotionRequest:
    promotion = _lock_open(promotion)
    if promotion.submitted_by_id == actor.pk:
        raise ApplicationError(
            "You submitted this request; cancel it instead of rejecting it.", field="actor", status_code=403
        )
    if promotion.state not in OPEN_STATES:
        raise Conflict(f"Request #{promotion.pk} is already {promotion.state.replace('_', ' ')}.", field="state")
    if not (comment or "").strip():
        raise ApplicationError("Say why you reject it; the submitter reads it.", field="comment")
    return _decide(promotion, PromotionState.REJECTED, actor=actor, comment=comment)


@transaction.atomic
def promotion_cancel(*, promotion: PromotionRequest, actor, reason: str = "") -> PromotionRequest:
    promotion = _lock_open(promotion)
    if promotion.submitted_by_id != actor.pk:
        raise ApplicationError(
            "Only the submitter cancels a request; reviewers reject it.", field="actor", status_code=403
        )
    if promotion.state not in OPEN_STATES:
        raise Conflict(f"Request #{promotion.pk} is already {promotion.state.replace('_', ' ')}.", field="state")
    return _transition(promotion, PromotionState.CANCELLED, actor=actor, note=reason or "Cancelled by the submitter.")


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z") if moment else "unknown"


@transaction.atomic
def promotion_rollback(
    *, model: RegisteredModel, to_version: ModelVersion, actor, reason: str, confirm_rolled_back: bool = False
) -> AliasEvent:
    """Put production back on an earlier approved version, at once: the insurance policy.

    One reviewer suffices (it restores a state that was already approved). A version that production
    was rolled back past since its approval is restored only with `confirm_rolled_back`. The requests
    whose versions served since that version are marked rolled_back.
    """
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    if not (reason or "").strip():
        raise ApplicationError("Say why production is rolled back.", field="reason")
    targets = {t.version: t for t in rollback_targets(model, include_rolled_back=True)}
    target = targets.get(to_version)
    if target is None:
        allowed = ", ".join(f"v{v.version}" for v, t in targets.items() if not t.rolled_back) or "none"
        raise ApplicationError(
            f"v{to_version.version} is not an earlier approved production version (rollback targets: {allowed}).",
            field="version",
            status_code=409,
        )
    if target.rolled_back and not confirm_rolled_back:
        who = target.rolled_back_by.get_username() if target.rolled_back_by else "Keel"
        raise Conflict(
            f"v{to_version.version} was rolled back {_when(target.rolled_back_at)} by {who}: "
            f"{target.rolled_back_reason or 'no reason recorded'}. Confirm to restore it anyway.",
            field="confirm_rolled_back",
        )
    from_version = _current(model, PRODUCTION)
    # Requests approved since `to_version` last became production are the ones being undone.
    since = (
        AliasEvent.objects.filter(model=model, alias=PRODUCTION, to_version=to_version)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    event = alias_point(
        model=model, alias=PRODUCTION, version=to_version, actor=actor, reason=f"Rollback: {reason.strip()}"
    )
    rolled = (
        PromotionRequest.objects.select_for_update()
        .select_related("model", "version")
        .filter(
            model=model,
            target_alias=PRODUCTION,
            state=PromotionState.APPROVED,
            decided_at__gt=since,
        )
        .exclude(version=to_version)
    )
    for undone in rolled:
        _transition(
            undone,
            PromotionState.ROLLED_BACK,
            actor=actor,
            note=f"Production rolled back to v{to_version.version}: {reason.strip()}",
        )
        transaction.on_commit(
            lambda r=undone: _notify(
                r,
                NotificationEvent.ROLLED_BACK,
                to_version=to_version.version,
                from_version=from_version.version if from_version else None,
            )
        )
    return event


def promotion_gates_requeue(*, older_than_seconds: int = 600) -> int:
    """Queue the gate again for requests validating longer than expected. Safe: the gate is idempotent."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    stalled = PromotionRequest.objects.filter(state=PromotionState.VALIDATING, submitted_at__lt=cutoff)
    return queue_each(stalled, _queue_gate)
