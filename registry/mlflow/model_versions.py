"""MLflow model versions: create, get, search, update (description), delete (refused), download URI,
tags; the alias endpoints; and the deprecated stages (transition-stage, get-latest-versions), read
from and written to Keel's aliases. Keel's ModelVersion rows, as API v1 and the pages show them.

A version's `source` (runs:/…, mlflow-artifacts:/…) is recorded as it is sent: the client uploads
the files to the artifact store first and registers the version after, so Keel accepts the source
before anything is checked. Keel's sha256 check (ArtifactCheck) is on an artifact attached to the
version (API v1's upload), which is also what a promotion needs."""

from django.db import transaction
from django.db.models import Q

from mlops.roles import LOG_TRAINING, REGISTER_MODELS, USE_KEEL

from .. import selectors, services
from ..models import ModelVersion, ModelVersionTag
from .base import MlflowView
from .errors import INVALID_STATE, RESOURCE_DOES_NOT_EXIST, MlflowError
from .fields import boolean, int64, message, string
from .governed import alias_remove, alias_set
from .logged_models import logged_model_for_id
from .queries import refuse, text_lookup
from .registered_models import KEEPS_HISTORY, ordering_for, paged, tag_condition
from .registry_json import STAGE_ALIASES, STAGES, latest_versions, version_for, version_json
from .search_filter import SearchSyntaxError, parse_filter

__all__ = [
    "ModelVersionCreate",
    "ModelVersionGet",
    "ModelVersionSearch",
    "ModelVersionUpdate",
    "ModelVersionDelete",
    "ModelVersionDownloadUri",
    "ModelVersionSetTag",
    "ModelVersionDeleteTag",
    "ModelVersionTransitionStage",
    "LatestVersions",
    "RegisteredModelAlias",
]

TAG = {"key": string(), "value": string()}
SOURCE_MAX = ModelVersion._meta.get_field("source").max_length


def _versions():
    related = ("model", "run", "created_by", "logged_model")
    return ModelVersion.objects.select_related(*related).prefetch_related("tags", "aliases")


class ModelVersionCreate(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {
        "name": string(required=True),
        "source": string(required=True),
        "run_id": string(),
        "tags": message(TAG, repeated=True),
        "run_link": string(),
        "description": string(),
        "model_id": string(),
    }

    def post(self, request):
        data = self.fields(self.spec)
        model = selectors.model_get(data["name"])
        if len(data["source"]) > SOURCE_MAX:
            raise refuse(f"A version's source is at most {SOURCE_MAX} characters.")
        run = selectors.run_get(data["run_id"]) if data.get("run_id") else None
        logged = logged_model_for_id(data["model_id"]) if data.get("model_id") else None
        tags = {t.get("key", ""): t.get("value", "") for t in data.get("tags", [])}
        with transaction.atomic():
            version = services.version_create(
                model=model,
                actor=request.user,
                run=run,
                source=data["source"],
                description=data.get("description", ""),
                tags=tags or None,
                logged_model=logged,
            )
            if logged is not None:
                # Keel's own artifact for the gate, when the file passes API v1's format check.
                services.version_attach_logged_model_file(version=version, logged_model=logged)
        return self.ok({"model_version": version_json(_versions().get(pk=version.pk))})


class ModelVersionGet(MlflowView):
    required_permissions = {"GET": USE_KEEL}
    spec = {"name": string(required=True), "version": string(required=True)}

    def get(self, request):
        data = self.fields(self.spec)
        found = version_for(data["name"], data["version"])
        return self.ok({"model_version": version_json(_versions().get(pk=found.pk))})


VERSION_ORDER = {
    "name": "model__name",
    "version_number": "version",
    "creation_timestamp": "created_at",
    "last_updated_timestamp": "created_at",
    "timestamp": "created_at",
}


def _version_condition(comparison) -> Q:
    if comparison.entity == "tag":
        return tag_condition(ModelVersionTag.objects.all(), comparison, "version_id")
    if comparison.entity != "attribute":
        raise refuse(
            f"Versions are searched by name, version_number, run_id, source_path, tags; not {comparison.entity}s."
        )
    key = comparison.key
    if key == "name":
        return text_lookup("model__name", comparison)
    if key == "run_id":
        return text_lookup("run__run_id", comparison)
    if key in ("source_path", "source"):
        return text_lookup("source", comparison)
    if key in ("version_number", "version"):
        value = comparison.value
        values = value if isinstance(value, tuple) else (value,)
        try:
            numbers = [int(float(v)) for v in values]
        except ValueError:
            raise refuse(f"'{key}' is compared with version numbers.") from None
        if comparison.op in ("IN", "NOT IN"):
            condition = Q(version__in=numbers)
            return condition if comparison.op == "IN" else ~condition
        lookups = {"=": "exact", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
        if comparison.op == "!=":
            return ~Q(version=numbers[0])
        if comparison.op not in lookups:
            raise refuse(f"'{key}' is a number: compare it with =, !=, <, <=, >, >= or IN, not {comparison.op}.")
        return Q(**{f"version__{lookups[comparison.op]}": numbers[0]})
    raise refuse(f"Model versions cannot be searched by '{key}'.")


class ModelVersionSearch(MlflowView):
    required_permissions = {"GET": USE_KEEL}
    spec = {"filter": string(), "max_results": int64(), "order_by": string(repeated=True), "page_token": string()}

    def get(self, request):
        data = self.fields(self.spec)
        try:
            comparisons = parse_filter(data.get("filter"))
        except SearchSyntaxError as exc:
            raise refuse(str(exc)) from None
        queryset = _versions()
        for comparison in comparisons:
            queryset = queryset.filter(_version_condition(comparison))
        ordering = ordering_for(data.get("order_by"), VERSION_ORDER, "Model versions")
        queryset = queryset.order_by(*ordering, "model__name", "-version")
        return self.ok(paged(queryset, data, default=10000, limit=200000, render=version_json, key="model_versions"))


class ModelVersionUpdate(MlflowView):
    required_permissions = {"PATCH": LOG_TRAINING}
    spec = {"name": string(required=True), "version": string(required=True), "description": string()}

    def patch(self, request):
        data = self.fields(self.spec)
        found = version_for(data["name"], data["version"])
        if "description" in data:
            services.version_update_description(version=found, description=data["description"])
        return self.ok({"model_version": version_json(_versions().get(pk=found.pk))})


class ModelVersionDelete(MlflowView):
    required_permissions = {"DELETE": LOG_TRAINING}
    spec = {"name": string(required=True), "version": string(required=True)}

    def delete(self, request):
        data = self.fields(self.spec)
        found = version_for(data["name"], data["version"])
        raise MlflowError(INVALID_STATE, f"{found} was not deleted: {KEEPS_HISTORY}")


class ModelVersionDownloadUri(MlflowView):
    required_permissions = {"GET": USE_KEEL}
    spec = {"name": string(required=True), "version": string(required=True)}

    def get(self, request):
        data = self.fields(self.spec)
        found = version_for(data["name"], data["version"])
        if not found.source:
            raise MlflowError(
                RESOURCE_DOES_NOT_EXIST,
                f"{found} was registered through API v1 without an MLflow source; download its artifact from "
                f"/api/v1/models/{found.model.name}/versions/{found.version}/artifact.",
            )
        return self.ok({"artifact_uri": found.source})


class ModelVersionSetTag(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {
        "name": string(required=True),
        "version": string(required=True),
        "key": string(required=True),
        "value": string(),
    }

    def post(self, request):
        data = self.fields(self.spec)
        found = version_for(data["name"], data["version"])
        services.version_set_tags(version=found, actor=request.user, tags={data["key"]: data.get("value", "")})
        return self.ok()


class ModelVersionDeleteTag(MlflowView):
    required_permissions = {"DELETE": LOG_TRAINING}
    spec = {"name": string(required=True), "version": string(required=True), "key": string(required=True)}

    def delete(self, request):
        data = self.fields(self.spec)
        found = version_for(data["name"], data["version"])
        services.version_tag_remove(version=found, actor=request.user, key=data["key"])
        return self.ok()


class ModelVersionTransitionStage(MlflowView):
    """Production is the governed `production` alias (a promotion request, PERMISSION_DENIED), Staging
    the free `staging` alias; None and Archived take the version out of staging. Keel never archives
    other versions (`archive_existing_versions` is accepted and does nothing)."""

    required_permissions = {"POST": REGISTER_MODELS}
    spec = {
        "name": string(required=True),
        "version": string(required=True),
        "stage": string(required=True),
        "archive_existing_versions": boolean(),
    }

    def post(self, request):
        data = self.fields(self.spec)
        found = version_for(data["name"], data["version"])
        stage = {s.lower(): s for s in STAGES}.get(data["stage"].strip().lower())
        if stage is None:
            raise refuse(f"Unknown stage {data['stage'][:50]!r}; use one of {', '.join(STAGES)}.")
        call = f"transition-stage to {stage}"
        if stage in STAGE_ALIASES:
            alias_set(request, found, STAGE_ALIASES[stage], call)
        else:
            aliases = selectors.alias_map(found.model)
            if aliases.get("production") == found:
                alias_remove(request, found.model, "production", call)
            if aliases.get("staging") == found:
                alias_remove(request, found.model, "staging", call)
        return self.ok({"model_version": version_json(_versions().get(pk=found.pk))})


class LatestVersions(MlflowView):
    required_permissions = {"GET": USE_KEEL, "POST": USE_KEEL}  # a read, whichever method
    spec = {"name": string(required=True), "stages": string(repeated=True)}

    def get(self, request):
        return self.latest()

    def post(self, request):
        return self.latest()

    def latest(self):
        data = self.fields(self.spec)
        model = selectors.model_get(data["name"])
        wanted = {s.lower(): s for s in STAGES}
        stages = [wanted.get(s.lower()) for s in data.get("stages", [])] or list(STAGES)
        if None in stages:
            raise refuse(f"Stages are {', '.join(STAGES)}.")
        return self.ok({"model_versions": [version_json(v) for v in latest_versions(model, stages)]})


class RegisteredModelAlias(MlflowView):
    """One path, three calls: GET reads the version an alias names, POST sets it, DELETE removes it."""

    required_permissions = {"GET": USE_KEEL, "POST": REGISTER_MODELS, "DELETE": REGISTER_MODELS}
    get_spec = {"name": string(required=True), "alias": string(required=True)}
    set_spec = {"name": string(required=True), "alias": string(required=True), "version": string(required=True)}

    def get(self, request):
        data = self.fields(self.get_spec)
        model = selectors.model_get(data["name"])
        version = selectors.alias_map(model).get(data["alias"])
        if version is None:
            raise MlflowError(RESOURCE_DOES_NOT_EXIST, f"Model '{model.name}' has no alias '{data['alias'][:64]}'.")
        return self.ok({"model_version": version_json(_versions().get(pk=version.pk))})

    def post(self, request):
        data = self.fields(self.set_spec)
        found = version_for(data["name"], data["version"])
        alias_set(request, found, data["alias"], "set_registered_model_alias")
        return self.ok()

    def delete(self, request):
        data = self.fields(self.get_spec)
        alias_remove(request, selectors.model_get(data["name"]), data["alias"], "delete_registered_model_alias")
        return self.ok()
