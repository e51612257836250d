"""Answering a whole campaign at once, right or wrong as a test needs."""

from audits import services

FLIP = {"churn": "stay", "stay": "churn"}


def label_all(campaign, labeller, *, wrong=lambda item: False) -> list:
    """`labeller` answers every item of the campaign: the model's label, or the other one where
    `wrong(item)` says the model was wrong."""
    items = list(campaign.items.select_related("prediction").order_by("pk"))
    for item in items:
        services.item_next(labeller=labeller, campaign=campaign)
        label = item.prediction.label
        services.answer_submit(labeller=labeller, item=item, label=FLIP[label] if wrong(item) else label)
    return items
