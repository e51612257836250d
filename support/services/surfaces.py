"""Surfaces: where the lists apply (a page, a feed); named once, described and linked to a model."""

import re

from django.db import transaction

from mlops.errors import ApplicationError, Conflict
from registry.models import RegisteredModel

from ..models import Surface

__all__ = ["surface_create", "surface_update"]


@transaction.atomic
def surface_create(*, name: str, description: str = "", model: RegisteredModel | None = None) -> Surface:
    name = (name or "").strip()
    if not re.fullmatch(r"[-a-zA-Z0-9_]{1,64}", name):
        raise ApplicationError("A surface name is a slug: letters, digits, - and _.", field="name")
    if Surface.objects.filter(name=name).exists():
        raise Conflict(f"There is already a surface '{name}'.", field="name")
    return Surface.objects.create(name=name, description=description, model=model)


_UNCHANGED = object()


@transaction.atomic
def surface_update(*, surface: Surface, description: str | None = None, model=_UNCHANGED) -> Surface:
    """Surfaces keep their name (entries name them); their description and model may change."""
    if description is not None:
        surface.description = description
    if model is not _UNCHANGED:
        surface.model = model
    surface.save(update_fields=["description", "model"])
    return surface
