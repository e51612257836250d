"""Gold items: a lead seeds predictions whose answer is known; every labeller gets each one once,
mixed into their work, and each labeller's accuracy on gold is tracked. Gold is never part of the
campaign's progress or estimate."""

import pytest
from django.core.exceptions import PermissionDenied

from audits import selectors, services
from audits.models import RelabelItem
from audits.services import relabel_lead
from mlops.errors import ApplicationError, Conflict
from tests.audits.relabel_app.lead_scenario import work

pytestmark = pytest.mark.django_db


def _outside(campaign, churn, count):
    """Predictions of churn's log that are not in the campaign's sample."""
    taken = set(campaign.items.values_list("prediction_id", flat=True))
    return [row for row in churn.rows if row.pk not in taken][:count]


@pytest.fixture
def seeded(drawn, churn, reviewer):
    campaign = drawn(design={"kind": "uniform", "size": 4}, overlap_share=1.0, overlap_labels=2)
    rows = _outside(campaign, churn, 2)
    gold = services.gold_items_add(
        lead=reviewer, campaign=campaign, items=[(rows[0].pk, "churn"), (rows[1].pk, "stay")]
    )
    return campaign, gold


def test_a_lead_seeds_gold_items_with_their_known_answers(seeded):
    campaign, gold = seeded
    assert [(item.is_gold, item.gold_label) for item in gold] == [(True, "churn"), (True, "stay")]
    assert [row["gold_label"] for row in selectors.campaign_gold_items(campaign)] == ["churn", "stay"]


def test_gold_is_not_part_of_progress_or_estimates(seeded, labeller, second_labeller, monkeypatch):
    campaign, gold = seeded
    monkeypatch.setattr(relabel_lead, "GOLD_EVERY", 2)
    work(campaign, labeller, ["stay"] * 6)
    work(campaign, second_labeller, ["stay"] * 6)
    progress = selectors.campaign_progress(campaign)
    assert (progress["items"], progress["done"]) == (4, 4)
    assert set(selectors.campaign_resolutions(campaign)) == set(
        campaign.items.filter(is_gold=False).values_list("pk", flat=True)
    )
    assert selectors.campaign_estimates_now(campaign)[None]["settled"] == 4


def test_each_labeller_gets_each_gold_item_once_mixed_in_at_a_rate(seeded, labeller, second_labeller, monkeypatch):
    campaign, gold = seeded
    monkeypatch.setattr(relabel_lead, "GOLD_EVERY", 2)
    for who in (labeller, second_labeller):
        items = work(campaign, who, ["stay"] * 6)
        # Two sample items, a gold one, two more, the other gold one, then the rest of the sample.
        assert [item.is_gold for item in items] == [False, False, True, False, False, True]
        assert services.item_next(labeller=who, campaign=campaign) is None
    assert {item.labels_count for item in RelabelItem.objects.filter(is_gold=True)} == {2}


def test_gold_items_left_when_the_sample_is_done_still_come(seeded, labeller):
    campaign, _ = seeded  # GOLD_EVERY is 10: the sample (4 items) ends before any gold is due
    items = work(campaign, labeller, ["stay"] * 6)
    assert [item.is_gold for item in items] == [False] * 4 + [True] * 2


def test_each_labellers_accuracy_on_gold_has_a_wilson_interval(seeded, labeller, second_labeller):
    campaign, _ = seeded
    work(campaign, labeller, ["stay"] * 4 + ["churn", "stay"])  # both gold right
    work(campaign, second_labeller, ["stay"] * 4 + ["unsure", "churn"])  # unsure counts as a miss
    figures = {row["labeller"]: row["gold"] for row in selectors.campaign_labeller_figures(campaign)}
    assert figures["lou-labeller"]["accuracy"] == 1.0
    assert figures["lee-labeller"]["accuracy"] == 0.0
    assert figures["lou-labeller"]["low"] == pytest.approx(0.342, abs=1e-3)  # Wilson, 2 of 2
    assert figures["lou-labeller"]["high"] == 1.0
    assert figures["lee-labeller"]["answered"] == 2


def test_gold_items_are_checked_whole(drawn, churn, reviewer, labeller):
    campaign = drawn(design={"kind": "uniform", "size": 4})
    sampled = campaign.items.first().prediction_id
    free = _outside(campaign, churn, 1)[0].pk
    with pytest.raises(ApplicationError) as refused:
        services.gold_items_add(
            lead=reviewer,
            campaign=campaign,
            items=[(free, "unsure"), (sampled, "churn"), (10**9, "churn"), (free, "stay")],
        )
    assert len(refused.value.detail["items"]) == 4
    assert not RelabelItem.objects.filter(is_gold=True).exists()
    with pytest.raises(PermissionDenied):
        services.gold_items_add(lead=labeller, campaign=campaign, items=[(free, "churn")])


def test_gold_goes_only_into_open_campaigns(drawn, churn, reviewer):
    campaign = services.campaign_create(
        actor=reviewer, model=churn.model, name="later", design={"kind": "uniform", "size": 2}, start=False
    )
    with pytest.raises(Conflict):
        services.gold_items_add(lead=reviewer, campaign=campaign, items=[(churn.rows[0].pk, "churn")])
