"""What MLflow's registry API does to models and versions beyond registering them: rename a model,
edit a version's description, set and remove tags on models and versions. Nothing is erased: a
removed tag is a history row saying so (as run tags), and models and versions are never deleted."""

from django.db import IntegrityError, transaction

from mlops.errors import ApplicationError, Conflict, NotFound

from ..models import ModelVersion, ModelVersionTag, RegisteredModel, RegisteredModelTag
from ..selectors import latest_tags
from .catalog import _check_key, _clean

__all__ = [
    "model_rename",
    "model_tag_set",
    "model_tag_remove",
    "version_update_description",
    "version_tag_remove",
]


@transaction.atomic
def model_rename(*, model: RegisteredModel, new_name: str) -> RegisteredModel:
    """Give a model a new name; its versions, aliases and history stay with it (they hold its id).
    Stored artifact files keep the paths they were written under."""
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    if new_name == model.name:
        return model
    if RegisteredModel.objects.filter(name=new_name).exists():
        raise Conflict(f"A model named '{new_name}' already exists.", field="name")
    model.name = new_name
    _clean(model, exclude=["owner"])
    try:
        with transaction.atomic():
            model.save(update_fields=["name", "updated_at"])
    except IntegrityError:
        raise Conflict(f"A model named '{new_name}' already exists.", field="name") from None
    return model


@transaction.atomic
def model_tag_set(*, model: RegisteredModel, actor, key: str, value: str) -> RegisteredModelTag | None:
    """Append the tag's new value; re-setting the current value appends nothing (returns None)."""
    _check_key(key, "tags")
    if not isinstance(value, str):
        raise ApplicationError(f"Tag '{key}' must be text.", field="tags")
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    if latest_tags(model.tags.filter(key=key)).get(key) == value:
        return None
    return RegisteredModelTag.objects.create(model=model, key=key, value=value, set_by=actor)


@transaction.atomic
def model_tag_remove(*, model: RegisteredModel, actor, key: str) -> RegisteredModelTag:
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    current = latest_tags(model.tags.filter(key=key))
    if key not in current:
        raise NotFound(f"Model '{model.name}' has no tag '{key}'.")
    return RegisteredModelTag.objects.create(model=model, key=key, value=current[key], set_by=actor, removed=True)


@transaction.atomic
def version_update_description(*, version: ModelVersion, description: str) -> ModelVersion:
    # Like a model's description: documentation, edited in place (the config stays as registered).
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    version.description = description
    version.save(update_fields=["description"])
    return version


@transaction.atomic
def version_tag_remove(*, version: ModelVersion, actor, key: str) -> ModelVersionTag:
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    current = latest_tags(version.tags.filter(key=key))
    if key not in current:
        raise NotFound(f"Version {version.version} of '{version.model.name}' has no tag '{key}'.")
    return ModelVersionTag.objects.create(version=version, key=key, value=current[key], set_by=actor, removed=True)
