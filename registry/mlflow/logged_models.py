"""MLflow 3 logged models (service.proto's LoggedModel calls), as `mlflow.<flavor>.log_model` makes
them: create (PENDING), the files uploaded to `mlflow-artifacts:/<experiment>/models/<id>/artifacts`
through the artifact proxy, finalize (READY), then the run names it as an output (runs/outputs) and
`registered_model_name` registers a version from `models:/<id>` and tags the logged model with it.
Also get, search (the client's way from `runs:/<run>/<name>` to a logged model), params and tags.

Keel's LoggedModel rows; their files are RunArtifact rows and are never opened here."""

import re
from dataclasses import replace

from django.db import transaction
from django.db.models import Q

from mlops.roles import LOG_TRAINING, USE_KEEL

from .. import services
from ..models import Experiment, LoggedModel, LoggedModelStatus
from .base import MlflowView, ms
from .errors import RESOURCE_DOES_NOT_EXIST, MlflowError
from .experiments import experiment_for_id
from .fields import boolean, enum, int32, int64, message, string
from .limits import check_param, check_tag
from .queries import refuse, text_lookup
from .registered_models import paged
from .runs import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, run_for_id
from .search_filter import SearchSyntaxError, parse_filter

__all__ = [
    "logged_model_json",
    "logged_model_for_id",
    "LoggedModelCreate",
    "LoggedModelDetail",
    "LoggedModelSearch",
    "LoggedModelParams",
    "LoggedModelTags",
    "LoggedModelTagDelete",
    "RunLogOutputs",
]

KEY_VALUE = {"key": string(), "value": string()}
STATUS_PREFIX = "LOGGED_MODEL_"
WIRE_STATUSES = ("LOGGED_MODEL_STATUS_UNSPECIFIED", *(STATUS_PREFIX + s for s in LoggedModelStatus.values))
MAX_PARAMS = MAX_TAGS = 100
MODEL_ID_RE = re.compile(r"m-[0-9a-f]{32}")


def logged_model_artifact_uri(logged: LoggedModel) -> str:
    return f"mlflow-artifacts:/{logged.experiment_id}/models/{logged.model_id}/artifacts"


def logged_model_json(logged: LoggedModel) -> dict:
    info = {
        "model_id": logged.model_id,
        "experiment_id": str(logged.experiment_id),
        "name": logged.name,
        "creation_timestamp_ms": ms(logged.created_at),
        "last_updated_timestamp_ms": ms(logged.updated_at),
        "artifact_uri": logged_model_artifact_uri(logged),
        "status": STATUS_PREFIX + logged.status,
        "creator_id": logged.created_by_id,
        "model_type": logged.model_type,
        "source_run_id": logged.run.run_id if logged.run_id else "",
        "status_message": logged.status_message,
        "tags": [{"key": k, "value": v} for k, v in sorted(logged.tags.items())],
    }
    data = {"params": [{"key": k, "value": v} for k, v in sorted(logged.params.items())]}
    return {"info": info, "data": data}


def logged_model_for_id(model_id: str) -> LoggedModel:
    # Only Keel's own form reaches the database (a NUL in a URL path would make PostgreSQL fail).
    if not MODEL_ID_RE.fullmatch(model_id):
        raise MlflowError(RESOURCE_DOES_NOT_EXIST, f"Logged model with id {model_id[:100]!r} not found.")
    logged = LoggedModel.objects.select_related("run", "experiment").filter(model_id=model_id).first()
    if logged is None:
        raise MlflowError(RESOURCE_DOES_NOT_EXIST, f"Logged model with id '{model_id[:100]}' not found.")
    return logged


def _pairs(entries: list[dict], check, what: str, limit: int) -> dict[str, str]:
    if len(entries) > limit:
        raise refuse(f"At most {limit} {what}s a request; {len(entries)} were sent.")
    pairs = {}
    for i, entry in enumerate(entries):
        key, value = check(entry.get("key"), entry.get("value", ""), f"{what}s[{i}]")
        pairs[key] = value
    return pairs


def _fresh(logged: LoggedModel) -> dict:
    return {"model": logged_model_json(logged_model_for_id(logged.model_id))}


class LoggedModelCreate(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {
        "experiment_id": string(),
        "name": string(),
        "model_type": string(),
        "source_run_id": string(),
        "params": message(KEY_VALUE, repeated=True),
        "tags": message(KEY_VALUE, repeated=True),
    }

    def post(self, request):
        data = self.fields(self.spec)
        name = data.get("name", "")
        if len(name) > 250 or "/" in name or ":" in name:
            raise refuse("A logged model's name is at most 250 characters, without '/' or ':'.")
        if len(data.get("model_type", "")) > 250:
            raise refuse("A logged model's model_type is at most 250 characters.")
        params = _pairs(data.get("params", []), check_param, "param", MAX_PARAMS)
        tags = _pairs(data.get("tags", []), check_tag, "tag", MAX_TAGS)
        run = run_for_id({"run_id": data["source_run_id"]}) if data.get("source_run_id") else None
        experiment_id = data.get("experiment_id") or DEFAULT_EXPERIMENT_ID
        with transaction.atomic():
            if experiment_id == DEFAULT_EXPERIMENT_ID:
                experiment = services.experiment_get_or_create(name=DEFAULT_EXPERIMENT_NAME, actor=request.user)
            else:
                experiment = experiment_for_id(experiment_id)
            logged = services.logged_model_create(
                experiment=experiment,
                run=run,
                actor=request.user,
                name=name,
                model_type=data.get("model_type", ""),
                params=params,
                tags=tags,
            )
        return self.ok(_fresh(logged))


class LoggedModelDetail(MlflowView):
    """GET reads a logged model; PATCH finalizes it (its status once the files are up)."""

    required_permissions = {"GET": USE_KEEL, "PATCH": LOG_TRAINING}
    get_spec = {"model_id": string(), "allow_deleted": boolean()}
    finalize_spec = {"model_id": string(), "status": enum(*WIRE_STATUSES, required=True)}

    def get(self, request, model_id: str):
        self.fields(self.get_spec)
        return self.ok({"model": logged_model_json(logged_model_for_id(model_id))})

    def patch(self, request, model_id: str):
        data = self.fields(self.finalize_spec)
        logged = logged_model_for_id(model_id)
        status = data["status"].removeprefix(STATUS_PREFIX)
        logged = services.logged_model_finalize(logged_model=logged, status=status)
        return self.ok(_fresh(logged))


class LoggedModelParams(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {"model_id": string(), "params": message(KEY_VALUE, repeated=True)}

    def post(self, request, model_id: str):
        data = self.fields(self.spec)
        logged = logged_model_for_id(model_id)
        params = _pairs(data.get("params", []), check_param, "param", MAX_PARAMS)
        services.logged_model_log_params(logged_model=logged, params=params)
        return self.ok()


class LoggedModelTags(MlflowView):
    required_permissions = {"PATCH": LOG_TRAINING}
    spec = {"model_id": string(), "tags": message(KEY_VALUE, repeated=True)}

    def patch(self, request, model_id: str):
        data = self.fields(self.spec)
        logged = logged_model_for_id(model_id)
        tags = _pairs(data.get("tags", []), check_tag, "tag", MAX_TAGS)
        services.logged_model_set_tags(logged_model=logged, tags=tags)
        return self.ok()


class LoggedModelTagDelete(MlflowView):
    required_permissions = {"DELETE": LOG_TRAINING}
    spec = {"model_id": string(), "tag_key": string()}

    def delete(self, request, model_id: str, tag_key: str):
        self.fields(self.spec)
        services.logged_model_delete_tag(logged_model=logged_model_for_id(model_id), key=tag_key)
        return self.ok()


ORDER_FIELDS = {
    "creation_timestamp": "created_at",
    "creation_time": "created_at",
    "last_updated_timestamp": "updated_at",
    "name": "name",
    "model_id": "model_id",
}
ATTRIBUTE_FIELDS = {"name": "name", "model_id": "model_id", "model_type": "model_type", "source_run_id": "run__run_id"}
ORDER_BY = {"field_name": string(), "ascending": boolean(), "dataset_name": string(), "dataset_digest": string()}
DATASET = {"dataset_name": string(), "dataset_digest": string()}


def _condition(comparison) -> Q:
    if comparison.entity != "attribute":
        raise refuse(
            f"Logged models are searched by {', '.join(ATTRIBUTE_FIELDS)} and status; not by {comparison.entity}s."
        )
    if comparison.key == "status":
        # Sent as MLflow names it (LOGGED_MODEL_READY) or as Keel stores it (READY).
        value = comparison.value
        if isinstance(value, tuple):
            value = tuple(v.removeprefix(STATUS_PREFIX) for v in value)
        elif isinstance(value, str):
            value = value.removeprefix(STATUS_PREFIX)
        return text_lookup("status", replace(comparison, value=value))
    if comparison.key not in ATTRIBUTE_FIELDS:
        raise refuse(f"Logged models cannot be searched by '{comparison.key[:100]}'.")
    return text_lookup(ATTRIBUTE_FIELDS[comparison.key], comparison)


def _experiments(ids: list[str]) -> Q:
    wanted = Q(pk__in=[int(i) for i in ids if i.isascii() and i.isdigit() and len(i) <= 18])
    if DEFAULT_EXPERIMENT_ID in ids:
        wanted |= Q(name=DEFAULT_EXPERIMENT_NAME)
    return Q(experiment__in=Experiment.objects.filter(wanted))


class LoggedModelSearch(MlflowView):
    required_permissions = {"POST": USE_KEEL}
    spec = {
        "experiment_ids": string(repeated=True),
        "filter": string(),
        "datasets": message(DATASET, repeated=True),
        "max_results": int32(),
        "order_by": message(ORDER_BY, repeated=True),
        "page_token": string(),
    }

    def post(self, request):
        data = self.fields(self.spec)
        ids = data.get("experiment_ids", [])
        if not ids:
            raise refuse("Name at least one experiment in 'experiment_ids'.")
        if data.get("datasets"):
            raise refuse("Keel keeps no metrics on logged models: 'datasets' cannot narrow the search.")
        try:
            comparisons = parse_filter(data.get("filter"))
        except SearchSyntaxError as exc:
            raise refuse(str(exc)) from None
        queryset = LoggedModel.objects.select_related("run", "experiment").filter(_experiments(ids))
        for comparison in comparisons:
            queryset = queryset.filter(_condition(comparison))
        ordering = []
        for order in data.get("order_by", []):
            field = ORDER_FIELDS.get(order.get("field_name", ""))
            if field is None:
                raise refuse(
                    f"Logged models are ordered by {', '.join(ORDER_FIELDS)}; "
                    f"not {order.get('field_name', '')[:100]!r}."
                )
            ordering.append(field if order.get("ascending", True) else "-" + field)
        queryset = queryset.order_by(*ordering, "-created_at", "-id")
        return self.ok(paged(queryset, data, default=100, limit=1000, render=logged_model_json, key="models"))


class RunLogOutputs(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {"run_id": string(required=True), "models": message({"model_id": string(), "step": int64()}, repeated=True)}

    def post(self, request):
        data = self.fields(self.spec)
        run = run_for_id(data, active=True)
        outputs = []
        for entry in data.get("models", []):
            if not entry.get("model_id"):
                raise refuse("Each of 'models' names a 'model_id'.")
            outputs.append((logged_model_for_id(entry["model_id"]), entry.get("step", 0)))
        services.run_log_outputs(run=run, outputs=outputs)
        return self.ok()
