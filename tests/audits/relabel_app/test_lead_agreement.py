"""How well a campaign's labellers agree, overall and per label, and each labeller's figures: the
kappas and alpha equal the reference implementations on the campaign's own answers."""

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from audits import selectors
from tests.audits.relabel_app.lead_scenario import work

pytestmark = pytest.mark.django_db

LOU = ["churn", "churn", "stay", "stay", "stay", "churn", "stay", "unsure", "stay", "churn"]
LEE = ["churn", "stay", "stay", "stay", "churn", "churn", "stay", "stay", "stay", "stay"]


@pytest.fixture
def overlapped(drawn):
    return drawn(design={"kind": "uniform", "size": 10}, overlap_share=1.0, overlap_labels=2)


def test_two_labellers_cohens_kappa_is_scikit_learns(overlapped, labeller, second_labeller):
    work(overlapped, labeller, LOU)
    work(overlapped, second_labeller, LEE)
    found = selectors.campaign_agreement(overlapped)
    # "unsure" is no answer: the item Lou was unsure of is not compared.
    pairs = [(a, b) for a, b in zip(LOU, LEE, strict=True) if "unsure" not in (a, b)]
    expected = cohen_kappa_score([a for a, _ in pairs], [b for _, b in pairs])
    assert found["items_overlapped"] == 9 and found["labellers"] == 2
    assert found["cohen_kappa"] == pytest.approx(expected)
    assert found["fleiss_kappa"] is not None  # two answers on every overlapped item
    assert found["disputed"] == 3


def test_labellers_on_different_subsets_get_krippendorffs_alpha(overlapped, labeller, second_labeller, third_labeller):
    work(overlapped, labeller, LOU)
    work(overlapped, second_labeller, LEE[:5])
    work(overlapped, third_labeller, LEE[5:])  # Liv sees the five items Lee did not
    found = selectors.campaign_agreement(overlapped)
    codes = {"churn": 0, "stay": 1}
    data = np.array(
        [
            [codes.get(label, np.nan) for label in LOU],
            [codes[label] for label in LEE[:5]] + [np.nan] * 5,
            [np.nan] * 5 + [codes[label] for label in LEE[5:]],
        ]
    )
    assert found["cohen_kappa"] is None  # three labellers
    assert found["krippendorff_alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    )
    churn = found["per_label"]["churn"]
    # Pairs with a "churn": items 1, 2, 5, 6, 10: both churn on items 1 and 6.
    assert churn["specific_agreement"] == pytest.approx(2 * 2 / (2 * 2 + 3))
    one_vs_rest = np.where(np.isnan(data), np.nan, (data == 0).astype(float))
    assert churn["krippendorff_alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=one_vs_rest, level_of_measurement="nominal")
    )


def test_each_labellers_figures(overlapped, labeller, second_labeller):
    items = work(overlapped, labeller, LOU, seconds=[4, 6, 8, 10, 2, 3, 5, 7, 9, 1])
    work(overlapped, second_labeller, LEE)
    figures = {row["labeller"]: row for row in selectors.campaign_labeller_figures(overlapped)}
    lou = figures["lou-labeller"]
    assert lou["items"] == 10
    assert lou["median_seconds"] == 5.5
    assert lou["unsure_share"] == pytest.approx(0.1)
    assert lou["pairs"] == 9
    assert lou["agreement_share"] == pytest.approx(6 / 9)
    assert lou["agreement_kappa"] == pytest.approx(selectors.campaign_agreement(overlapped)["cohen_kappa"])
    predicted = [item.prediction.label for item in items]
    sure = [(label, p) for label, p in zip(LOU, predicted, strict=True) if label != "unsure"]
    assert lou["model_share"] == pytest.approx(sum(a == b for a, b in sure) / len(sure))
    assert lou["gold"]["answered"] == 0 and lou["gold"]["accuracy"] is None
    assert figures["lee-labeller"]["median_seconds"] is None


def test_no_overlap_no_agreement(drawn, labeller):
    campaign = drawn(design={"kind": "uniform", "size": 3})
    work(campaign, labeller, ["stay"] * 3)
    found = selectors.campaign_agreement(campaign)
    assert found["items_overlapped"] == 0
    assert (found["cohen_kappa"], found["fleiss_kappa"], found["krippendorff_alpha"]) == (None, None, None)


def test_three_labellers_on_every_item_get_fleiss_kappa(drawn, labeller, second_labeller, third_labeller):
    campaign = drawn(design={"kind": "uniform", "size": 4}, overlap_share=1.0, overlap_labels=3)
    work(campaign, labeller, ["churn", "churn", "stay", "stay"])
    work(campaign, second_labeller, ["churn", "stay", "stay", "stay"])
    work(campaign, third_labeller, ["churn", "stay", "stay", "churn"])
    found = selectors.campaign_agreement(campaign)
    # By hand: items (churn, stay) counts (3,0) (1,2) (0,3) (1,2); P_i = 1, 1/3, 1, 1/3 -> P̄ = 2/3;
    # p = (5/12, 7/12) -> P_e = 74/144; kappa = (2/3 - 74/144) / (1 - 74/144) = 22/70.
    assert found["fleiss_kappa"] == pytest.approx(22 / 70)
    assert found["cohen_kappa"] is None
    assert found["krippendorff_alpha"] is not None
