"""MLflow 3 logged models (service.proto's LoggedModel calls), as `mlflow.<flavor>.log_model` makes
them: create (PENDING), the files uploaded to `mlflow-artifacts:/<experiment>/models/<id>/artifacts`
through the artifact proxy, finalize (READY), then the run names it as an output (runs/outputs) and
`registered_model_name` registers a version from `models:/<id>` and tags the logged model with it.
Also get, delete (hidden, never erased; refused while a registered version came from it), params,
tags, and the logged models a run used (runs/log-inputs). Search is registry.mlflow.logged_model_search.

Keel's LoggedModel rows; their files are RunArtifact rows and are never opened here. Their metrics
are the run's metric points linked to them (services.run_log_with_models)."""

import re

from django.db import transaction
from django.db.models import Prefetch

from mlops.roles import LOG_TRAINING, USE_KEEL

from .. import services
from ..models import LoggedModel, LoggedModelMetric, LoggedModelStatus
from .base import MlflowView, ms, proto_double
from .errors import RESOURCE_DOES_NOT_EXIST, MlflowError
from .experiments import experiment_for_id
from .fields import boolean, enum, int64, message, string
from .limits import check_param, check_tag
from .queries import refuse
from .runs import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, run_for_id

__all__ = [
    "STATUS_PREFIX",
    "logged_model_json",
    "logged_model_for_id",
    "logged_models_for_api",
    "LoggedModelCreate",
    "LoggedModelDetail",
    "LoggedModelParams",
    "LoggedModelTags",
    "LoggedModelTagDelete",
    "RunLogOutputs",
    "RunLogInputs",
]

KEY_VALUE = {"key": string(), "value": string()}
STATUS_PREFIX = "LOGGED_MODEL_"
WIRE_STATUSES = ("LOGGED_MODEL_STATUS_UNSPECIFIED", *(STATUS_PREFIX + s for s in LoggedModelStatus.values))
MAX_PARAMS = MAX_TAGS = 100
MODEL_ID_RE = re.compile(r"m-[0-9a-f]{32}")
# mlflow.Dataset as runs/log-inputs sends it.
DATASET = {
    "name": string(),
    "digest": string(),
    "source_type": string(),
    "source": string(),
    "schema": string(),
    "profile": string(),
}


def logged_model_artifact_uri(logged: LoggedModel) -> str:
    return f"mlflow-artifacts:/{logged.experiment_id}/models/{logged.model_id}/artifacts"


def logged_models_for_api():
    """Logged models with what their JSON shows: run, experiment, and their metric points."""
    points = LoggedModelMetric.objects.select_related("point__run").order_by("point__key", "point__step", "id")
    return LoggedModel.objects.select_related("run", "experiment").prefetch_related(
        Prefetch("metric_links", queryset=points)
    )


def _metric_json(link: LoggedModelMetric, model_id: str) -> dict:
    point = link.point
    metric = {
        "key": point.key,
        "value": proto_double(point.value, is_nan=point.is_nan),
        "timestamp": point.timestamp,
        "step": point.step,
        "model_id": model_id,
        "run_id": point.run.run_id,
    }
    if link.dataset_name:
        metric["dataset_name"] = link.dataset_name
    if link.dataset_digest:
        metric["dataset_digest"] = link.dataset_digest
    return metric


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
    metrics = [_metric_json(link, logged.model_id) for link in logged.metric_links.all()]
    if metrics:
        data["metrics"] = metrics
    return {"info": info, "data": data}


def logged_model_for_id(model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
    """The logged model of that id; a deleted one only with `allow_deleted` (as MLflow's get)."""
    # Only Keel's own form reaches the database (a NUL in a URL path would make PostgreSQL fail).
    if not MODEL_ID_RE.fullmatch(model_id):
        raise MlflowError(RESOURCE_DOES_NOT_EXIST, f"Logged model with id {model_id[:100]!r} not found.")
    logged = logged_models_for_api().filter(model_id=model_id).first()
    if logged is None or (logged.deleted_at is not None and not allow_deleted):
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
    """GET reads a logged model; PATCH finalizes it (its status once the files are up); DELETE
    hides it (services.logged_model_delete)."""

    required_permissions = {"GET": USE_KEEL, "PATCH": LOG_TRAINING, "DELETE": LOG_TRAINING}
    get_spec = {"model_id": string(), "allow_deleted": boolean()}
    finalize_spec = {"model_id": string(), "status": enum(*WIRE_STATUSES, required=True)}
    delete_spec = {"model_id": string()}

    def get(self, request, model_id: str):
        data = self.fields(self.get_spec)
        logged = logged_model_for_id(model_id, allow_deleted=data.get("allow_deleted", False))
        return self.ok({"model": logged_model_json(logged)})

    def delete(self, request, model_id: str):
        self.fields(self.delete_spec)
        services.logged_model_delete(logged_model=logged_model_for_id(model_id, allow_deleted=True), actor=request.user)
        return self.ok()

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


class RunLogInputs(MlflowView):
    """What the run used: logged models (the client sends them before metrics it logs for a model
    the run did not log). Dataset inputs are not kept by Keel and are refused, not dropped."""

    required_permissions = {"POST": LOG_TRAINING}
    spec = {
        "run_id": string(required=True),
        "datasets": message({"tags": message(KEY_VALUE, repeated=True), "dataset": message(DATASET)}, repeated=True),
        "models": message({"model_id": string()}, repeated=True),
    }

    def post(self, request):
        data = self.fields(self.spec)
        run = run_for_id(data, active=True)
        if data.get("datasets"):
            raise refuse(
                "Keel does not record a run's dataset inputs; log the metric's dataset_name and "
                "dataset_digest with the metric instead."
            )
        models = []
        for entry in data.get("models", []):
            if not entry.get("model_id"):
                raise refuse("Each of 'models' names a 'model_id'.")
            models.append(logged_model_for_id(entry["model_id"]))
        services.run_log_inputs(run=run, logged_models=models)
        return self.ok()
