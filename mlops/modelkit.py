"""Model pieces the apps share: the states of a background job and the check constraints that recur
across tables. Each helper builds exactly the constraint a model spelled out before, so the
migration state does not change."""

from django.db import models
from django.db.models import Q


class JobState(models.TextChoices):
    """The life of a background job (an audit, an explanation): queued, running, then an outcome."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def choice_constraint(field: str, choices: type[models.Choices], name: str) -> models.CheckConstraint:
    """The database refuses a value of `field` that is not one of `choices`."""
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


def one_source_constraint(name: str) -> models.CheckConstraint:
    """A data file is either uploaded (`file`) or read in place (`storage_path`), never both or neither."""
    return models.CheckConstraint(
        condition=(~Q(file="") & Q(storage_path="")) | (Q(file="") & ~Q(storage_path="")), name=name
    )


def failure_explained_constraint(name: str) -> models.CheckConstraint:
    """A failed job says why (`error`)."""
    return models.CheckConstraint(condition=~Q(state=JobState.FAILED) | ~Q(error=""), name=name)
