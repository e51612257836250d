"""Keel's registered models and versions as MLflow's RegisteredModel and ModelVersion messages, and the
lookups the registry endpoints share (a model by name, a version by its number sent as text)."""

from .. import selectors
from ..models import ModelVersion, RegisteredModel
from .base import ms
from .errors import INVALID_PARAMETER_VALUE, MlflowError

__all__ = [
    "STAGES",
    "STAGE_ALIASES",
    "model_json",
    "version_json",
    "version_for",
    "version_number",
    "stage_of",
]

# MLflow's deprecated stages, read from Keel's aliases: Production is the governed `production`
# alias, Staging the free `staging` alias; every other version is in stage "None".
STAGES = ("None", "Staging", "Production", "Archived")
STAGE_ALIASES = {"Production": "production", "Staging": "staging"}


def version_number(value: str) -> int:
    text = (value or "").strip()
    if not text.isdigit() or len(text) > 9 or int(text) < 1:
        raise MlflowError(INVALID_PARAMETER_VALUE, f"Parameter 'version' must be a version number, not {value[:50]!r}.")
    return int(text)


def version_for(name: str, version: str) -> ModelVersion:
    number = version_number(version)
    return selectors.version_get(selectors.model_get(name), number)


def _alias_names(version: ModelVersion) -> list[str]:
    return sorted(alias.name for alias in version.aliases.all())


def stage_of(aliases: list[str]) -> str:
    for stage, alias in STAGE_ALIASES.items():
        if alias in aliases:
            return stage
    return "None"


def _tags(rows) -> list[dict]:
    return [{"key": key, "value": value} for key, value in selectors.latest_tags(rows).items()]


def version_json(version: ModelVersion) -> dict:
    aliases = _alias_names(version)
    created = ms(version.created_at)
    payload = {
        "name": version.model.name,
        "version": str(version.version),
        "creation_timestamp": created,
        "last_updated_timestamp": created,
        "user_id": version.created_by.get_username(),
        "current_stage": stage_of(aliases),
        "description": version.description,
        "source": version.source,
        "run_id": version.run.run_id if version.run_id else "",
        # Registration is complete when the row exists: Keel's bytes check runs on an attached artifact.
        "status": "READY",
        "tags": _tags(version.tags.all()),
        "aliases": aliases,
    }
    if version.logged_model_id:
        payload["model_id"] = version.logged_model.model_id
    return payload


def model_json(model: RegisteredModel, *, with_versions: bool = True) -> dict:
    payload = {
        "name": model.name,
        "creation_timestamp": ms(model.created_at),
        "last_updated_timestamp": ms(model.updated_at),
        "user_id": model.owner.get_username(),
        "description": model.description,
        "tags": _tags(model.tags.all()),
        "aliases": [{"alias": a.name, "version": str(a.version.version)} for a in model.aliases.all()],
    }
    if with_versions:
        payload["latest_versions"] = [version_json(v) for v in latest_versions(model, STAGES)]
    return payload


def latest_versions(model: RegisteredModel, stages) -> list[ModelVersion]:
    """The newest version in each of `stages` (MLflow's get-latest-versions), oldest stage first."""
    versions = model.versions.select_related("model", "run", "created_by").prefetch_related("tags", "aliases")
    found: dict[str, ModelVersion] = {}
    for version in versions.order_by("-version"):
        stage = stage_of(_alias_names(version))
        if stage in stages and stage not in found:
            found[stage] = version
    return sorted(found.values(), key=lambda v: v.version)
