"""MLflow runs: create, get, update, delete, restore, and what is logged to them (log-batch,
log-metric, log-parameter, set-tag, delete-tag, metric history). Keel's TrainingRun and its logs,
written through the catalog services as API v1 writes them: one record, whichever API logged it."""

from django.db import transaction

from mlops.roles import LOG_TRAINING, USE_KEEL

from .. import selectors, services
from ..models import TrainingRun
from .base import MlflowView, from_ms, ms, proto_double
from .errors import INVALID_STATE, RESOURCE_DOES_NOT_EXIST, MlflowError
from .experiments import experiment_for_id
from .fields import double, enum, int32, int64, message, string
from .limits import check_batch_request_size, check_batch_sizes, check_key, check_param, check_tag
from .paging import max_results, next_page_token, page_offset

__all__ = [
    "RUN_STATUSES",
    "run_json",
    "runs_json",
    "run_info_json",
    "run_for_id",
    "RunCreate",
    "RunGet",
    "RunUpdate",
    "RunDelete",
    "RunRestore",
    "RunLogBatch",
    "RunLogMetric",
    "RunLogParam",
    "RunSetTag",
    "RunDeleteTag",
    "MetricHistory",
]

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
RUN_NAME_TAG = "mlflow.runName"
# MLflow's client without an experiment set logs to experiment "0", its server's "Default". Keel's
# ids start at 1, so "0" names Keel's experiment called "Default", made when first used.
DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME = "0", "Default"
# The client asks for this many points a page (GET_METRIC_HISTORY_MAX_RESULTS); pages follow a token.
HISTORY_PAGE = 25000

KEY_VALUE = {"key": string(), "value": string()}
METRIC = {
    "key": string(),
    "value": double(),
    "timestamp": int64(),
    "step": int64(),
    "dataset_name": string(),
    "dataset_digest": string(),
    "model_id": string(),
    "run_id": string(),
}
RUN_ID = {"run_id": string(), "run_uuid": string()}  # run_uuid: older clients' name for run_id


def artifact_uri(run: TrainingRun) -> str:
    return f"mlflow-artifacts:/{run.experiment_id}/{run.run_id}/artifacts"


def run_info_json(run: TrainingRun) -> dict:
    info = {
        "run_id": run.run_id,
        "run_uuid": run.run_id,
        "run_name": run.name,
        "experiment_id": str(run.experiment_id),
        "user_id": run.created_by.get_username(),
        "status": run.status,
        "start_time": ms(run.started_at),
        "artifact_uri": artifact_uri(run),
        "lifecycle_stage": "deleted" if run.deleted_at else "active",
    }
    if run.ended_at is not None:
        info["end_time"] = ms(run.ended_at)
    return info


def metric_json(point) -> dict:
    return {
        "key": point.key,
        "value": proto_double(point.value, is_nan=point.is_nan),
        "timestamp": point.timestamp,
        "step": point.step,
    }


def run_json(run: TrainingRun, logs: selectors.RunLogs) -> dict:
    """A run (with who started it) and its logs (selectors.run_logs) as MLflow's Run."""
    data = {}
    if logs.metrics:
        data["metrics"] = [metric_json(point) for point in logs.metrics]
    if logs.params:
        data["params"] = [{"key": key, "value": value} for key, value in logs.params]
    if logs.tags:
        data["tags"] = [{"key": key, "value": value} for key, value in logs.tags.items()]
    payload = {"info": run_info_json(run), "data": data}
    # The logged models the run named as outputs (runs/outputs): the client links a metric logged at
    # their step to them.
    if logs.outputs:
        payload["outputs"] = {"model_outputs": [{"model_id": m, "step": step} for m, step in logs.outputs]}
    return payload


def runs_json(runs: list[TrainingRun]) -> list[dict]:
    """Runs as MLflow's Run messages, their logs read in one query whatever their number."""
    logs = selectors.run_logs([run.pk for run in runs])
    return [run_json(run, logs[run.pk]) for run in runs]


def run_for_id(data: dict, *, active: bool = False, queryset=None) -> TrainingRun:
    """The run a request names (run_id, or the older run_uuid); `active`: refuse a deleted run.
    `queryset`: read it with what the answer needs in the same go."""
    run_id = data.get("run_id") or data.get("run_uuid")
    if not run_id:
        raise MlflowError("INVALID_PARAMETER_VALUE", "Missing value for required parameter 'run_id'.")
    if queryset is None:
        queryset = TrainingRun.objects.select_related("experiment", "created_by")
    # run_id is unique: no ORDER BY (first() would add the model's ordering) for the one row.
    run = next(iter(queryset.filter(run_id=run_id).order_by()[:1]), None)
    if run is None:
        raise MlflowError(RESOURCE_DOES_NOT_EXIST, f"Run with id={run_id[:100]} not found.")
    if active and run.deleted_at is not None:
        raise MlflowError(
            INVALID_STATE, f"The run {run.run_id} must be in the 'active' state. Current state is deleted."
        )
    return run


class RunCreate(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {
        "experiment_id": string(),
        "user_id": string(),  # the client's local login: Keel records the authenticated user instead
        "run_name": string(),
        "start_time": int64(),
        "tags": message(KEY_VALUE, repeated=True),
    }

    def post(self, request):
        data = self.fields(self.spec)
        tags = [check_tag(t.get("key"), t.get("value", ""), f"tags[{i}]") for i, t in enumerate(data.get("tags", []))]
        check_batch_sizes(0, 0, len(tags))
        name = data.get("run_name") or dict(tags).get(RUN_NAME_TAG, "")
        if name:
            tags = [t for t in tags if t[0] != RUN_NAME_TAG] + [(RUN_NAME_TAG, name)]
        started_at = from_ms(data["start_time"], "start_time") if "start_time" in data else None
        experiment_id = data.get("experiment_id") or DEFAULT_EXPERIMENT_ID
        tags = dict(tags)
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            with transaction.atomic():
                experiment = services.experiment_get_or_create(name=DEFAULT_EXPERIMENT_NAME, actor=request.user)
                run = services.run_create(
                    experiment=experiment, actor=request.user, name=name, started_at=started_at, tags=tags
                )
        else:
            experiment = experiment_for_id(experiment_id)
            run = services.run_create(
                experiment=experiment, actor=request.user, name=name, started_at=started_at, tags=tags
            )
        # A new run holds nothing but these tags: answered without reading it back.
        data = {"tags": [{"key": k, "value": v} for k, v in sorted(tags.items())]} if tags else {}
        return self.ok({"run": {"info": run_info_json(run), "data": data}})


class RunGet(MlflowView):
    required_permissions = {"GET": USE_KEEL}
    spec = RUN_ID

    def get(self, request):
        run = run_for_id(self.fields(self.spec), queryset=TrainingRun.objects.select_related("created_by"))
        return self.ok({"run": runs_json([run])[0]})


class RunUpdate(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {**RUN_ID, "status": enum(*RUN_STATUSES), "end_time": int64(), "run_name": string()}

    def post(self, request):
        data = self.fields(self.spec)
        run = run_for_id(data, active=True, queryset=TrainingRun.objects.select_related("created_by"))
        ended_at = from_ms(data["end_time"], "end_time") if "end_time" in data else None
        if "run_name" in data:
            with transaction.atomic():
                run = services.run_rename(run=run, name=data["run_name"])
                services.run_log(run=run, actor=request.user, tags=[(RUN_NAME_TAG, data["run_name"])])
                if "status" in data:
                    run = services.run_set_status(run=run, status=data["status"], ended_at=ended_at)
            run = run_for_id(data)
        elif "status" in data:  # what set_terminated sends: one service, its own transaction
            run = services.run_set_status(run=run, status=data["status"], ended_at=ended_at)
        # The run's info only (its row and who started it), not its logs.
        return self.ok({"run_info": run_info_json(run)})


class RunDelete(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {"run_id": string(required=True)}

    def post(self, request):
        services.run_delete(run=run_for_id(self.fields(self.spec)))
        return self.ok()


class RunRestore(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {"run_id": string(required=True)}

    def post(self, request):
        services.run_restore(run=run_for_id(self.fields(self.spec)))
        return self.ok()


def _metric(item: dict, path: str) -> dict:
    key = check_key(item.get("key"), f"{path}.key")
    if "value" not in item:
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{path}.value'.")
    metric = {"key": key, "value": item["value"], "step": item.get("step", 0), "timestamp": item.get("timestamp")}
    # MLflow 3: a point measured for a logged model (on a dataset) is linked to that model too.
    return metric | {name: item[name] for name in ("model_id", "dataset_name", "dataset_digest") if item.get(name)}


class RunLogBatch(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {
        "run_id": string(required=True),
        "metrics": message(METRIC, repeated=True),
        "params": message(KEY_VALUE, repeated=True),
        "tags": message(KEY_VALUE, repeated=True),
    }

    def post(self, request):
        check_batch_request_size(request)
        data = self.fields(self.spec)
        metrics, params, tags = data.get("metrics", []), data.get("params", []), data.get("tags", [])
        check_batch_sizes(len(metrics), len(params), len(tags))
        keys = [p.get("key") for p in params]
        duplicates = sorted({k for k in keys if keys.count(k) > 1 and isinstance(k, str)})
        if duplicates:
            raise MlflowError(
                "INVALID_PARAMETER_VALUE",
                f"Duplicate parameter keys have been submitted: {duplicates}. Please ensure the request "
                "contains only one param value per param key.",
            )
        services.run_log_with_models(
            run=run_for_id(data, active=True),
            actor=request.user,
            params=[check_param(p.get("key"), p.get("value", ""), f"params[{i}]") for i, p in enumerate(params)],
            metrics=[_metric(m, f"metrics[{i}]") for i, m in enumerate(metrics)],
            tags=[check_tag(t.get("key"), t.get("value", ""), f"tags[{i}]") for i, t in enumerate(tags)],
        )
        return self.ok()


class RunLogMetric(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {**METRIC, **RUN_ID}

    def post(self, request):
        data = self.fields(self.spec)
        for required in ("key", "value", "timestamp"):
            if required not in data:
                raise MlflowError("INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{required}'.")
        run = run_for_id(data, active=True)
        services.run_log_with_models(run=run, actor=request.user, metrics=[_metric(data, "metric")])
        return self.ok()


class RunLogParam(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {**RUN_ID, "key": string(required=True), "value": string()}

    def post(self, request):
        data = self.fields(self.spec)
        param = check_param(data["key"], data.get("value", ""))
        services.run_log(run=run_for_id(data, active=True), actor=request.user, params=[param])
        return self.ok()


class RunSetTag(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {**RUN_ID, "key": string(required=True), "value": string()}

    def post(self, request):
        data = self.fields(self.spec)
        key, value = check_tag(data["key"], data.get("value", ""))
        run = run_for_id(data, active=True)
        with transaction.atomic():
            services.run_log(run=run, actor=request.user, tags=[(key, value)])
            if key == RUN_NAME_TAG:
                services.run_rename(run=run, name=value)  # as MLflow: the tag and the name are one
        return self.ok()


class RunDeleteTag(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {"run_id": string(required=True), "key": string(required=True)}

    def post(self, request):
        data = self.fields(self.spec)
        services.run_tag_remove(run=run_for_id(data, active=True), key=data["key"], actor=request.user)
        return self.ok()


class MetricHistory(MlflowView):
    required_permissions = {"GET": USE_KEEL}
    spec = {**RUN_ID, "metric_key": string(required=True), "page_token": string(), "max_results": int32()}

    def get(self, request):
        data = self.fields(self.spec)
        run_id = data.get("run_id") or data.get("run_uuid") or ""
        limit = max_results(data.get("max_results"), default=HISTORY_PAGE, limit=HISTORY_PAGE)
        offset = page_offset(data.get("page_token"))
        history = selectors.run_metric_history_by_run_id(run_id, data["metric_key"])
        points = list(history.order_by("step", "timestamp", "id")[offset : offset + limit + 1])
        if not points:
            run_id = run_for_id(data).run_id  # no points: is there such a run at all?
        payload = {"metrics": [dict(metric_json(p), run_id=run_id) for p in points[:limit]]}
        if len(points) > limit:
            payload["next_page_token"] = next_page_token(offset + limit)
        return self.ok(payload)
