"""Fixtures for the support stories.

The lists: surfaces, a clock to travel with, and clients whose every request commits, so after-commit
work (cache invalidation, queued erasures, rate counting) runs as it does in production, where each
request is its own transaction. The explanations: Soom's upsell models trained once per module, in
production with an explainer background, and a week of logged customers.
"""

from datetime import date, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from mlops.demo.batches import clean_batch
from mlops.demo.signups import LABEL, generate_signups
from mlops.demo.training import CATEGORICAL, FEATURES, train_upsell_model
from support import explain as ex
from support import explanations, lists_cache, services
from tests.factories import SurfaceFactory
from tests.support.explain_scenario import CUSTOMERS, Soom, log_served, register_in_production


@pytest.fixture(autouse=True)
def _no_lists_in_worker_memory():
    lists_cache.clear_local()
    yield
    lists_cache.clear_local()


@pytest.fixture
def surfaces(db):
    """The shop's surfaces: recommendations on the home page, in search, in the weekly email."""
    return {name: SurfaceFactory(name=name, description=f"Recommendations on {name}")
            for name in ("home", "search", "email")}


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """`with commit(): ...`: the block's after-commit callbacks run at its end, as a commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def api(api_as, django_capture_on_commit_callbacks):
    """api(user): that user's API client (token for pipelines, session for people); api(): anonymous.
    Each request commits."""

    def make(user=None) -> APIClient:
        client = api_as(user) if user is not None else APIClient()
        send = client.request

        def request(**kwargs):
            with django_capture_on_commit_callbacks(execute=True):
                return send(**kwargs)

        client.request = request
        return client

    return make


class Clock:
    """Moves Keel's `timezone.now()` forward: expiry needs no job, only time."""

    def __init__(self):
        self.offset = timedelta(0)

    def advance(self, **delta) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    real_now = timezone.now
    found = Clock()
    monkeypatch.setattr(timezone, "now", lambda: real_now() + found.offset)
    return found


@pytest.fixture
def erasures(monkeypatch):
    """Stands in for audits.services.entity_erase: records each call and answers with counts."""
    calls: list[str] = []

    def erase(*, entity_id: str) -> dict:
        calls.append(entity_id)
        return {"prediction_rows": 12, "audit_rows": 3}

    monkeypatch.setattr(services, "entity_data_erase", erase)
    return calls


# --- explanations: models trained once per module -----------------------------------------------


# --- models, trained once ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_thread():
    """The explainer's models predict on one OpenMP thread: thread teams make small predictions slow."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def signups():
    return generate_signups(1_500, start=date(2026, 1, 1), end=date(2026, 6, 30), seed=3)


@pytest.fixture(scope="module")
def tree(signups):
    return train_upsell_model(signups, hyperparameters={"max_iter": 25}, seed=1)


@pytest.fixture(scope="module")
def linear(signups):
    preprocess = ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL)],
        remainder=StandardScaler())
    return Pipeline([("preprocess", preprocess), ("classifier", LogisticRegression(max_iter=500))]).fit(
        signups[FEATURES], signups[LABEL])


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def soom(db, media, reviewer, pipeline, tree, signups):
    model, version = register_in_production("upsell", tree.pipeline, tree.feature_schema, tree.decision_threshold,
                               owner=reviewer, pipeline=pipeline)
    explanations.explainer_background_upload(
        version=version, actor=pipeline, source="training sample",
        records=ex.background_to_records(ex.make_background(signups, FEATURES, rows=40), tree.feature_schema))
    served = clean_batch(CUSTOMERS + 1, start=date(2026, 11, 16), end=date(2026, 11, 22), seed=8,
                         first_customer=90_001)
    healthy, broken = served.iloc[:CUSTOMERS], served.iloc[CUSTOMERS:]
    log_served(model, version, healthy, tree.pipeline.predict_proba(healthy[FEATURES])[:, 1], "web")
    # The new request parser's rows: meeting_minutes dropped by processing.
    log_served(model, version, broken, tree.pipeline.predict_proba(broken[FEATURES])[:, 1], "parser2",
         dropped_by_processing="meeting_minutes")
    found = Soom(model, version, healthy, tree.pipeline)
    found.broken_customer = broken["customer_id"].iloc[0]
    return found


@pytest.fixture
def soom_linear(db, media, reviewer, pipeline, linear, signups, tree):
    """A logistic regression in production: the model-agnostic explainer, so a Celery job."""
    model, version = register_in_production("upsell-linear", linear, tree.feature_schema, 0.3, owner=reviewer, pipeline=pipeline)
    explanations.explainer_background_upload(
        version=version, actor=pipeline,
        records=ex.background_to_records(ex.make_background(signups, FEATURES, rows=12), tree.feature_schema))
    served = clean_batch(5, start=date(2026, 11, 16), end=date(2026, 11, 22), seed=9, first_customer=95_001)
    log_served(model, version, served, linear.predict_proba(served[FEATURES])[:, 1], "lin")
    return Soom(model, version, served, linear)
