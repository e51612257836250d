"""API v1 shapes of what relabelling leads do: disputes and decisions, gold items, agreement and
each labeller's figures."""

from rest_framework import serializers

from mlops.api import JSONObjectField, StrictSerializer, optional_text

__all__ = [
    "AdjudicateIn",
    "AdjudicationOut",
    "AgreementOut",
    "DisputeOut",
    "GoldIn",
    "GoldItemOut",
    "LabellerFiguresOut",
]


class ItemPredictionOut(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField(source="version.version")
    predicted_at = serializers.DateTimeField()
    features = JSONObjectField()
    score = serializers.FloatField(allow_null=True)
    label = serializers.CharField(help_text="The model's predicted label.")


class DisputeAnswerOut(serializers.Serializer):
    labeller = serializers.CharField()
    label = serializers.CharField()
    note = serializers.CharField()
    seconds = serializers.FloatField(allow_null=True)
    answered_at = serializers.DateTimeField()


class DisputeOut(serializers.Serializer):
    item = serializers.IntegerField(source="item.pk")
    prediction = ItemPredictionOut()
    answers = DisputeAnswerOut(many=True, help_text="Each labeller's latest answer, in the order given.")


class AdjudicateIn(StrictSerializer):
    label = serializers.CharField(max_length=100, help_text='One of the campaign\'s labels, not "unsure".')
    note = optional_text(max_length=2000)


class AdjudicationOut(serializers.Serializer):
    item = serializers.IntegerField(source="item_id")
    label = serializers.CharField()
    note = serializers.CharField()
    lead = serializers.CharField(source="lead.username")
    created_at = serializers.DateTimeField()


class GoldLineIn(StrictSerializer):
    prediction = serializers.IntegerField(min_value=1, help_text="A logged prediction of the campaign's model.")
    label = serializers.CharField(max_length=100, help_text='Its known answer: a label of the campaign, not "unsure".')


class GoldIn(StrictSerializer):
    items = GoldLineIn(many=True, allow_empty=False, max_length=500)


class GoldItemOut(serializers.Serializer):
    item = serializers.IntegerField(source="item.pk")
    prediction = ItemPredictionOut()
    gold_label = serializers.CharField()
    answered = serializers.IntegerField(help_text="Labellers who answered it.")
    right = serializers.IntegerField(help_text="Of them, those who gave the gold label.")


class LabelAgreementOut(serializers.Serializer):
    answers = serializers.IntegerField()
    specific_agreement = serializers.FloatField(
        allow_null=True, help_text="Of pairs of answers where one is this label, the share where both are."
    )
    krippendorff_alpha = serializers.FloatField(allow_null=True, help_text="One-vs-rest (this label or not).")


class AgreementOut(serializers.Serializer):
    items_overlapped = serializers.IntegerField(help_text='Items with at least two answers other than "unsure".')
    labellers = serializers.IntegerField()
    cohen_kappa = serializers.FloatField(allow_null=True, help_text="When exactly two labellers overlapped.")
    fleiss_kappa = serializers.FloatField(
        allow_null=True, help_text="When every overlapped item has the same number of answers."
    )
    krippendorff_alpha = serializers.FloatField(allow_null=True, help_text="Nominal; always, where defined.")
    per_label = serializers.DictField(child=LabelAgreementOut())
    disputed = serializers.IntegerField(help_text="Items waiting for a lead's decision.")
    adjudicated = serializers.IntegerField()


class GoldFiguresOut(serializers.Serializer):
    answered = serializers.IntegerField()
    right = serializers.IntegerField()
    accuracy = serializers.FloatField(allow_null=True, help_text='"unsure" on a gold item counts as a miss.')
    low = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True)
    method = serializers.CharField()


class LabellerFiguresOut(serializers.Serializer):
    labeller = serializers.CharField()
    items = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    unsure_share = serializers.FloatField(allow_null=True)
    pairs = serializers.IntegerField(help_text="Pairs of this labeller's answer and another's on the same item.")
    agreement_share = serializers.FloatField(allow_null=True)
    agreement_kappa = serializers.FloatField(allow_null=True, help_text="Cohen's kappa over those pairs.")
    model_share = serializers.FloatField(allow_null=True, help_text="Share of labels equal to the model's.")
    gold = GoldFiguresOut()
