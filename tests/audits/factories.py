"""Rows of the audits app for tests that need the records, not the way they come about (the audit
jobs themselves are run through audits.services in the tests of the jobs)."""

import factory
from django.utils import timezone

from audits import services as audits_services
from audits.engine.columns import specs_from_schema
from audits.engine.suite import Suite
from audits.models import (
    Alert,
    AuditJob,
    AuditSchedule,
    AuditState,
    AuditSuite,
    BatchPurpose,
    DataBatch,
    Finding,
    PredictionLog,
    ReferenceProfile,
    RelabelCampaign,
    RelabelItem,
    ScheduleSource,
)
from tests.factories import ModelVersionFactory, RegisteredModelFactory, UserFactory

STATUS_SEVERITY = {"fail": "error", "warn": "warning", "pass": "info"}


class DataBatchFactory(factory.django.DjangoModelFactory):
    """A batch named under KEEL_DATA_ROOT (no file is written: nothing reads it)."""

    class Meta:
        model = DataBatch

    model = factory.SubFactory(RegisteredModelFactory)
    name = factory.Sequence(lambda n: f"batch-{n}")
    purpose = BatchPurpose.INCOMING
    storage_path = factory.LazyAttribute(lambda b: f"incoming/{b.name}.csv")
    format = "csv"
    sha256 = "5f" * 32
    size_bytes = 48_213
    created_by = factory.SubFactory(UserFactory)


class ReferenceProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReferenceProfile

    version = factory.SubFactory(ModelVersionFactory)
    batch = factory.SubFactory(
        DataBatchFactory, model=factory.SelfAttribute("..version.model"), purpose=BatchPurpose.TRAINING
    )
    specs = factory.LazyAttribute(lambda r: [spec.to_dict() for spec in specs_from_schema(r.version.feature_schema)])
    profile = factory.LazyFunction(lambda: {"rows": 0, "columns": {}})
    rows = factory.LazyAttribute(lambda r: r.profile.get("rows", 0))


class AuditJobFactory(factory.django.DjangoModelFactory):
    """A batch audit that finished (state succeeded), its batch made alongside unless given."""

    class Meta:
        model = AuditJob

    model = factory.SubFactory(RegisteredModelFactory)
    version = factory.SubFactory(ModelVersionFactory, model=factory.SelfAttribute("..model"))
    created_by = factory.SubFactory(UserFactory)
    batch = factory.SubFactory(
        DataBatchFactory, model=factory.SelfAttribute("..model"), created_by=factory.SelfAttribute("..created_by")
    )
    state = AuditState.SUCCEEDED
    verdict = ""


class FindingFactory(factory.django.DjangoModelFactory):
    """A finding; its severity follows its status (fail: error, warn: warning, pass: info) unless given."""

    class Meta:
        model = Finding

    job = factory.SubFactory(AuditJobFactory)
    check_name = "nulls"
    column = ""
    status = "pass"
    severity = factory.LazyAttribute(lambda f: STATUS_SEVERITY[f.status])
    message = factory.LazyAttribute(lambda f: f"{f.check_name} {f.status}")


class AlertFactory(factory.django.DjangoModelFactory):
    """An open alert, first and last seen in one audit of its model."""

    class Meta:
        model = Alert

    model = factory.SubFactory(RegisteredModelFactory)
    check_name = "drift"
    column = ""
    severity = "warning"
    message = factory.LazyAttribute(lambda a: f"{a.check_name} on {a.column or 'the batch'}")
    first_job = factory.SubFactory(AuditJobFactory, model=factory.SelfAttribute("..model"))
    last_job = factory.SelfAttribute("first_job")


class AuditSuiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditSuite

    model = factory.SubFactory(RegisteredModelFactory)
    suite = factory.LazyFunction(lambda: Suite().to_dict())  # no column rules, the default volume limits


class PredictionLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PredictionLog

    version = factory.SubFactory(ModelVersionFactory)
    model = factory.SelfAttribute("version.model")
    request_id = factory.Sequence(lambda n: f"req-{n}")
    entity_id = factory.Sequence(lambda n: f"C{n:06d}")
    predicted_at = factory.LazyFunction(timezone.now)
    features = factory.LazyFunction(dict)
    score = 0.5


class AuditScheduleFactory(factory.Factory):
    """A schedule made through audits.services.schedule_create: by default a daily 06:00 audit of the
    day's file under incoming/; give `model` and `actor` (a reviewer)."""

    class Meta:
        model = AuditSchedule

    name = "daily"
    source = ScheduleSource.STORAGE_PATH
    cron = "0 6 * * *"
    storage_path = factory.LazyAttribute(
        lambda s: "incoming/%Y-%m-%d.csv" if s.source == ScheduleSource.STORAGE_PATH else ""
    )

    @classmethod
    def _create(cls, model_class, **kwargs):
        return audits_services.schedule_create(**kwargs)


class RelabelCampaignFactory(factory.django.DjangoModelFactory):
    """An open campaign (as if drawn) of a uniform 2% sample; its items are made apart."""

    class Meta:
        model = RelabelCampaign

    model = factory.SubFactory(RegisteredModelFactory)
    name = factory.Sequence(lambda n: f"campaign-{n}")
    label_set = factory.LazyFunction(lambda: ["churn", "stay", "unsure"])
    design = factory.LazyFunction(lambda: {"kind": "uniform", "rate": 0.02})
    seed = 7
    state = "open"
    created_by = factory.SubFactory(UserFactory)


class RelabelItemFactory(factory.django.DjangoModelFactory):
    """An item of a campaign, about a logged prediction of the campaign's model."""

    class Meta:
        model = RelabelItem

    campaign = factory.SubFactory(RelabelCampaignFactory)
    prediction = factory.SubFactory(
        PredictionLogFactory,
        version=factory.SubFactory(ModelVersionFactory, model=factory.SelfAttribute("...campaign.model")),
    )
    stratum = "all"
    inclusion_probability = 0.02
