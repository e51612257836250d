"""API v1 shapes for explanations (support.apis.explanations). Separate from
support.serializers.entries, which belongs to the lists."""

from django.urls import reverse
from rest_framework import serializers

from mlops.api import JSONObjectField, StrictSerializer, optional_text

from ..models import Explanation


class ExplanationIn(StrictSerializer):
    model = serializers.CharField(max_length=200, help_text="The registered model; its production version explains.")
    entity_id = optional_text(max_length=200, help_text="A customer whose latest logged prediction to explain.")
    features = serializers.DictField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Or the features to explain, one value per feature of the version's schema.",
    )


class ExplainerBackgroundIn(StrictSerializer):
    records = serializers.ListField(
        child=JSONObjectField(),
        allow_empty=False,
        min_length=1,
        help_text="Rows of the version's features (about 100; extra keys are dropped).",
    )
    source = optional_text(max_length=500, help_text="Where the rows come from, e.g. 'training data 2026-01..06'.")


class ExplainerBackgroundOut(serializers.Serializer):
    model = serializers.CharField(source="version.model.name")
    version = serializers.IntegerField(source="version.version")
    rows = serializers.IntegerField()
    sha256 = serializers.CharField()
    source = serializers.CharField()
    created_by = serializers.CharField(source="created_by.username", default=None)
    created_at = serializers.DateTimeField()


class _PredictionOut(serializers.Serializer):
    id = serializers.IntegerField()
    request_id = serializers.CharField()
    version = serializers.IntegerField(source="version.version")
    score = serializers.FloatField(allow_null=True)
    label = serializers.CharField()
    predicted_at = serializers.DateTimeField()


class ExplanationOut(serializers.ModelSerializer):
    """An explanation and its state. `result` (null until it succeeded) is what the explainer
    returned: score, decision, threshold, base_value, units, contributions [{feature, value, shap}]
    by size, reasons in plain words; base_value + the sum of the contributions == score."""

    model = serializers.CharField(source="version.model.name")
    version = serializers.IntegerField(source="version.version")
    prediction = _PredictionOut(allow_null=True)
    created_by = serializers.CharField(source="created_by.username")
    links = serializers.SerializerMethodField()

    class Meta:
        model = Explanation
        fields = [
            "id",
            "state",
            "stage",
            "progress",
            "error",
            "model",
            "version",
            "entity_id",
            "prediction",
            "input",
            "input_key",
            "result",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "links",
        ]

    def get_links(self, explanation: Explanation) -> dict:
        links = {
            "self": reverse("support-api:explanation-detail", args=[explanation.pk]),
            "page": reverse("support:explanation", args=[explanation.pk]),
            "waterfall": None,
        }
        if explanation.state == "succeeded":
            links["waterfall"] = reverse("support-api:explanation-waterfall", args=[explanation.pk])
        return links
