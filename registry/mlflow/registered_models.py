"""MLflow registered models: create, get, search, update (description), rename, delete (refused), and
their tags. Keel's RegisteredModel rows, as API v1 and the model pages show them.

A registered model needs a task type in Keel (the gate picks its metrics by it); MLflow has none, so
it is read from a `keel.task_type` tag at create and is binary classification when none is sent."""

import re

from django.db import transaction
from django.db.models import Q

from mlops.roles import REGISTER_MODELS, USE_KEEL

from .. import selectors, services
from ..models import RegisteredModel, RegisteredModelTag, TaskType
from .base import MlflowView
from .errors import INVALID_STATE, RESOURCE_ALREADY_EXISTS, MlflowError, conflict_as
from .fields import int64, message, string
from .paging import max_results, next_page_token, page_offset
from .queries import like_regex, moment_lookup, refuse, text_lookup
from .registry_json import model_json
from .search_filter import SearchSyntaxError, parse_filter, parse_order_by

__all__ = [
    "TASK_TYPE_TAG",
    "KEEPS_HISTORY",
    "tag_condition",
    "RegisteredModelCreate",
    "RegisteredModelGet",
    "RegisteredModelSearch",
    "RegisteredModelUpdate",
    "RegisteredModelRename",
    "RegisteredModelDelete",
    "RegisteredModelSetTag",
    "RegisteredModelDeleteTag",
]

TAG = {"key": string(), "value": string()}
TASK_TYPE_TAG = "keel.task_type"
KEEPS_HISTORY = (
    "Keel keeps every registered model and version with its history (aliases, promotions, audits "
    "refer to them); nothing was deleted."
)


def _model(name: str) -> RegisteredModel:
    return selectors.model_get(name)


class RegisteredModelCreate(MlflowView):
    required_permissions = {"POST": REGISTER_MODELS}
    spec = {
        "name": string(required=True),
        "tags": message(TAG, repeated=True),
        "description": string(),
        "deployment_job_id": string(),
    }

    def post(self, request):
        data = self.fields(self.spec)
        tags = {t.get("key", ""): t.get("value", "") for t in data.get("tags", [])}
        task_type = tags.pop(TASK_TYPE_TAG, TaskType.BINARY)
        if task_type not in TaskType.values:
            raise refuse(f"Tag '{TASK_TYPE_TAG}' must be one of {', '.join(TaskType.values)}.")
        with transaction.atomic(), conflict_as(RESOURCE_ALREADY_EXISTS):
            model = services.model_create(
                name=data["name"], task_type=task_type, owner=request.user, description=data.get("description", "")
            )
            for key, value in tags.items():
                services.model_tag_set(model=model, actor=request.user, key=key, value=value)
        return self.ok({"registered_model": model_json(model)})


class RegisteredModelGet(MlflowView):
    required_permissions = {"GET": USE_KEEL}
    spec = {"name": string(required=True)}

    def get(self, request):
        return self.ok({"registered_model": model_json(_model(self.fields(self.spec)["name"]))})


def tag_condition(rows, comparison, owner_field: str) -> Q:
    """Rows (a tag history queryset) whose owner's current tag matches the comparison, as a Q on the owner."""
    if isinstance(comparison.value, float):
        raise refuse(f"Tag '{comparison.key}' is compared with quoted text, not a number.")
    current = {}
    for row in rows.filter(key=comparison.key).order_by("id"):
        current[getattr(row, owner_field)] = None if row.removed else row.value
    if comparison.op in ("!=", "NOT IN"):
        # As MLflow's registry reads it (the client itself sends `tags.mlflow.prompt.is_prompt != 'true'`):
        # an owner without the tag matches a negative comparison.
        target = comparison.value if comparison.op == "NOT IN" else (comparison.value,)
        excluded = [owner for owner, value in current.items() if value is not None and value in target]
        return ~Q(pk__in=excluded)
    wanted = [owner for owner, value in current.items() if value is not None and _text_matches(comparison, value)]
    return Q(pk__in=wanted)


def _text_matches(comparison, value: str) -> bool:
    # Tags are history rows: the current value is found in Python, then compared as the query would.
    op, target = comparison.op, comparison.value
    if op == "=":
        return value == target
    if op == "!=":
        return value != target
    if op == "LIKE":
        return re.match(like_regex(target), value, re.S) is not None
    if op == "ILIKE":
        return re.match(like_regex(target), value, re.S | re.I) is not None
    if op == "IN":
        return value in target
    if op == "NOT IN":
        return value not in target
    raise refuse(f"Tag '{comparison.key}' is text: compare it with =, !=, LIKE, ILIKE, IN or NOT IN, not {op}.")


MODEL_ORDER = {
    "name": "name",
    "creation_timestamp": "created_at",
    "last_updated_timestamp": "updated_at",
    "timestamp": "updated_at",
}
MODEL_TIMES = {"creation_timestamp": "created_at", "last_updated_timestamp": "updated_at"}


def _model_condition(comparison) -> Q:
    if comparison.entity == "tag":
        return tag_condition(RegisteredModelTag.objects.all(), comparison, "model_id")
    if comparison.entity != "attribute":
        raise refuse(f"Registered models are searched by name and tags, not {comparison.entity}s.")
    if comparison.key == "name":
        return text_lookup("name", comparison)
    if comparison.key in MODEL_TIMES:
        return moment_lookup(MODEL_TIMES[comparison.key], comparison)
    raise refuse(f"Registered models cannot be searched by '{comparison.key}'.")


def ordering_for(order_by, known: dict[str, str], what: str) -> list[str]:
    try:
        orders = parse_order_by(order_by)
    except SearchSyntaxError as exc:
        raise refuse(str(exc)) from None
    ordering = []
    for order in orders:
        if order.entity != "attribute" or order.key not in known:
            raise refuse(f"{what} are ordered by {', '.join(known)}, not '{order.key}'.")
        ordering.append(("" if order.ascending else "-") + known[order.key])
    return ordering


def paged(queryset, data: dict, *, default: int, limit: int, render, key: str) -> dict:
    size = max_results(data.get("max_results"), default=default, limit=limit)
    offset = page_offset(data.get("page_token"))
    page = list(queryset[offset : offset + size + 1])
    payload = {key: [render(item) for item in page[:size]]}
    if len(page) > size:
        payload["next_page_token"] = next_page_token(offset + size)
    return payload


class RegisteredModelSearch(MlflowView):
    required_permissions = {"GET": USE_KEEL}
    spec = {"filter": string(), "max_results": int64(), "order_by": string(repeated=True), "page_token": string()}

    def get(self, request):
        data = self.fields(self.spec)
        try:
            comparisons = parse_filter(data.get("filter"))
        except SearchSyntaxError as exc:
            raise refuse(str(exc)) from None
        queryset = RegisteredModel.objects.select_related("owner").prefetch_related("tags", "aliases__version")
        for comparison in comparisons:
            queryset = queryset.filter(_model_condition(comparison))
        ordering = ordering_for(data.get("order_by"), MODEL_ORDER, "Registered models")
        queryset = queryset.order_by(*ordering, "name")
        return self.ok(paged(queryset, data, default=100, limit=1000, render=model_json, key="registered_models"))


class RegisteredModelUpdate(MlflowView):
    required_permissions = {"PATCH": REGISTER_MODELS}
    spec = {"name": string(required=True), "description": string(), "deployment_job_id": string()}

    def patch(self, request):
        data = self.fields(self.spec)
        model = _model(data["name"])
        if "description" in data:
            model = services.model_update_description(model=model, description=data["description"])
        return self.ok({"registered_model": model_json(model)})


class RegisteredModelRename(MlflowView):
    required_permissions = {"POST": REGISTER_MODELS}
    spec = {"name": string(required=True), "new_name": string(required=True)}

    def post(self, request):
        data = self.fields(self.spec)
        with conflict_as(RESOURCE_ALREADY_EXISTS):
            model = services.model_rename(model=_model(data["name"]), new_name=data["new_name"])
        return self.ok({"registered_model": model_json(model)})


class RegisteredModelDelete(MlflowView):
    required_permissions = {"DELETE": REGISTER_MODELS}
    spec = {"name": string(required=True)}

    def delete(self, request):
        model = _model(self.fields(self.spec)["name"])
        raise MlflowError(INVALID_STATE, f"Model '{model.name}' was not deleted: {KEEPS_HISTORY}")


class RegisteredModelSetTag(MlflowView):
    required_permissions = {"POST": REGISTER_MODELS}
    spec = {"name": string(required=True), "key": string(required=True), "value": string()}

    def post(self, request):
        data = self.fields(self.spec)
        services.model_tag_set(
            model=_model(data["name"]), actor=request.user, key=data["key"], value=data.get("value", "")
        )
        return self.ok()


class RegisteredModelDeleteTag(MlflowView):
    required_permissions = {"DELETE": REGISTER_MODELS}
    spec = {"name": string(required=True), "key": string(required=True)}

    def delete(self, request):
        data = self.fields(self.spec)
        services.model_tag_remove(model=_model(data["name"]), actor=request.user, key=data["key"])
        return self.ok()
