"""API v1 shapes of what relabelling produces: stored estimates with their intervals, error
patterns, and the export's query."""

from rest_framework import serializers

from mlops.api import StrictSerializer

__all__ = ["EstimateOut", "CampaignEstimateOut", "ErrorPatternOut", "LabelsQueryIn", "EXPORT_FORMATS"]

EXPORT_FORMATS = ("csv", "parquet", "jsonl")


class IntervalOut(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    low = serializers.FloatField()
    high = serializers.FloatField()


class ClassMeasuresOut(serializers.Serializer):
    precision = serializers.DictField(help_text="{value, low, high, n, method}")
    recall = serializers.DictField(help_text="{value, low, high, n, method}")


class EstimateOut(serializers.Serializer):
    version = serializers.IntegerField(allow_null=True, help_text="Null: every version the campaign covers.")
    computed_at = serializers.DateTimeField()
    settled = serializers.IntegerField(help_text="Items whose label was settled (agreed or adjudicated).")
    wrong = serializers.IntegerField()
    method = serializers.CharField(help_text="wilson (uniform samples) or horvitz_thompson (design-weighted).")
    accuracy = IntervalOut()
    error_rate = IntervalOut()
    per_class = serializers.DictField(child=ClassMeasuresOut(), help_text="Per class: precision and recall.")
    minimum = serializers.FloatField(allow_null=True, help_text="The policy's live accuracy minimum then.")
    degraded = serializers.BooleanField(help_text="The accuracy interval's upper bound was below the minimum.")


class ErrorPatternOut(serializers.Serializer):
    column = serializers.CharField()
    value = serializers.CharField(help_text="A category, or a numeric column's quantile bin.")
    items = serializers.IntegerField()
    errors = serializers.IntegerField()
    error_share = serializers.FloatField()
    lift = serializers.FloatField(help_text="The segment's error share over the overall one.")
    p_value = serializers.FloatField(help_text="One-sided Fisher exact test.")
    q_value = serializers.FloatField(help_text="Benjamini–Hochberg adjusted; rows at or under 0.05 are reported.")


class CampaignEstimateOut(serializers.Serializer):
    campaign = serializers.IntegerField()
    state = serializers.CharField()
    estimates = EstimateOut(many=True, help_text="The latest stored estimate: the whole campaign, then per version.")
    error_patterns = ErrorPatternOut(many=True)


class LabelsQueryIn(StrictSerializer):
    format = serializers.ChoiceField(choices=EXPORT_FORMATS, default="csv")
