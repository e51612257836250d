"""MLflow's logged-models/search (service.proto SearchLoggedModels), as `search_logged_models` sends
it: experiments (required), MLflow's filter (registry.mlflow.search_filter) on metrics, params, tags
and attributes, `datasets` narrowing the metric comparisons, order_by messages (attributes, or a
metric on a dataset) and pages. Deleted logged models are never found, as in MLflow.

As MLflow's own server reads it:
- `metrics.<key> <op> <number>` holds when one of the model's points of that metric does (on one of
  `datasets` when they are sent); `datasets` alone keeps the models with a point on one of them.
- `params.<key>` and `tags.<key>` compare their value as text; a model without the key matches no
  comparison on it (`!=` included).
- Ordering by a metric uses its latest point (newest timestamp, then step), on the order's dataset
  when one is named; models without it come last, whichever the direction."""

import json
from dataclasses import replace

from django.db.models import Exists, F, OuterRef, Q, Subquery, TextField
from django.db.models.expressions import Func

from mlops.roles import USE_KEEL

from ..models import Experiment, LoggedModelMetric
from .base import MlflowView
from .fields import boolean, int32, message, string
from .limits import KEY_RE
from .logged_models import STATUS_PREFIX, logged_model_json, logged_models_for_api
from .queries import moment_lookup, number_lookup, refuse, text_lookup
from .registered_models import paged
from .runs import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME
from .search_filter import Comparison, SearchSyntaxError, parse_filter

__all__ = ["LoggedModelSearch"]

TEXT_ATTRIBUTES = {"name": "name", "model_id": "model_id", "model_type": "model_type", "source_run_id": "run__run_id"}
# MLflow's names for the times, its column names included.
TIME_ATTRIBUTES = {
    "creation_timestamp": "created_at",
    "creation_time": "created_at",
    "creation_timestamp_ms": "created_at",
    "last_updated_timestamp": "updated_at",
    "last_updated_timestamp_ms": "updated_at",
}
ORDER_ATTRIBUTES = {**TEXT_ATTRIBUTES, **TIME_ATTRIBUTES, "status": "status", "experiment_id": "experiment_id"}
ORDER_BY = {"field_name": string(), "ascending": boolean(), "dataset_name": string(), "dataset_digest": string()}
DATASET = {"dataset_name": string(), "dataset_digest": string()}


class JsonText(Func):
    """One key of a JSON object column as text, the key sent as a parameter whatever it holds (a
    digit-only key stays an object key, where Django's key transform would read an array index)."""

    output_field = TextField()

    def __init__(self, field: str, key: str):
        super().__init__(F(field))
        self.key = key

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"({sql} ->> %s::text)", (*params, self.key)
        return f"json_extract({sql}, %s)", (*params, "$." + json.dumps(self.key))


def _datasets(entries: list[dict]) -> Q | None:
    """The metric points on any of the datasets sent (a name, and its digest when sent)."""
    if not entries:
        return None
    wanted = Q(pk__in=[])
    for entry in entries:
        if not entry.get("dataset_name"):
            raise refuse("`dataset_name` in the `datasets` clause must be specified.")
        one = Q(dataset_name=entry["dataset_name"])
        if entry.get("dataset_digest"):
            one &= Q(dataset_digest=entry["dataset_digest"])
        wanted |= one
    return wanted


def _points(key: str, on_datasets: Q | None):
    points = LoggedModelMetric.objects.filter(logged_model=OuterRef("pk"), point__key=key, point__is_nan=False)
    return points.filter(on_datasets) if on_datasets is not None else points


class _Search:
    """One search's queryset; each comparison or order adds what it needs, named apart."""

    def __init__(self, queryset, on_datasets: Q | None):
        self.queryset = queryset
        self.on_datasets = on_datasets
        self.count = 0

    def _name(self) -> str:
        self.count += 1
        return f"_lm_{self.count}"

    def where(self, comparison: Comparison) -> None:
        entity, key = comparison.entity, comparison.key
        if entity == "metric":
            points = _points(key, self.on_datasets).filter(number_lookup("point__value", comparison))
            self.queryset = self.queryset.filter(Exists(points))
        elif entity in ("param", "tag"):
            if not KEY_RE.match(key):
                # No logged model has such a key (keys are checked when logged).
                self.queryset = self.queryset.none()
                return
            name = self._name()
            self.queryset = self.queryset.annotate(**{name: JsonText(f"{entity}s", key)})
            self.queryset = self.queryset.filter(Q(**{f"{name}__isnull": False}) & text_lookup(name, comparison))
        else:
            self.queryset = self.queryset.filter(_attribute(comparison))

    def only_with_points_on_datasets(self) -> None:
        points = LoggedModelMetric.objects.filter(logged_model=OuterRef("pk")).filter(self.on_datasets)
        self.queryset = self.queryset.filter(Exists(points))

    def order(self, entry: dict):
        field_name = entry.get("field_name") or ""
        ascending = entry.get("ascending", True)
        dataset_name, dataset_digest = entry.get("dataset_name"), entry.get("dataset_digest")
        if dataset_digest and not dataset_name:
            raise refuse("An order_by's dataset_digest is sent with its dataset_name.")
        if "." in field_name:
            entity, key = field_name.split(".", 1)
            if entity != "metrics" or not key:
                raise refuse(f"Invalid order by field name: {field_name[:100]!r}. Only metrics are supported.")
            on_dataset = None
            if dataset_name:
                on_dataset = Q(dataset_name=dataset_name) & (
                    Q(dataset_digest=dataset_digest) if dataset_digest else Q()
                )
            latest = _points(key, on_dataset).order_by("-point__timestamp", "-point__step", "-id")
            name = self._name()
            self.queryset = self.queryset.annotate(**{name: Subquery(latest.values("point__value")[:1])})
            expression = F(name)
        else:
            if dataset_name:
                raise refuse(f"A dataset orders a metric only, not {field_name[:100]!r}.")
            if field_name not in ORDER_ATTRIBUTES:
                raise refuse(
                    f"Logged models are ordered by {', '.join(ORDER_ATTRIBUTES)} or metrics.<key>; "
                    f"not {field_name[:100]!r}."
                )
            expression = F(ORDER_ATTRIBUTES[field_name])
        return expression.asc(nulls_last=True) if ascending else expression.desc(nulls_last=True)


def _attribute(comparison: Comparison) -> Q:
    key = comparison.key
    if key == "status":
        # Sent as MLflow names it (LOGGED_MODEL_READY) or as Keel stores it (READY).
        value = comparison.value
        if isinstance(value, tuple):
            value = tuple(v.removeprefix(STATUS_PREFIX) for v in value)
        elif isinstance(value, str):
            value = value.removeprefix(STATUS_PREFIX)
        return text_lookup("status", replace(comparison, value=value))
    if key in TEXT_ATTRIBUTES:
        return text_lookup(TEXT_ATTRIBUTES[key], comparison)
    if key in TIME_ATTRIBUTES:
        return moment_lookup(TIME_ATTRIBUTES[key], comparison)
    raise refuse(
        f"Logged models cannot be searched by '{key[:100]}'; use metrics.<key>, params.<key>, tags.<key> or "
        f"{', '.join(['status', *TEXT_ATTRIBUTES, *TIME_ATTRIBUTES])}."
    )


def _experiments(ids: list[str]) -> Q:
    wanted = Q(pk__in=[int(i) for i in ids if i.isascii() and i.isdigit() and len(i) <= 18])
    if DEFAULT_EXPERIMENT_ID in ids:
        wanted |= Q(name=DEFAULT_EXPERIMENT_NAME)
    return Q(experiment__in=Experiment.objects.filter(wanted))


class LoggedModelSearch(MlflowView):
    required_permissions = {"POST": USE_KEEL}  # a search is a read
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
        try:
            comparisons = parse_filter(data.get("filter"))
        except SearchSyntaxError as exc:
            raise refuse(str(exc)) from None
        on_datasets = _datasets(data.get("datasets", []))
        search = _Search(logged_models_for_api().filter(_experiments(ids), deleted_at__isnull=True), on_datasets)
        for comparison in comparisons:
            search.where(comparison)
        if on_datasets is not None and not any(c.entity == "metric" for c in comparisons):
            search.only_with_points_on_datasets()
        orders = data.get("order_by", [])
        ordering = [search.order(entry) for entry in orders]
        # MLflow's default and tie-breaker: the newest first.
        if not any(TIME_ATTRIBUTES.get(entry.get("field_name")) == "created_at" for entry in orders):
            ordering.append(F("created_at").desc())
        queryset = search.queryset.order_by(*ordering, "-id")
        return self.ok(paged(queryset, data, default=100, limit=1000, render=logged_model_json, key="models"))
