"""Pipelines read a campaign's results through the API: the stored estimate with its intervals and
error patterns, and the corrected labels as CSV, Parquet or JSON lines with their provenance."""

import io

import pandas as pd
import pytest

from audits import services
from audits.models import RelabelAdjudication
from tests.audits.relabel_app.results_helpers import FLIP, label_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(drawn, churn, labeller, second_labeller, reviewer):
    """Six items of v1, each answered by two labellers: four agreed (one of them correcting the
    model), one adjudicated by the reviewer after a disagreement, one still disputed."""
    campaign = drawn(design={"kind": "uniform", "size": 6}, versions=[churn.v1], overlap_share=1.0)
    items = list(campaign.items.select_related("prediction").order_by("pk"))
    plan = [("same", "same"), ("same", "same"), ("same", "same"), ("flip", "flip"), ("same", "flip"), ("flip", "same")]
    for item, answers in zip(items, plan):
        for who, how in zip((labeller, second_labeller), answers):
            services.item_next(labeller=who, campaign=campaign)
            label = item.prediction.label if how == "same" else FLIP[item.prediction.label]
            services.answer_submit(labeller=who, item=item, label=label)
    RelabelAdjudication.objects.create(item=items[4], lead=reviewer, label=FLIP[items[4].prediction.label])
    services.estimate_refresh(campaign_id=campaign.pk)
    return campaign, items


def test_a_pipeline_reads_the_stored_estimate_with_intervals(api_as, pipeline, answered):
    campaign, _ = answered
    response = api_as(pipeline).get(f"/api/v1/relabel/campaigns/{campaign.pk}/estimate")
    assert response.status_code == 200, response.content
    body = response.json()
    [estimate] = body["estimates"]
    assert (estimate["version"], estimate["settled"], estimate["wrong"]) == (None, 5, 2)
    assert estimate["accuracy"]["value"] == pytest.approx(0.6)
    assert estimate["accuracy"]["low"] < 0.6 < estimate["accuracy"]["high"]
    assert estimate["method"] == "wilson"
    assert set(estimate["per_class"]) <= {"churn", "stay"}
    assert body["error_patterns"] == []  # five items cannot show a significant pattern


def test_a_labeller_does_not_read_results(api_as, labeller, answered):
    campaign, _ = answered
    assert api_as(labeller).get(f"/api/v1/relabel/campaigns/{campaign.pk}/estimate").status_code == 403
    assert api_as(labeller).get(f"/api/v1/relabel/campaigns/{campaign.pk}/labels").status_code == 403


def _read(fmt: str, content: bytes) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(io.BytesIO(content), keep_default_na=False, na_values=[""])
    if fmt == "parquet":
        return pd.read_parquet(io.BytesIO(content))
    return pd.read_json(io.BytesIO(content), lines=True)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_corrected_labels_round_trip_with_their_provenance(api_as, pipeline, answered, fmt):
    campaign, items = answered
    response = api_as(pipeline).get(f"/api/v1/relabel/campaigns/{campaign.pk}/labels?format={fmt}")
    assert response.status_code == 200
    assert response.streaming
    assert f"campaign-{campaign.pk}-labels." in response["Content-Disposition"]
    frame = _read(fmt, b"".join(response.streaming_content)).set_index("prediction_id")

    assert list(frame.index) == [item.prediction_id for item in items[:5]]  # the disputed one has no label yet
    assert set(frame["campaign_id"]) == {campaign.pk} and set(frame["campaign_name"]) == {campaign.name}
    for item in items[:5]:
        row = frame.loc[item.prediction_id]
        assert row["request_id"] == item.prediction.request_id
        assert row["version"] == 1
        assert pd.Timestamp(row["predicted_at"]) == pd.Timestamp(item.prediction.predicted_at)
        assert row["predicted_label"] == item.prediction.label
        assert row["score"] == pytest.approx(item.prediction.score)
        assert row["labellers"] == "lee-labeller;lou-labeller"
    assert list(frame["source"]) == ["agreed"] * 4 + ["adjudicated"]
    assert list(frame["relabelled"].astype(bool)) == [False, False, False, True, True]
    assert list(frame["agreement"]) == pytest.approx([1, 1, 1, 1, 0.5])
    assert list(frame["adjudicated_by"].fillna("")) == ["", "", "", "", "rita-reviewer"]
    fifth = items[4]
    assert frame.loc[fifth.prediction_id, "corrected_label"] == FLIP[fifth.prediction.label]


def test_an_erased_persons_rows_are_never_exported(api_as, pipeline, answered):
    campaign, items = answered
    services.entity_erase(entity_id=items[0].prediction.entity_id)
    for fmt in ("csv", "parquet", "jsonl"):
        response = api_as(pipeline).get(f"/api/v1/relabel/campaigns/{campaign.pk}/labels?format={fmt}")
        frame = _read(fmt, b"".join(response.streaming_content))
        assert items[0].prediction_id not in set(frame["prediction_id"]) and len(frame) == 4


def test_an_unknown_format_is_a_clear_400(api_as, pipeline, answered):
    campaign, _ = answered
    response = api_as(pipeline).get(f"/api/v1/relabel/campaigns/{campaign.pk}/labels?format=xlsx")
    assert response.status_code == 400
    assert "format" in response.json()["detail"]


def test_a_big_campaign_streams_in_several_blocks(drawn, churn, labeller, api_as, pipeline, monkeypatch):
    from audits.selectors import relabel_exports, relabel_results

    monkeypatch.setattr(relabel_results, "EXPORT_CHUNK", 5)
    monkeypatch.setattr(relabel_exports, "ROW_GROUP", 5)
    campaign = drawn(design={"kind": "uniform", "size": 20}, versions=[churn.v1])
    label_all(campaign, labeller)
    response = api_as(pipeline).get(f"/api/v1/relabel/campaigns/{campaign.pk}/labels?format=jsonl")
    blocks = list(response.streaming_content)
    assert len(blocks) == 20
    parquet = api_as(pipeline).get(f"/api/v1/relabel/campaigns/{campaign.pk}/labels?format=parquet")
    assert len(pd.read_parquet(io.BytesIO(b"".join(parquet.streaming_content)))) == 20
