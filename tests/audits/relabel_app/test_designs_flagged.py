"""A lead samples the logged predictions that show what an audit flagged (a value never seen in
training, a value outside the reference's range, a missing value), and the requests a labelled batch
suggests were mislabelled (cleanlab's confident learning on the labels that arrived and the logged
scores). Both are seeded and record inclusion probabilities; bad sources are refused by field."""

import numpy as np
import pandas as pd
import pytest

from audits import services
from audits.models import CampaignState, PredictionLog
from audits.services.relabel_sources import audit_flags
from mlops.errors import ApplicationError
from tests.audits.factories import AuditJobFactory, DataBatchFactory, FindingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def audit(churn):
    """An audit of churn's data that found 'free' plans never seen in training (fail), tenure beyond
    the reference's p01–p99 of [2, 20] (warn), a nulls finding that passed, and a drift failure."""
    job = AuditJobFactory(model=churn.model, version=churn.v1)
    FindingFactory(
        job=job,
        check_name="new_categories",
        column="plan",
        status="fail",
        details={"new_categories": ["free"], "new_share": 0.33},
    )
    FindingFactory(
        job=job, check_name="range", column="tenure", status="warn", details={"reference_p01": 2, "reference_p99": 20}
    )
    FindingFactory(job=job, check_name="nulls", column="plan", status="pass")
    FindingFactory(job=job, check_name="drift", column="tenure", status="fail")
    return job


def flagged_rows(churn) -> dict[int, str]:
    out = {}
    for row in churn.rows:
        if row.features["plan"] == "free":
            out[row.pk] = "new_categories:plan"
        elif not 2 <= row.features["tenure"] <= 20:
            out[row.pk] = "range:tenure"
    return out


def test_the_rows_an_audit_flagged_are_drawn_named_by_their_finding(drawn, churn, audit):
    campaign = drawn(design={"kind": "audit_flagged", "size": 1_000, "audit": audit.pk})
    assert campaign.state == CampaignState.OPEN, campaign.error
    expected = flagged_rows(churn)
    assert dict(campaign.items.values_list("prediction_id", "stratum")) == expected
    assert set(campaign.items.values_list("inclusion_probability", flat=True)) == {1.0}
    assert campaign.stratum_population == {"flagged": len(expected)}


def test_a_sample_of_flagged_rows_is_uniform_among_them_and_seeded(drawn, churn, audit):
    first = drawn(design={"kind": "audit_flagged", "size": 20, "audit": audit.pk}, seed=3)
    again = drawn(design={"kind": "audit_flagged", "size": 20, "audit": audit.pk}, seed=3)
    ids = set(first.items.values_list("prediction_id", flat=True))
    assert ids == set(again.items.values_list("prediction_id", flat=True))
    assert ids <= set(flagged_rows(churn)) and len(ids) == 20
    assert set(first.items.values_list("inclusion_probability", flat=True)) == {20 / len(flagged_rows(churn))}


def test_only_warnings_and_failures_that_name_rows_flag(audit):
    assert [flag for flag, _, _ in audit_flags(audit)] == ["new_categories:plan", "range:tenure"]


def test_nulls_flag_missing_values(churn, drawn):
    job = AuditJobFactory(model=churn.model, version=churn.v1)
    FindingFactory(job=job, check_name="nulls", column="coupon", status="warn")
    PredictionLog.objects.filter(pk=churn.rows[5].pk).update(features={"plan": "pro", "tenure": 3, "coupon": "X"})
    campaign = drawn(design={"kind": "audit_flagged", "size": 1_000, "audit": job.pk})
    assert campaign.items_total == 239


@pytest.mark.parametrize("problem", ["other model", "not finished", "nothing row-level"])
def test_an_audit_that_flags_no_rows_is_refused_naming_the_design(reviewer, churn, problem):
    if problem == "other model":
        job = AuditJobFactory()
    elif problem == "not finished":
        job = AuditJobFactory(model=churn.model, version=churn.v1, state="running")
    else:
        job = AuditJobFactory(model=churn.model, version=churn.v1)
        FindingFactory(job=job, check_name="drift", column="tenure", status="fail")
    with pytest.raises(ApplicationError) as refused:
        services.campaign_create(
            actor=reviewer,
            model=churn.model,
            name="x",
            design={"kind": "audit_flagged", "size": 5, "audit": job.pk},
            start=False,
        )
    assert list(refused.value.detail) == ["design"]
    assert refused.value.detail["design"][0].startswith("audit:")


# --- suspected label errors ----------------------------------------------------------------------


@pytest.fixture
def outcomes(churn, settings, tmp_path):
    """The outcomes that arrived for churn's 240 requests: the truth is the logged decision, except
    12 flipped on purpose among confident predictions (scores at least 0.8 or at most 0.2)."""
    settings.KEEL_DATA_ROOT = tmp_path
    (tmp_path / "labels").mkdir()
    frame = pd.DataFrame(
        {"request_id": [r.request_id for r in churn.rows], "outcome": [r.label for r in churn.rows], "other": 1}
    )
    confident = [i for i, r in enumerate(churn.rows) if r.score >= 0.8 or r.score <= 0.2]
    flipped = np.random.default_rng(0).choice(confident, 12, replace=False)
    frame.loc[flipped, "outcome"] = frame.loc[flipped, "outcome"].map({"churn": "stay", "stay": "churn"})
    frame.to_csv(tmp_path / "labels" / "outcomes.csv", index=False)
    batch = DataBatchFactory(model=churn.model, storage_path="labels/outcomes.csv")
    return batch, {churn.rows[i].pk for i in flipped}


def test_suspected_label_errors_of_a_labelled_batch_are_drawn_top_first(drawn, outcomes):
    batch, flipped = outcomes
    design = {"kind": "label_errors", "size": 10, "batch": batch.pk, "label_column": "outcome", "positive": "churn"}
    campaign = drawn(design=design)
    assert campaign.state == CampaignState.OPEN, campaign.error
    ids = set(campaign.items.values_list("prediction_id", flat=True))
    assert len(ids) == 10 and ids <= flipped
    assert set(campaign.items.values_list("inclusion_probability", flat=True)) == {1.0}
    assert set(campaign.items.values_list("stratum", flat=True)) == {"suspected label error"}
    assert campaign.population == 240
    assert campaign.stratum_population["suspected label error"] >= 10


@pytest.mark.parametrize(
    ("change", "words"),
    [({"label_column": "missing"}, "label_column"), ({"batch": 999_999}, "batch"), ({"positive": None}, "positive")],
)
def test_a_batch_without_what_the_design_needs_is_refused(reviewer, churn, outcomes, change, words):
    batch, _ = outcomes
    design = {"kind": "label_errors", "size": 10, "batch": batch.pk, "label_column": "outcome", "positive": "churn"}
    design.update(change)
    design = {k: v for k, v in design.items() if v is not None}
    with pytest.raises(ApplicationError) as refused:
        services.campaign_create(actor=reviewer, model=churn.model, name="x", design=design, start=False)
    assert list(refused.value.detail) == ["design"]
    assert refused.value.detail["design"][0].startswith(words)
