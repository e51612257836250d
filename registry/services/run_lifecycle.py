"""What MLflow's tracking API does to a run beyond logging: rename it, remove a tag, delete it and
restore it. Nothing is erased: a removed tag is a history row saying so, a deleted run keeps all it
logged and comes back whole on restore."""

from django.db import transaction
from django.utils import timezone

from mlops.errors import ApplicationError, NotFound

from ..models import RunTag, TrainingRun
from ..selectors import latest_tags

__all__ = ["run_rename", "run_tag_remove", "run_delete", "run_restore"]


@transaction.atomic
def run_rename(*, run: TrainingRun, name: str) -> TrainingRun:
    run = TrainingRun.objects.select_for_update().get(pk=run.pk)
    if len(name) > TrainingRun._meta.get_field("name").max_length:
        raise ApplicationError("A run name is at most 200 characters.", field="name")
    if run.name != name:
        run.name = name
        run.save(update_fields=["name"])
    return run


@transaction.atomic
def run_tag_remove(*, run: TrainingRun, key: str, actor) -> RunTag:
    """Append a row removing `key`; a tag the run does not have is NotFound (as MLflow's delete-tag)."""
    run = TrainingRun.objects.select_for_update().get(pk=run.pk)
    current = latest_tags(run.tags.filter(key=key))
    if key not in current:
        raise NotFound(f"No tag with key '{key}' on run {run.run_id}.")
    return RunTag.objects.create(run=run, key=key, value=current[key], set_by=actor, removed=True)


@transaction.atomic
def run_delete(*, run: TrainingRun) -> TrainingRun:
    run = TrainingRun.objects.select_for_update().get(pk=run.pk)
    if run.deleted_at is None:
        run.deleted_at = timezone.now()
        run.save(update_fields=["deleted_at"])
    return run


@transaction.atomic
def run_restore(*, run: TrainingRun) -> TrainingRun:
    run = TrainingRun.objects.select_for_update().get(pk=run.pk)
    if run.deleted_at is not None:
        run.deleted_at = None
        run.save(update_fields=["deleted_at"])
    return run
