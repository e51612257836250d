"""What relabelling leads read: the disputed items waiting for a decision (with every labeller's
answer and note, and the model's prediction), the gold items, how well the labellers agree, and each
labeller's figures. The maths is in audits.engine.relabel.team."""

from django.contrib.auth import get_user_model

from ..engine import relabel as engine
from ..models import RelabelAnswer, RelabelCampaign, RelabelItem
from .relabel import ResolutionSource, campaign_resolutions

__all__ = ["campaign_agreement", "campaign_disputes", "campaign_gold_items", "campaign_labeller_figures"]


def _latest(item_ids) -> dict[int, dict[int, RelabelAnswer]]:
    """Per item, each labeller's latest answer (a later answer supersedes an earlier one)."""
    latest: dict[int, dict[int, RelabelAnswer]] = {}
    for answer in RelabelAnswer.objects.filter(item_id__in=item_ids).order_by("pk").iterator():
        latest.setdefault(answer.item_id, {})[answer.labeller_id] = answer
    return latest


def _usernames(ids) -> dict[int, str]:
    model = get_user_model()
    return dict(model.objects.filter(pk__in=set(ids)).values_list("pk", model.USERNAME_FIELD))


def campaign_disputes(campaign: RelabelCampaign) -> list[dict]:
    """Items whose answers are all in and differ (or are all "unsure"), oldest first: the item, the
    model's prediction and each labeller's answer ({labeller, label, note, seconds, answered_at})."""
    disputed = sorted(pk for pk, r in campaign_resolutions(campaign).items() if r.source == ResolutionSource.DISPUTED)
    if not disputed:
        return []
    items = RelabelItem.objects.filter(pk__in=disputed).select_related("prediction__version").in_bulk()
    latest = _latest(disputed)
    names = _usernames(who for given in latest.values() for who in given)
    return [
        {
            "item": items[pk],
            "prediction": items[pk].prediction,
            "answers": [
                {
                    "labeller": names.get(who, str(who)),
                    "label": answer.label,
                    "note": answer.note,
                    "seconds": answer.seconds,
                    "answered_at": answer.created_at,
                }
                for who, answer in sorted(latest.get(pk, {}).items(), key=lambda kv: kv[1].pk)
            ],
        }
        for pk in disputed
    ]


def campaign_gold_items(campaign: RelabelCampaign) -> list[dict]:
    """The campaign's gold items: the prediction, the known answer and how many labellers got it right."""
    items = list(
        RelabelItem.objects.filter(campaign=campaign, is_gold=True, withdrawn_at__isnull=True)
        .select_related("prediction__version")
        .order_by("pk")
    )
    latest = _latest([item.pk for item in items])
    rows = []
    for item in items:
        given = [answer.label for answer in latest.get(item.pk, {}).values()]
        rows.append(
            {
                "item": item,
                "prediction": item.prediction,
                "gold_label": item.gold_label,
                "answered": len(given),
                "right": sum(label == item.gold_label for label in given),
            }
        )
    return rows


def campaign_agreement(campaign: RelabelCampaign) -> dict:
    """Agreement of the campaign's labellers on its sample (gold items and withdrawn ones left out):
    Cohen's kappa (exactly two labellers), Fleiss' kappa (the same number of answers on every
    overlapped item), Krippendorff's alpha, and per label one-vs-rest (engine.relabel.team)."""
    resolutions = campaign_resolutions(campaign)
    result = engine.agreement({pk: r.answers for pk, r in resolutions.items()}, campaign.label_set)
    sources = [r.source for r in resolutions.values()]
    result["disputed"] = sources.count(ResolutionSource.DISPUTED)
    result["adjudicated"] = sources.count(ResolutionSource.ADJUDICATED)
    return result


def campaign_labeller_figures(campaign: RelabelCampaign) -> list[dict]:
    """Each labeller's figures on the campaign (its sample and gold items), by username."""
    items = dict(
        RelabelItem.objects.filter(campaign=campaign, withdrawn_at__isnull=True).values_list("pk", "prediction__label")
    )
    gold = dict(
        RelabelItem.objects.filter(campaign=campaign, is_gold=True, withdrawn_at__isnull=True).values_list(
            "pk", "gold_label"
        )
    )
    latest = _latest(items.keys())
    answers = [
        engine.LabelledAnswer(
            labeller=who,
            item=pk,
            label=answer.label,
            seconds=answer.seconds,
            predicted=items[pk] or None,
            gold=gold.get(pk),
        )
        for pk, given in latest.items()
        for who, answer in given.items()
    ]
    figures = engine.labeller_figures(answers)
    names = _usernames(figures)
    rows = [{"labeller": names.get(who, str(who)), **row} for who, row in figures.items()]
    return sorted(rows, key=lambda row: row["labeller"])
