"""API v1 shapes of relabelling: campaigns, their progress, the labeller's card and answers."""

from rest_framework import serializers

from mlops.api import JSONObjectField, StrictSerializer, optional_text

from ..models import RelabelAssignment, RelabelCampaign

__all__ = [
    "AnswerIn",
    "AnswerOut",
    "CampaignIn",
    "CampaignOut",
    "CampaignDetailOut",
    "CardOut",
    "NextOut",
    "segment_field",
    "surfaces_field",
]

DESIGN_HELP = (
    'The sampling design: {"kind": "uniform", "rate": 0.02} (or "size"), {"kind": "stratified", '
    '"strata": "predicted_class" | "score_band", "stratum_sizes": {...}}, {"kind": "uncertainty", "size": …, '
    '"threshold": …}, {"kind": "disagreement", "size": …, "against": [shadow/canary version numbers; default: '
    'the shadow and canary aliases]}, {"kind": "audit_flagged", "size": …, "audit": <audit id>}, '
    '{"kind": "label_errors", "size": …, "batch": <batch id>, "label_column": "label", "positive": <class>}.'
)


SURFACES_HELP = (
    "Sample only predictions served on these surfaces (as logged with each prediction: lower-case letters, "
    "digits, - and _). Default: every surface."
)
SEGMENT_HELP = (
    'Sample only predictions whose logged features take these values: {"country": ["DE", "FR"], "plan": ["pro"]} '
    "(AND across columns, OR within one; at most 5 columns, each a feature the model logged, each with a "
    'non-empty list of text, numbers or true/false, matched as logged: 3 is not "3"). Default: every prediction.'
)


def surfaces_field() -> serializers.ListField:
    # Each name is checked by the service, which answers with one message per field.
    return serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        default=list,
        help_text=SURFACES_HELP,
    )


def segment_field() -> JSONObjectField:
    return JSONObjectField(required=False, default=dict, help_text=SEGMENT_HELP)


class CampaignIn(StrictSerializer):
    model = serializers.SlugField()
    name = serializers.CharField(max_length=200)
    versions = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, help_text="Default: all versions."
    )
    window_start = serializers.DateTimeField(required=False, allow_null=True, default=None)
    window_end = serializers.DateTimeField(required=False, allow_null=True, default=None)
    surfaces = surfaces_field()
    segment = segment_field()
    label_set = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        allow_null=True,
        default=None,
        max_length=50,
        help_text='Default: the classes the model predicted in the log; "unsure" is always added.',
    )
    overlap_share = serializers.FloatField(min_value=0, max_value=1, required=False, default=0.0)
    overlap_labels = serializers.IntegerField(min_value=2, max_value=20, required=False, default=2)
    design = JSONObjectField(help_text=DESIGN_HELP)
    seed = serializers.IntegerField(
        min_value=0, max_value=2**63 - 1, required=False, allow_null=True, default=None, help_text="Default: random."
    )


class CampaignOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    versions = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username")
    design = JSONObjectField()
    label_set = serializers.ListField(child=serializers.CharField())
    stratum_population = serializers.DictField(child=serializers.IntegerField())
    surfaces = serializers.ListField(child=serializers.CharField())
    segment = JSONObjectField()
    filters = serializers.CharField(
        read_only=True, help_text='The filters in words: "segment: country ∈ {DE, FR}; surface: app" ("" when none).'
    )

    class Meta:
        model = RelabelCampaign
        fields = [
            "id",
            "model",
            "versions",
            "name",
            "window_start",
            "window_end",
            "surfaces",
            "segment",
            "filters",
            "label_set",
            "overlap_share",
            "overlap_labels",
            "design",
            "seed",
            "state",
            "error",
            "population",
            "stratum_population",
            "items_total",
            "labels_required",
            "created_by",
            "created_at",
            "drawn_at",
        ]

    def get_versions(self, campaign) -> list[int]:
        return sorted(v.version for v in campaign.versions.all())


class StratumProgressOut(serializers.Serializer):
    items = serializers.IntegerField()
    done = serializers.IntegerField(help_text="Items with all the labels they need.")
    answers = serializers.IntegerField()
    answers_needed = serializers.IntegerField()
    withdrawn = serializers.IntegerField(help_text="Items taken out of the queue: their person was erased.")


class ProgressOut(StratumProgressOut):
    share_done = serializers.FloatField(allow_null=True)
    strata = serializers.DictField(child=StratumProgressOut())


class CampaignDetailOut(CampaignOut):
    progress = ProgressOut(read_only=True)

    class Meta(CampaignOut.Meta):
        fields = [*CampaignOut.Meta.fields, "progress"]


class CardOut(serializers.ModelSerializer):
    """What a labeller sees of an item: the prediction and its inputs, never another answer."""

    item = serializers.IntegerField(source="item.pk")
    version = serializers.IntegerField(source="item.prediction.version.version")
    predicted_at = serializers.DateTimeField(source="item.prediction.predicted_at")
    features = JSONObjectField(source="item.prediction.features")
    raw_features = JSONObjectField(source="item.prediction.raw_features")
    score = serializers.FloatField(source="item.prediction.score", allow_null=True)
    predicted_label = serializers.CharField(source="item.prediction.label")
    surface = serializers.CharField(
        source="item.prediction.surface", help_text="Where it was served; blank: not logged."
    )

    class Meta:
        model = RelabelAssignment
        fields = [
            "item",
            "version",
            "predicted_at",
            "features",
            "raw_features",
            "score",
            "predicted_label",
            "surface",
            "assigned_at",
            "expires_at",
        ]


class NextOut(serializers.Serializer):
    card = CardOut(allow_null=True, help_text="Null when nothing is left for you in this campaign.")
    label_set = serializers.ListField(child=serializers.CharField())
    progress = ProgressOut()


class AnswerIn(StrictSerializer):
    label = serializers.CharField(max_length=100, help_text='One of the campaign\'s labels ("unsure" included).')
    note = optional_text(max_length=2000)
    seconds = serializers.FloatField(min_value=0, required=False, allow_null=True, default=None)


class ConsensusOut(serializers.Serializer):
    answers = serializers.IntegerField()
    required = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    leading = serializers.CharField(allow_null=True)
    agreement = serializers.FloatField(allow_null=True)


class AnswerOut(serializers.Serializer):
    item = serializers.IntegerField()
    label = serializers.CharField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    consensus = ConsensusOut(help_text="Every labeller's latest answer so far, shown only once you answered.")
