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
    version = factory.LazyAttribute(lambda v: (v.model.versions.count() + 1))
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
