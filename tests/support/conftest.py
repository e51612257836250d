"""Fixtures for the support stories.

The lists: surfaces, a clock to travel with, and clients whose every request commits, so after-commit
work (cache invalidation, queued erasures, rate counting) runs as it does in production, where each
request is its own transaction. The explanations: the demo upsell model (and a logistic regression)
trained once per module, registered in production with a background and a week of logged customers.
"""

import hashlib
import weakref
from datetime import date, datetime, timedelta

import pytest
import skops.io
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from demo.batches import clean_batch
from demo.serving import serving_records
from demo.signups import LABEL, generate_signups
from demo.training import CATEGORICAL, FEATURES, train_upsell_model
from registry import services as registry_services
from registry.models import TaskType
from registry.services.catalog import alias_point
from support import shap_engine as ex
from support.lists import cache as lists_cache
from support.services import privacy
from tests.clients import committing
from tests.factories import ExplainerBackgroundFactory, SurfaceFactory

CUSTOMERS = 30


@pytest.fixture(autouse=True)
def _no_lists_in_worker_memory():
    lists_cache.clear_local()
    yield
    lists_cache.clear_local()


@pytest.fixture
def surfaces(db):
    """The shop's surfaces: recommendations on the home page, in search, in the weekly email."""
    return {
        name: SurfaceFactory(name=name, description=f"Recommendations on {name}")
        for name in ("home", "search", "email")
    }


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
        return committing(client, django_capture_on_commit_callbacks)

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

    monkeypatch.setattr(privacy, "entity_data_erase", erase)
    return calls


# --- models, trained once ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_thread():
    """One OpenMP thread while a module's models train and score (as the explainer scores a row)."""
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
        remainder=StandardScaler(),
    )
    return Pipeline([("preprocess", preprocess), ("classifier", LogisticRegression(max_iter=500))]).fit(
        signups[FEATURES], signups[LABEL]
    )


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# One skops file per trained estimator: skops stamps the time into its zip, and the same bytes (the
# same sha256) in every test let the explainer's warm scorer serve them all, as it serves one version.
_ARTIFACTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _artifact(estimator) -> bytes:
    if estimator not in _ARTIFACTS:
        _ARTIFACTS[estimator] = skops.io.dumps(estimator)
    return _ARTIFACTS[estimator]


def _register(name, estimator, schema, threshold, *, owner, pipeline):
    raw = _artifact(estimator)
    model = registry_services.model_create(name=name, task_type=TaskType.BINARY, owner=owner)
    version = registry_services.version_create(
        model=model, actor=pipeline, feature_schema=schema, decision_threshold=threshold
    )
    version = registry_services.artifact_attach(
        version=version, sha256=hashlib.sha256(raw).hexdigest(), uploaded=SimpleUploadedFile("model.skops", raw)
    )
    alias_point(model=model, alias="production", version=version, actor=owner, reason="first model")
    return model, version


@pytest.fixture
def register_production():
    """register_production(name, estimator, schema, threshold, *, owner, pipeline) -> (model, version):
    a binary model whose v1 holds the estimator's artifact and is in production."""
    return _register


def _log(model, version, frame, scores, prefix, **kwargs):
    from audits import services as audit_services

    records = serving_records(
        frame,
        scores,
        version=version.version,
        start=timezone.now() - timedelta(hours=2),
        every=timedelta(seconds=30),
        request_prefix=prefix,
        **kwargs,
    )
    for record in records:
        record["predicted_at"] = datetime.fromisoformat(record["predicted_at"])
    audit_services.predictions_log(model=model, records=records)


class Soom:
    """The upsell model in production at v1, its background, and a week of logged customers."""

    def __init__(self, model, version, served, estimator):
        self.model, self.version, self.served, self.estimator = model, version, served, estimator
        self.scores = dict(zip(served["customer_id"], estimator.predict_proba(served[FEATURES])[:, 1]))

    def features_of(self, customer: str, *, as_text: bool = False) -> dict:
        row = self.served.loc[self.served["customer_id"] == customer, FEATURES].iloc[0].to_dict()
        row = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        return {k: str(v) for k, v in row.items()} if as_text else row

    def by_score(self) -> list[str]:
        return sorted(self.scores, key=self.scores.get)


@pytest.fixture
def soom(db, media, reviewer, pipeline, tree, signups):
    model, version = _register(
        "upsell", tree.pipeline, tree.feature_schema, tree.decision_threshold, owner=reviewer, pipeline=pipeline
    )
    ExplainerBackgroundFactory(
        version=version,
        actor=pipeline,
        source="training sample",
        records=ex.background_to_records(ex.make_background(signups, FEATURES, rows=40), tree.feature_schema),
    )
    served = clean_batch(CUSTOMERS + 1, start=date(2026, 11, 16), end=date(2026, 11, 22), seed=8, first_customer=90_001)
    healthy, broken = served.iloc[:CUSTOMERS], served.iloc[CUSTOMERS:]
    _log(model, version, healthy, tree.pipeline.predict_proba(healthy[FEATURES])[:, 1], "web")
    # The new request parser's rows: meeting_minutes dropped by processing.
    _log(
        model,
        version,
        broken,
        tree.pipeline.predict_proba(broken[FEATURES])[:, 1],
        "parser2",
        dropped_by_processing="meeting_minutes",
    )
    found = Soom(model, version, healthy, tree.pipeline)
    found.broken_customer = broken["customer_id"].iloc[0]
    return found


@pytest.fixture
def soom_linear(db, media, reviewer, pipeline, linear, signups, tree):
    """A logistic regression in production: the model-agnostic explainer, so a Celery job."""
    model, version = _register("upsell-linear", linear, tree.feature_schema, 0.3, owner=reviewer, pipeline=pipeline)
    ExplainerBackgroundFactory(
        version=version,
        actor=pipeline,
        records=ex.background_to_records(ex.make_background(signups, FEATURES, rows=12), tree.feature_schema),
    )
    served = clean_batch(5, start=date(2026, 11, 16), end=date(2026, 11, 22), seed=9, first_customer=95_001)
    _log(model, version, served, linear.predict_proba(served[FEATURES])[:, 1], "lin")
    return Soom(model, version, served, linear)


# --- serving lists, read as a serving system reads them ------------------------------------------------------


@pytest.fixture
def served_rows():
    """served_rows(groups): [{entity_type, expires_at, (weight,) entity_ids: [...]}, ...] as one dict
    per ID, in order."""

    def expand(groups: list[dict]) -> list[dict]:
        return [
            {**{key: value for key, value in group.items() if key != "entity_ids"}, "entity_id": entity_id}
            for group in groups
            for entity_id in group["entity_ids"]
        ]

    return expand


@pytest.fixture
def served_ids():
    """served_ids(groups): the set of IDs in a served list's groups."""
    return lambda groups: {entity_id for group in groups for entity_id in group["entity_ids"]}
