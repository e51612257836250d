"""API v1 shapes for promotion governance: hold-outs, policies, requests, rollback, serving config."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mlops.api import StrictSerializer

from .. import selectors
from ..models import (
    GOVERNED_ALIASES,
    PROMOTION_REQUEST_FIELDS,
    HoldoutDataset,
    HoldoutFormat,
    PolicyRuleSwitch,
    PromotionAction,
    PromotionEvent,
    PromotionPolicy,
    PromotionRequest,
    ThresholdRule,
)

__all__ = [
    "HoldoutIn",
    "HoldoutOut",
    "PolicyIn",
    "PolicyOut",
    "PolicySwitchOut",
    "PromotionIn",
    "DecisionIn",
    "RejectIn",
    "CancelIn",
    "RollbackIn",
    "RollbackTargetOut",
    "RollbackTargetsQuery",
    "PromotionEventOut",
    "PromotionOut",
    "PromotionSummaryOut",
]


class HoldoutIn(StrictSerializer):
    name = serializers.CharField(max_length=200)
    label_column = serializers.CharField(max_length=200)
    group_column = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    positive_label = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="The binary label's positive value (e.g. churned); yes/no, true/false, y/n and 1/0 need none.",
    )
    file = serializers.FileField(required=False)
    storage_path = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    format = serializers.ChoiceField(choices=HoldoutFormat.choices, required=False, allow_blank=True, default="")
    window_start = serializers.DateField(required=False, allow_null=True, default=None)
    window_end = serializers.DateField(required=False, allow_null=True, default=None)


class HoldoutOut(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username")
    source = serializers.SerializerMethodField()

    class Meta:
        model = HoldoutDataset
        fields = [
            "id",
            "name",
            "format",
            "label_column",
            "group_column",
            "positive_label",
            "source",
            "sha256",
            "size_bytes",
            "window_start",
            "window_end",
            "created_by",
            "created_at",
        ]

    def get_source(self, holdout) -> str:
        return "upload" if holdout.file else f"path:{holdout.storage_path}"


class PolicyIn(StrictSerializer):
    primary_metric = serializers.CharField(max_length=50, required=False)
    min_primary_metric = serializers.FloatField(required=False, allow_null=True)
    min_live_accuracy = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    max_regression = serializers.FloatField(required=False, min_value=0)
    min_margin_over_baseline = serializers.FloatField(required=False)
    max_flip_rate = serializers.FloatField(required=False, min_value=0, max_value=1)
    max_slice_gap = serializers.FloatField(required=False, allow_null=True, min_value=0)
    slice_columns = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=20)
    min_slice_rows = serializers.IntegerField(required=False, min_value=1)
    threshold_rule = serializers.ChoiceField(choices=ThresholdRule.choices, required=False)
    threshold_target = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    ranking_k = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    staleness_days = serializers.IntegerField(required=False, min_value=1, max_value=3650)
    block_importance_jump = serializers.BooleanField(
        required=False, help_text="false switches the rule off; needs switch_reason."
    )
    max_importance_share = serializers.FloatField(required=False, min_value=0, max_value=1)
    block_failed_holdout_audit = serializers.BooleanField(
        required=False, help_text="false switches the rule off; needs switch_reason."
    )
    switch_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Why a blocking rule is switched off (or on); recorded with who and when.",
    )


class PolicySwitchOut(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PolicyRuleSwitch
        fields = ["rule", "enabled", "reason", "actor", "created_at"]


class PolicyOut(serializers.ModelSerializer):
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Null until first saved.")
    switches = serializers.SerializerMethodField(help_text="Every switch of a blocking rule, newest first.")

    class Meta:
        model = PromotionPolicy
        exclude = ["id", "model", "updated_by"]

    @extend_schema_field(PolicySwitchOut(many=True))
    def get_switches(self, policy) -> list[dict]:
        return PolicySwitchOut(selectors.policy_switches(policy), many=True).data


def _shape(title: str, required: list[str], **properties) -> dict:
    return {"title": title, "required": required, "properties": properties}


_PROMOTE = {"const": PromotionAction.PROMOTE.value}
_NO_PERCENT = {"type": "null"}


class PromotionIn(StrictSerializer):
    # The request shapes the service accepts (`services.promotion_request_create`): production and
    # canary promotions are validated on a hold-out; only a canary takes a traffic percentage; only
    # shadow and canary traffic can be switched off. A body matches exactly one.
    openapi_extra = {
        "oneOf": [
            _shape(
                "Promote to production",
                ["holdout"],
                target_alias={"const": "production"},
                action=_PROMOTE,
                holdout={"type": "integer"},
                canary_percent=_NO_PERCENT,
            ),
            _shape(
                "Promote to canary",
                ["target_alias", "holdout", "canary_percent"],
                target_alias={"const": "canary"},
                action=_PROMOTE,
                holdout={"type": "integer"},
                canary_percent={"type": "integer"},
            ),
            _shape(
                "Promote to shadow",
                ["target_alias"],
                target_alias={"const": "shadow"},
                action=_PROMOTE,
                canary_percent=_NO_PERCENT,
            ),
            _shape(
                "Switch shadow or canary traffic off",
                ["target_alias", "action"],
                target_alias={"anyOf": [{"const": "shadow"}, {"const": "canary"}]},
                action={"const": PromotionAction.REMOVE.value},
                canary_percent=_NO_PERCENT,
            ),
        ]
    }
    model = serializers.SlugField()
    version = serializers.IntegerField(min_value=1)
    target_alias = serializers.ChoiceField(choices=[(a, a) for a in GOVERNED_ALIASES], default="production")
    action = serializers.ChoiceField(choices=PromotionAction.choices, default=PromotionAction.PROMOTE)
    holdout = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Id of a hold-out dataset of this model."
    )
    canary_percent = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=50)
    reason = serializers.CharField(max_length=4000)


class DecisionIn(StrictSerializer):
    comment = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    threshold = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0, max_value=1)


class RejectIn(StrictSerializer):
    comment = serializers.CharField(max_length=4000)


class CancelIn(StrictSerializer):
    reason = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class RollbackIn(StrictSerializer):
    version = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=4000)
    confirm_rolled_back = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Restore a version that production was rolled back past since its approval.",
    )


class RollbackTargetOut(serializers.Serializer):
    """An earlier production version a rollback can restore, with its history."""

    version = serializers.IntegerField(source="version.version")
    approved_at = serializers.DateTimeField(allow_null=True)
    approved_by = serializers.CharField(source="approved_by.username", allow_null=True, default=None)
    rolled_back = serializers.BooleanField()
    rolled_back_at = serializers.DateTimeField(allow_null=True)
    rolled_back_by = serializers.CharField(source="rolled_back_by.username", allow_null=True, default=None)
    rolled_back_reason = serializers.CharField()


class RollbackTargetsQuery(StrictSerializer):
    include_rolled_back = serializers.BooleanField(required=False, default=False)


class PromotionEventOut(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = PromotionEvent
        fields = ["from_state", "to_state", "actor", "note", "created_at"]

    def get_actor(self, event) -> str:
        return event.actor.username if event.actor_id else "keel-gate"


class PromotionOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="version.version")
    compared_version = serializers.IntegerField(source="compared_version.version", allow_null=True, default=None)
    submitted_by = serializers.CharField(source="submitted_by.username")
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    events = PromotionEventOut(many=True, read_only=True)

    class Meta:
        model = PromotionRequest
        fields = [
            "id",
            *PROMOTION_REQUEST_FIELDS,
            "submitted_by",
            "submitted_at",
            "compared_version",
            "failure_reasons",
            "proposed_threshold",
            "approved_threshold",
            "decided_by",
            "decided_at",
            "decision_comment",
            "evidence",
            "events",
        ]


class PromotionSummaryOut(PromotionOut):
    class Meta(PromotionOut.Meta):
        fields = [f for f in PromotionOut.Meta.fields if f not in ("evidence", "events")]
