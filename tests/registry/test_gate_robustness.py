"""The gate scores perturbed hold-out rows (nulls, unseen categories, extremes) with real skops models
in their sandboxed scorers: a pipeline with an imputer copes with every perturbation; a candidate
without one crashes on nulls that production survives, and the gate fails it naming the column."""

import hashlib
import re

import numpy as np
import pandas as pd
import pytest
import skops.io
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from registry import services
from registry.models import PromotionRequest, PromotionState, TaskType
from tests.registry.promotion_helpers import csv_upload

SCHEMA = [
    {"name": "minutes", "type": "float", "categorical": False},
    {"name": "attendees", "type": "int", "categorical": False},
    {"name": "plan", "type": "string", "categorical": True},
]
NUMERIC = ["minutes", "attendees"]


def signups(rows: int, seed: int) -> pd.DataFrame:
    """Skewed minutes, a count, a plan; upgrades follow minutes and the plan."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "minutes": rng.lognormal(3, 1.2, rows).round(2),
            "attendees": rng.integers(1, 30, rows),
            "plan": rng.choice(["free", "pro", "team"], rows),
        }
    )
    logit = 0.04 * frame["minutes"].clip(upper=100) - 1.5 + (frame["plan"] == "team") * 1.2
    frame["upgraded"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def fitted(imputer: bool) -> bytes:
    numbers = make_pipeline(SimpleImputer(), StandardScaler()) if imputer else StandardScaler()
    model = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [("numbers", numbers, NUMERIC), ("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])]
                ),
            ),
            ("classifier", LogisticRegression()),
        ]
    )
    train = signups(600, seed=1)
    return skops.io.dumps(model.fit(train[[f["name"] for f in SCHEMA]], train["upgraded"]))


@pytest.fixture(scope="module")
def artifacts():
    return {"imputing": fitted(imputer=True), "plain": fitted(imputer=False)}


@pytest.fixture
def upsell(db, reviewer, pipeline, artifacts, settings, tmp_path):
    """v1 imputes missing numbers, v2 does not; a lenient policy so only robustness decides."""
    settings.MEDIA_ROOT = tmp_path
    model = services.model_create(name="upsell", task_type=TaskType.BINARY, owner=reviewer)
    for key in ("imputing", "plain"):
        version = services.version_create(model=model, actor=pipeline, feature_schema=SCHEMA, decision_threshold=0.5)
        raw = artifacts[key]
        services.artifact_attach(
            version=version, uploaded=SimpleUploadedFile("model.skops", raw), sha256=hashlib.sha256(raw).hexdigest()
        )
    services.policy_update(model=model, actor=reviewer, max_flip_rate=1.0, max_regression=1.0)
    holdout = services.holdout_register(
        model=model, actor=pipeline, name="october", label_column="upgraded", uploaded=csv_upload(signups(400, 2))
    )
    return model, holdout


def gate(model, number, actor, holdout, capture) -> PromotionRequest:
    with capture(execute=True):  # the gate job runs in-process (eager Celery)
        request = services.promotion_request_create(
            version=model.versions.get(version=number), actor=actor, reason="retrained", holdout=holdout
        )
    return PromotionRequest.objects.get(pk=request.pk)


def by_key(robustness):
    return {(row["kind"], row["column"]): row for row in robustness["perturbations"]}


def test_a_pipeline_with_an_imputer_scores_every_perturbed_row(upsell, pipeline, django_capture_on_commit_callbacks):
    model, holdout = upsell
    request = gate(model, 1, pipeline, holdout, django_capture_on_commit_callbacks)
    assert request.state == PromotionState.AWAITING_APPROVAL, request.failure_reasons

    robustness = request.evidence["robustness"]
    rows = by_key(robustness)
    assert set(rows) == {
        *(("nulls", name) for name in ("minutes", "attendees", "plan")),
        ("nulls_95", None),
        ("unseen", "plan"),
        *((kind, name) for kind in ("edges", "beyond", "huge") for name in NUMERIC),
    }
    assert {row["candidate"]["status"] for row in rows.values()} == {"ok"}
    assert all(row["candidate"]["rows"] == 200 for row in rows.values())
    assert rows["huge", "minutes"]["candidate"]["max_shift"] > 0.3  # 1e300 minutes moves the score far
    assert rows["unseen", "plan"]["production"] is None  # no production yet
    assert robustness["calls"] == {"candidate": 6, "production": None}
    assert robustness["ranges"]["minutes"]["from"] == "hold-out"
    [check] = [c for c in request.evidence["checks"] if c["name"] == "robustness"]
    assert check["passed"], check


def test_a_candidate_without_an_imputer_fails_where_production_copes(
    upsell, pipeline, reviewer, second_reviewer, client_as, api_as, django_capture_on_commit_callbacks
):
    model, holdout = upsell
    first = gate(model, 1, pipeline, holdout, django_capture_on_commit_callbacks)
    services.promotion_approve(promotion=first, actor=reviewer)
    request = gate(model, 2, pipeline, holdout, django_capture_on_commit_callbacks)
    assert request.state == PromotionState.VALIDATION_FAILED

    [reason] = [r for r in request.failure_reasons if "The candidate fails on" in r]
    assert reason.startswith(
        "The candidate fails on nulls in 'minutes' (ValueError: Input X contains NaN.); "
        "nulls in 'attendees' (ValueError: Input X contains NaN.)"
    )
    assert "where production v1 scores every row" in reason and len(reason) < 400

    rows = by_key(request.evidence["robustness"])
    minutes = rows["nulls", "minutes"]
    assert minutes["candidate"]["status"] == "failed"
    assert minutes["candidate"]["message"] == "ValueError: Input X contains NaN."
    assert minutes["production"]["status"] == "ok" and minutes["production"]["median_shift"] is not None
    assert rows["nulls", "plan"]["candidate"]["status"] == "ok"  # the encoder ignores an unknown plan
    assert rows["huge", "attendees"]["candidate"]["status"] == "ok"
    calls = request.evidence["robustness"]["calls"]
    assert calls == {"candidate": 6 + 3, "production": 6}  # the nulls batch failed: its 3 columns alone

    # The reviewer reads it on the request's page, one row per kind, candidate beside production.
    html = client_as(second_reviewer).get(reverse("promotions:detail", args=[request.pk])).content.decode()
    table = html[html.index('id="robustness-h"') : html.index("</section>", html.index('id="robustness-h"'))]
    nulls = re.search(r'<tr data-kind="nulls".*?</tr>', table, re.S).group(0)
    assert "fails</span> on minutes, attendees" in nulls and "all scored" in nulls
    assert "<strong>nulls in &#x27;minutes&#x27;</strong>: ValueError: Input X contains NaN." in table
    assert "6 for production" in table
    # The API gives the same evidence.
    answer = api_as(reviewer).get(f"/api/v1/promotions/{request.pk}/").json()
    assert answer["evidence"]["robustness"] == request.evidence["robustness"]
