import hashlib
from datetime import date

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from registry.models import Experiment, ModelVersion, RegisteredModel, TaskType, TrainingRun

User = get_user_model()

SCHEMA = [
    {"name": "plan", "type": "string", "categorical": True},
    {"name": "country", "type": "string", "categorical": True},
    {"name": "meeting_minutes", "type": "float", "categorical": False},
]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        for name in extracted or []:
            self.groups.add(Group.objects.get(name=name))
        if create:
            self.save()


class RegisteredModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegisteredModel

    name = factory.Sequence(lambda n: f"model-{n}")
    task_type = TaskType.BINARY
    owner = factory.SubFactory(UserFactory)
    description = "Predicts upgrades"


class ExperimentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Experiment

    name = factory.Sequence(lambda n: f"experiment-{n}")
    created_by = factory.SubFactory(UserFactory)


class TrainingRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingRun

    experiment = factory.SubFactory(ExperimentFactory)
    name = "nightly"
    code_commit = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0"
    created_by = factory.SubFactory(UserFactory)


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    model = factory.SubFactory(RegisteredModelFactory)
    version = factory.LazyAttribute(lambda v: v.model.versions.count() + 1)
    flavor = "sklearn"
    feature_schema = factory.LazyFunction(lambda: [dict(f) for f in SCHEMA])
    decision_threshold = 0.5
    train_window_start = date(2026, 1, 1)
    train_window_end = date(2026, 6, 30)
    dataset_uri = "s3://soom/signups/2026-06.parquet"
    dataset_sha256 = hashlib.sha256(b"signups").hexdigest()
    code_commit = "0123456789abcdef0123456789abcdef01234567"
    hyperparameters = factory.LazyFunction(lambda: {"learning_rate": 0.1, "max_depth": 3})
    metrics = factory.LazyFunction(lambda: {"roc_auc": 0.81})
    created_by = factory.SubFactory(UserFactory)


# --- support lists ---------------------------------------------------------------------------------------
# Entries are made the way agents make them, through the services (change numbers, conflicts, scope).

from datetime import timedelta  # noqa: E402

from django.utils import timezone  # noqa: E402

from support import services as support_services  # noqa: E402
from support.models import ExplainerBackground, ListEntry, PrivacyRequest, Surface  # noqa: E402


class SurfaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Surface
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"surface-{n}")
    description = "Where recommendations are shown"


class SupportAgentFactory(UserFactory):
    username = factory.Sequence(lambda n: f"agent-{n}")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        for name in extracted or ["support-agents"]:
            self.groups.add(Group.objects.get(name=name))
        if create:
            self.save()


class ListEntryFactory(factory.Factory):
    """What a blacklist and a boost are both made with: an agent, a product, no note, everywhere unless
    `surfaces` are named; `_add` is the service that makes the entry."""

    class Meta:
        model = ListEntry
        abstract = True

    actor = factory.SubFactory(SupportAgentFactory)
    entity_type = "product"
    note = ""
    all_surfaces = factory.LazyAttribute(lambda o: not o.surfaces)
    surfaces = ()

    @classmethod
    def _create(cls, model_class, **kwargs):
        return cls._add(**kwargs)


class BlacklistEntryFactory(ListEntryFactory):
    """A blacklist made through support.services.blacklist_add (everywhere, until lifted, by default)."""

    _add = staticmethod(support_services.blacklist_add)
    entity_id = factory.Sequence(lambda n: f"sku-{n:05d}")
    reason = "inappropriate"
    expires_at = None


class BoostEntryFactory(ListEntryFactory):
    """A boost made through support.services.boost_add (a cold-start lift for two weeks, by default)."""

    _add = staticmethod(support_services.boost_add)
    entity_id = factory.Sequence(lambda n: f"new-sku-{n:05d}")
    weight = 2.0
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=14))
    reason = "cold_start"


class PrivacyRequestFactory(factory.Factory):
    """A privacy request filed through support.services.privacy_request_create (blacklisted everywhere,
    boosts lifted, erasure queued after the commit)."""

    class Meta:
        model = PrivacyRequest

    actor = factory.SubFactory(SupportAgentFactory)
    entity_id = factory.Sequence(lambda n: f"cust-{n:05d}")
    reference = ""
    note = ""

    @classmethod
    def _create(cls, model_class, **kwargs):
        return support_services.privacy_request_create(**kwargs)


class ExplainerBackgroundFactory(factory.Factory):
    """A version's explainer background uploaded through support.services.explainer_background_upload
    (records checked against the version's feature schema); give `version`, `actor` and `records`."""

    class Meta:
        model = ExplainerBackground

    source = ""

    @classmethod
    def _create(cls, model_class, **kwargs):
        return support_services.explainer_background_upload(**kwargs)
