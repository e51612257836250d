"""Reads of promotion governance: a model's policy, the queue, one request with its history, a model's
recent requests, how many wait for a reviewer (the nav badge), and the audit verdict a hold-out cites."""

from dataclasses import dataclass

from django.db.models import Max, OuterRef, Prefetch, QuerySet, Subquery

from mlops.errors import NotFound

from ..models import (
    HoldoutDataset,
    ModelVersion,
    PolicyRuleSwitch,
    PromotionEvent,
    PromotionPolicy,
    PromotionRequest,
    PromotionState,
    RegisteredModel,
)

__all__ = [
    "DECIDED_SHOWN",
    "policy_for",
    "policy_as_dict",
    "policy_switches",
    "promotion_requests",
    "with_state_actor",
    "promotion_get",
    "PromotionQueue",
    "promotion_queue",
    "awaiting_approval_count",
    "recent_promotions",
    "promotable_versions",
    "model_holdouts",
    "audit_status_for_holdout",
    "live_accuracy_minimum",
    "holdout_metric",
]


DECIDED_SHOWN = 30  # the queue is for work to do; older decisions are a filter away
FAILED_CHECKS_SHOWN = 5  # of a failed hold-out audit, named in the gate's evidence


def policy_for(model: RegisteredModel) -> PromotionPolicy:
    """The model's promotion policy, or the defaults (unsaved) when nobody has edited one yet."""
    return PromotionPolicy.objects.filter(model=model).first() or PromotionPolicy(model=model)


def policy_as_dict(policy: PromotionPolicy) -> dict:
    """The policy's rules for the gate, with ``switches``: for each switchable rule that is off, the
    latest switch (by, at, reason) so the evidence says who switched it off, when and why."""
    names = [f.name for f in policy._meta.fields if f.name not in ("id", "model", "updated_by", "updated_at")]
    found = {name: getattr(policy, name) for name in names}
    found["switches"], seen = {}, set()
    for switch in policy_switches(policy):  # newest first: the latest switch of each rule speaks
        if switch.rule in seen:
            continue
        seen.add(switch.rule)
        if not switch.enabled and not getattr(policy, switch.rule):
            found["switches"][switch.rule] = {
                "by": switch.actor.get_username(),
                "at": switch.created_at.isoformat(),
                "reason": switch.reason,
            }
    return found


def policy_switches(policy: PromotionPolicy) -> list[PolicyRuleSwitch]:
    """Every switch of the policy's switchable rules, newest first (none for an unsaved policy)."""
    if policy.pk is None:
        return []
    return list(PolicyRuleSwitch.objects.filter(policy=policy).select_related("actor"))


def promotion_requests() -> QuerySet[PromotionRequest]:
    return PromotionRequest.objects.select_related(
        "model", "version", "compared_version", "holdout", "submitted_by", "decided_by"
    )


def with_state_actor(requests: QuerySet[PromotionRequest]) -> QuerySet[PromotionRequest]:
    """Annotate `state_by`: the username of whoever moved each request into its current state (the
    one who rolled it back, not its approver), None for the gate."""
    latest = PromotionEvent.objects.filter(request=OuterRef("pk"), to_state=OuterRef("state")).order_by(
        "-created_at", "-id"
    )
    return requests.annotate(state_by=Subquery(latest.values("actor__username")[:1]))


def promotion_get(pk: int) -> PromotionRequest:
    """One request with its event history (actors loaded), or 404."""
    found = (
        promotion_requests()
        .prefetch_related(Prefetch("events", queryset=PromotionEvent.objects.select_related("actor")))
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFound(f"No promotion request #{pk}.")
    return found


@dataclass
class PromotionQueue:
    awaiting: list[PromotionRequest]
    validating: list[PromotionRequest]
    decided: list[PromotionRequest]
    decided_total: int


def promotion_queue(*, model: RegisteredModel | None = None, state: str = "") -> PromotionQueue:
    """What reviewers act on first: requests awaiting approval, longest-waiting first; then the gate's
    work in progress; then the latest decisions (by when they were last touched)."""
    requests = with_state_actor(promotion_requests()).annotate(last_event_at=Max("events__created_at"))
    if model is not None:
        requests = requests.filter(model=model)
    if state:
        requests = requests.filter(state=state)
    open_states = (PromotionState.AWAITING_APPROVAL, PromotionState.VALIDATING)
    decided = requests.exclude(state__in=open_states).order_by("-last_event_at", "-id")
    return PromotionQueue(
        awaiting=list(requests.filter(state=PromotionState.AWAITING_APPROVAL).order_by("submitted_at", "id")),
        validating=list(requests.filter(state=PromotionState.VALIDATING).order_by("submitted_at", "id")),
        decided=list(decided[:DECIDED_SHOWN]),
        decided_total=decided.count(),
    )


def awaiting_approval_count() -> int:
    return PromotionRequest.objects.filter(state=PromotionState.AWAITING_APPROVAL).count()


def recent_promotions(model: RegisteredModel, limit: int = 5) -> list[PromotionRequest]:
    return list(with_state_actor(promotion_requests()).filter(model=model)[:limit])


def promotable_versions(model: RegisteredModel) -> QuerySet[ModelVersion]:
    """Versions a request can name: only those with an artifact the gate can load, newest first."""
    return model.versions.exclude(artifact="").order_by("-version")


def model_holdouts(model: RegisteredModel) -> QuerySet[HoldoutDataset]:
    return model.holdouts.order_by("-created_at", "-id")


def audit_status_for_holdout(holdout: HoldoutDataset) -> dict:
    """The latest data-audit verdict for the hold-out data, for the gate to cite.

    The registry reads audits only through here (DESIGN.md): an audit of the very same bytes (same
    sha256) is the one that speaks for this hold-out.
    """
    from audits.selectors import latest_audit_of_bytes

    job = latest_audit_of_bytes(model=holdout.model, sha256=holdout.sha256)
    if job is None:
        return {"status": "not_audited", "detail": "No data audit has run on this hold-out data yet."}
    found = {
        "status": job.verdict,
        "audit_id": job.pk,
        "finished_at": job.finished_at.isoformat(),
        "detail": f"Audit #{job.pk} of these exact bytes: {job.verdict}.",
    }
    if job.verdict == "fail":  # what failed, for the policy's message
        failed = job.findings.filter(status="fail").values_list("check_name", "column")[:FAILED_CHECKS_SHOWN]
        found["failed_checks"] = [f"{check} on '{column}'" if column else check for check, column in failed]
    return found


# Primary metrics that are an accuracy: their floor is also the floor of the live accuracy.
ACCURACY_METRICS = ("accuracy",)


def live_accuracy_minimum(model: RegisteredModel) -> dict | None:
    """The accuracy below which the live model counts as degraded, and where it comes from: the
    policy's `min_live_accuracy`, else its `min_primary_metric` when the primary metric is accuracy;
    None when the policy sets neither."""
    policy = policy_for(model)
    if policy.min_live_accuracy is not None:
        return {"value": policy.min_live_accuracy, "source": "min_live_accuracy"}
    if policy.primary_metric in ACCURACY_METRICS and policy.min_primary_metric is not None:
        return {"value": policy.min_primary_metric, "source": "min_primary_metric"}
    return None


def holdout_metric(version: ModelVersion, metric: str = "accuracy") -> dict | None:
    """A version's offline hold-out figure for `metric`: the gate's measure on its latest validated
    promotion request, else the metric the pipeline recorded with the version; None when neither has it."""
    requests = PromotionRequest.objects.filter(version=version).exclude(evidence={}).order_by("-submitted_at", "-pk")
    for evidence in requests.values_list("evidence", flat=True)[:5]:
        value = ((evidence or {}).get("metrics") or {}).get("candidate", {}).get(metric)
        if isinstance(value, int | float):
            return {"value": float(value), "source": "gate"}
    value = (version.metrics or {}).get(metric)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"value": float(value), "source": "recorded"}
    return None
