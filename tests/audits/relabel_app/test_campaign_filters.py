"""A lead samples one surface (where predictions were served) or one segment (feature values) of a
model's log: only those predictions are drawn, whatever the design, and the population and inclusion
probabilities the campaign records are the filtered ones, so its estimate is honest for that segment.
Bad filters are refused by field; the campaign shows its filters in the API and on its pages."""

import pandas as pd
import pytest
from django.db import connection

from audits import selectors, services
from audits.engine.relabel import design_from_dict, draw
from audits.models import CampaignState, PredictionLog, RelabelCampaign
from audits.services import relabel, relabel_sources
from registry.services.catalog import alias_point
from tests.audits.factories import AuditJobFactory, DataBatchFactory, FindingFactory
from tests.audits.relabel_app.results_helpers import label_all

pytestmark = pytest.mark.django_db

APP_IN_DE_FR = {"surfaces": ["app"], "segment": {"country": ["DE", "FR"]}}


def inside(churn, *, surfaces=None, segment=None) -> list:
    """churn's rows that pass the filters, worked out by hand from what the fixture logged."""
    rows = PredictionLog.objects.filter(model=churn.model).order_by("pk")
    return [
        row
        for row in rows
        if (not surfaces or row.surface in surfaces)
        and all(row.features.get(column) in values for column, values in (segment or {}).items())
    ]


def by_hand(rows, design: dict, seed: int):
    """The engine's draw over exactly these rows: what a campaign over the filtered log must draw."""
    frame = pd.DataFrame(
        {"id": [r.pk for r in rows], "score": [r.score for r in rows], "label": [r.label for r in rows]}
    )
    return draw([frame], design_from_dict(design), seed=seed)


def drawn_items(campaign) -> dict[int, float]:
    return dict(campaign.items.values_list("prediction_id", "inclusion_probability"))


DESIGNS = [
    {"kind": "uniform", "rate": 0.5},
    {"kind": "uniform", "size": 9},
    {"kind": "stratified", "strata": "predicted_class", "stratum_sizes": {"churn": 4, "stay": 3}},
    {"kind": "stratified", "strata": "score_band", "stratum_sizes": {"0-0.2": 2, "0.8-1": 2}},
    {"kind": "uncertainty", "size": 8, "threshold": 0.5},
    {"kind": "uncertainty", "size": 8},
]


@pytest.mark.parametrize("design", DESIGNS, ids=lambda d: f"{d['kind']}-{d.get('strata') or len(d)}")
@pytest.mark.parametrize("filters", [{"surfaces": ["app"]}, {"segment": {"country": ["DE", "FR"], "plan": ["pro"]}}])
def test_each_design_draws_only_from_the_surface_or_segment_with_probabilities_over_it(
    drawn, segmented, design, filters
):
    campaign = drawn(design=design, seed=7, **filters)
    assert campaign.state == CampaignState.OPEN, campaign.error
    rows = inside(segmented, **filters)
    expected = by_hand(rows, design, seed=7)
    assert drawn_items(campaign) == pytest.approx(
        dict(zip(expected.items["id"], expected.items["inclusion_probability"], strict=True))
    )
    assert set(drawn_items(campaign)) <= {r.pk for r in rows}
    assert campaign.population == len(rows) == expected.population
    assert campaign.stratum_population == expected.stratum_population


def test_a_sample_of_a_segment_gives_each_item_its_chance_within_the_segment(drawn, segmented):
    campaign = drawn(design={"kind": "uniform", "size": 10}, **APP_IN_DE_FR)
    rows = inside(segmented, **APP_IN_DE_FR)
    assert all(r.surface == "app" and r.features["country"] in {"DE", "FR"} for r in rows)
    assert campaign.population == len(rows) == 72
    assert set(drawn_items(campaign).values()) == {10 / 72}
    strata = drawn(
        design={"kind": "stratified", "strata": "predicted_class", "stratum_sizes": {"churn": 5}}, **APP_IN_DE_FR
    )
    churned = sum(r.label == "churn" for r in rows)
    assert strata.stratum_population == {"churn": churned, "stay": len(rows) - churned}
    assert set(drawn_items(strata).values()) == {5 / churned}


def test_the_filtered_draw_is_seeded(drawn, segmented):
    first = drawn(design={"kind": "uniform", "size": 10}, seed=3, **APP_IN_DE_FR)
    again = drawn(design={"kind": "uniform", "size": 10}, seed=3, **APP_IN_DE_FR)
    other = drawn(design={"kind": "uniform", "size": 10}, seed=4, **APP_IN_DE_FR)
    assert drawn_items(first) == drawn_items(again) != drawn_items(other)


def test_segment_values_match_numbers_and_several_surfaces_add_up(drawn, segmented):
    campaign = drawn(design={"kind": "uniform", "rate": 1.0}, surfaces=["web", "email"], segment={"tenure": [3, 4, 6]})
    rows = inside(segmented, surfaces=["web", "email"], segment={"tenure": [3, 4, 6]})
    assert rows and set(drawn_items(campaign)) == {r.pk for r in rows}
    assert {r.surface for r in rows} == {"web", "email"}
    assert campaign.filters == "segment: tenure ∈ {3, 4, 6}; surfaces: web, email"


def test_an_estimate_over_a_segment_is_the_one_worked_out_by_hand_on_that_segment(drawn, segmented, labeller):
    churn = segmented
    design = {"kind": "stratified", "strata": "predicted_class", "stratum_sizes": {"churn": 6, "stay": 4}}
    campaign = drawn(design=design, segment={"country": ["DE"]})
    items = label_all(campaign, labeller, wrong=lambda item: item.prediction.pk % 3 == 0)
    [stored] = [e for e in services.estimate_refresh(campaign_id=campaign.pk) if e.version_id is None]

    segment = inside(segmented, segment={"country": ["DE"]})
    population = {label: sum(r.label == label for r in segment) for label in ("churn", "stay")}
    sample = {label: [i for i in items if i.prediction.label == label] for label in population}
    wrong = {label: sum(i.prediction.pk % 3 == 0 for i in sample[label]) for label in population}
    # Horvitz–Thompson over the segment: each stratum's error share weighted by its size in the segment.
    error_rate = sum(population[h] * wrong[h] / len(sample[h]) for h in population) / len(segment)
    assert campaign.population == len(segment) == 96
    assert stored.settled == 10 and stored.wrong == sum(wrong.values())
    assert stored.error_rate == pytest.approx(error_rate)
    assert stored.accuracy == pytest.approx(1 - error_rate)
    # Beside the model's other campaigns, the estimate is marked as the segment's.
    trend = selectors.model_estimate_trend(churn.model)
    assert {point["filters"] for point in trend} == {"segment: country ∈ {DE}"}


# --- the other designs ------------------------------------------------------------------------------


def test_disagreements_are_drawn_from_the_surface_only(drawn, segmented, reviewer):
    churn = segmented
    alias_point(model=churn.model, alias="production", version=churn.v1, actor=reviewer, reason="live")
    alias_point(model=churn.model, alias="shadow", version=churn.v2, actor=reviewer, reason="trying")
    flip = {"churn": "stay", "stay": "churn"}
    PredictionLog.objects.bulk_create(
        PredictionLog(
            model=churn.model,
            version=churn.v2,
            request_id=row.request_id,
            predicted_at=row.predicted_at,
            features=row.features,
            surface=row.surface,
            score=row.score,
            label=flip[row.label] if i % 2 == 0 else row.label,
        )
        for i, row in enumerate(churn.rows[:120])
    )
    campaign = drawn(design={"kind": "disagreement", "size": 500}, surfaces=["web"])
    assert campaign.state == CampaignState.OPEN, campaign.error
    expected = {row.pk for i, row in enumerate(churn.rows[:120]) if i % 2 == 0 and row.surface == "web"}
    assert set(drawn_items(campaign)) == expected
    assert campaign.stratum_population == {"disagreement": len(expected)}


def test_rows_an_audit_flagged_are_drawn_from_the_segment_only(drawn, segmented):
    churn = segmented
    job = AuditJobFactory(model=churn.model, version=churn.v1)
    FindingFactory(
        job=job, check_name="new_categories", column="plan", status="fail", details={"new_categories": ["free"]}
    )
    campaign = drawn(design={"kind": "audit_flagged", "size": 1_000, "audit": job.pk}, segment={"country": ["NL"]})
    expected = {r.pk for r in inside(churn, segment={"country": ["NL"]}) if r.features["plan"] == "free"}
    assert expected and set(drawn_items(campaign)) == expected
    assert campaign.population == len(inside(churn, segment={"country": ["NL"]}))


def test_suspected_label_errors_are_looked_for_on_the_surface_only(drawn, segmented, settings, tmp_path):
    churn = segmented
    settings.KEEL_DATA_ROOT = tmp_path
    outcome = [("stay" if r.score >= 0.9 else r.label) for r in churn.rows]  # confident churns that stayed
    pd.DataFrame({"request_id": [r.request_id for r in churn.rows], "outcome": outcome}).to_csv(
        tmp_path / "outcomes.csv", index=False
    )
    batch = DataBatchFactory(model=churn.model, storage_path="outcomes.csv")
    design = {"kind": "label_errors", "size": 50, "batch": batch.pk, "label_column": "outcome", "positive": "churn"}
    campaign = drawn(design=design, surfaces=["email"])
    assert campaign.state == CampaignState.OPEN, campaign.error
    email = inside(churn, surfaces=["email"])
    assert campaign.population == len(email)
    assert set(drawn_items(campaign)) and set(drawn_items(campaign)) <= {r.pk for r in email if r.score >= 0.9}


def test_a_filter_nothing_matches_fails_the_draw_saying_so(drawn, segmented):
    campaign = drawn(surfaces=["kiosk"], label_set=["churn", "stay"])
    assert campaign.state == CampaignState.FAILED
    assert "surface" in campaign.error and "0 prediction" in campaign.error


# --- what the campaign records and shows --------------------------------------------------------------


def post(api, **body):
    body = {"model": "churn", "name": "app in DE/FR", "design": {"kind": "uniform", "size": 5}, **body}
    return api.post("/api/v1/relabel/campaigns/", body, format="json")


def test_a_pipeline_creates_a_filtered_campaign_and_reads_its_filters_back(api_as, pipeline, segmented):
    response = post(api_as(pipeline), surfaces=["app"], segment={"country": ["DE", "FR"]})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["surfaces"] == ["app"] and body["segment"] == {"country": ["DE", "FR"]}
    assert body["filters"] == "segment: country ∈ {DE, FR}; surface: app"
    campaign = RelabelCampaign.objects.get(pk=body["id"])
    assert (campaign.surfaces, campaign.segment) == (["app"], {"country": ["DE", "FR"]})
    listed = api_as(pipeline).get("/api/v1/relabel/campaigns/").json()["results"]
    assert listed[0]["filters"] == "segment: country ∈ {DE, FR}; surface: app"


def test_a_campaign_without_filters_says_none(api_as, pipeline, segmented):
    body = post(api_as(pipeline)).json()
    assert (body["surfaces"], body["segment"], body["filters"]) == ([], {}, "")


@pytest.mark.parametrize(
    ("filters", "field", "words"),
    [
        ({"segment": {"cuntry": ["DE"]}}, "segment", "'cuntry'"),
        ({"segment": {"country": []}}, "segment", "country"),
        ({"segment": {"country": "DE"}}, "segment", "country"),
        ({"segment": {"country": [{"nested": 1}]}}, "segment", "country"),
        ({"segment": {f"c{i}": ["x"] for i in range(6)}}, "segment", "At most 5"),
        ({"segment": {"7": ["x"]}}, "segment", "'7'"),
        ({"segment": {"coun\ttry": ["x"]}}, "segment", "control"),
        ({"segment": {"country": ["DE"] * 101}}, "segment", "at most 100"),
        ({"segment": ["country"]}, "segment", ""),
        ({"surfaces": ["Web App!"]}, "surfaces", "Web App!"),
        ({"surfaces": [""]}, "surfaces", ""),
        ({"surfaces": ["app", "app"]}, "surfaces", "twice"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(api_as, pipeline, segmented, filters, field, words):
    response = post(api_as(pipeline), **filters)
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"message", "detail"} and list(body["detail"]) == [field]
    assert words in str(body["detail"][field])
    assert not RelabelCampaign.objects.exists()


def test_a_column_only_older_rows_logged_is_known(api_as, pipeline, segmented):
    PredictionLog.objects.filter(pk=segmented.rows[0].pk).update(features={"coupon": "X"})
    assert post(api_as(pipeline), segment={"coupon": ["X"]}).status_code == 202


def test_the_campaign_pages_show_its_filters(client_as, reviewer, labeller, drawn, segmented):
    campaign = drawn(**APP_IN_DE_FR)
    words = "segment: country ∈ {DE, FR}; surface: app"
    assert words in client_as(reviewer).get(f"/relabel/{campaign.pk}/").content.decode()
    assert words in client_as(reviewer).get(f"/relabel/{campaign.pk}/team/").content.decode()
    assert words in client_as(labeller).get("/relabel/").content.decode()


def test_the_labellers_card_says_where_the_prediction_was_served(api_as, client_as, labeller, drawn, segmented):
    campaign = drawn(**APP_IN_DE_FR)
    card = api_as(labeller).post(f"/api/v1/relabel/campaigns/{campaign.pk}/next").json()["card"]
    assert card["surface"] == "app"
    assert '<span id="surface">app</span>' in client_as(labeller).get(f"/relabel/{campaign.pk}/label/").content.decode()


# --- in the database -----------------------------------------------------------------------------------


@pytest.mark.integration
def test_on_postgresql_the_server_filters_the_jsonb_features_while_the_draw_streams(drawn, segmented, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("jsonb and server-side cursors are PostgreSQL's")
    monkeypatch.setattr(relabel_sources, "DRAW_CHUNK", 10)
    read, seen = relabel.population_chunks, []

    def watched(campaign, rows):
        for chunk in read(campaign, rows):
            with connection.cursor() as cursor:
                cursor.execute("SELECT statement FROM pg_cursors")
                seen.append((len(chunk), [s for (s,) in cursor.fetchall() if "audits_predictionlog" in s]))
            yield chunk

    monkeypatch.setattr(relabel, "population_chunks", watched)
    campaign = drawn(design={"kind": "uniform", "rate": 1.0}, segment={"country": ["DE", "FR"], "tenure": [3, 5]})

    expected = inside(segmented, segment={"country": ["DE", "FR"], "tenure": [3, 5]})
    assert campaign.population == sum(size for size, _ in seen) == len(expected) > 10
    # Only the segment's rows left the server, through one open cursor whose query holds the filter.
    [statement] = seen[0][1]
    assert '"features" -> ' in statement, statement
    assert set(drawn_items(campaign)) == {r.pk for r in expected}
