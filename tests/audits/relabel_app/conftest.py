"""The churn model's serving log and the people who relabel it."""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.utils import timezone

from audits import services
from audits.models import PredictionLog
from mlops import roles
from tests.audits.relabel_app.churn_log import START
from tests.factories import ModelVersionFactory, RegisteredModelFactory, UserFactory


@dataclass
class ChurnLog:
    model: object
    v1: object
    v2: object
    rows: list = field(default_factory=list)

    def ids(self, **filters) -> set[int]:
        return set(PredictionLog.objects.filter(model=self.model, **filters).values_list("pk", flat=True))


@pytest.fixture
def churn(db, pipeline):
    """`churn` with two versions, each logging 120 predictions an hour apart (customers C0000…C0239),
    labelled "churn" when the score is 0.5 or more, else "stay"."""
    model = RegisteredModelFactory(name="churn")
    v1 = ModelVersionFactory(model=model, created_by=pipeline)
    v2 = ModelVersionFactory(model=model, created_by=pipeline)
    rows = []
    for i in range(240):
        version = v1 if i < 120 else v2
        score = (i * 37 % 100) / 100
        rows.append(
            PredictionLog(
                model=model,
                version=version,
                request_id=f"r{i}",
                entity_id=f"C{i:04d}",
                predicted_at=START + timedelta(hours=i),
                raw_features={"plan": "pro" if i % 3 else "free", "tenure": str(i % 24)},
                features={"plan": "pro" if i % 3 else "free", "tenure": i % 24},
                score=score,
                label="churn" if score >= 0.5 else "stay",
            )
        )
    PredictionLog.objects.bulk_create(rows)
    return ChurnLog(model, v1, v2, list(PredictionLog.objects.filter(model=model).order_by("pk")))


# Where churn's predictions were served and the customer's country, by row: `segmented` logs them.
SURFACES = ("web", "app", "email", "app")
COUNTRIES = ("DE", "FR", "NL", "DE", "US")


@pytest.fixture
def segmented(churn):
    """churn's log served on several surfaces (row i on SURFACES[i % 4]) with the customer's country
    among its features (COUNTRIES[i % 5])."""
    for i, row in enumerate(churn.rows):
        row.surface = SURFACES[i % 4]
        row.features = {**row.features, "country": COUNTRIES[i % 5]}
    PredictionLog.objects.bulk_update(churn.rows, ["surface", "features"])
    return churn


@pytest.fixture
def second_labeller(db):
    return UserFactory(username="lee-labeller", groups=[roles.LABELLERS])


@pytest.fixture
def third_labeller(db):
    return UserFactory(username="liv-labeller", groups=[roles.LABELLERS])


@pytest.fixture
def drawn(churn, reviewer):
    """drawn(**settings): a campaign on churn's log created and drawn at once (uniform 10% unless told)."""

    def make(**settings):
        settings.setdefault("design", {"kind": "uniform", "rate": 0.1})
        settings.setdefault("name", "November check")
        settings.setdefault("seed", 11)
        campaign = services.campaign_create(actor=reviewer, model=churn.model, start=False, **settings)
        return services.campaign_draw(campaign_id=campaign.pk)

    return make


class Clock:
    offset = timedelta(0)

    def advance(self, **delta) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    """Moves Keel's clock (django.utils.timezone.now) forward without waiting."""
    real_now = timezone.now
    found = Clock()
    monkeypatch.setattr(timezone, "now", lambda: real_now() + found.offset)
    return found
