"""MLflow's runs/search: experiments, a filter on metrics, params, tags and attributes, order_by and
pages, as Django queries over Keel's runs and their logs.

As in MLflow: a metric compares its latest value (highest step, then newest timestamp); a param or a
tag compares its current value, and a run without it matches no comparison on it (`!=` included)."""

import re

from django.db.models import Exists, F, OuterRef, Q, Subquery

from mlops.roles import USE_KEEL

from ..models import RunMetric, RunParam, RunTag, TrainingRun
from .base import MlflowView
from .errors import RESOURCE_DOES_NOT_EXIST, MlflowError
from .fields import enum, int32, string
from .paging import max_results, next_page_token, page_offset
from .queries import like_regex, moment_lookup, number_lookup, refuse, text_lookup
from .runs import runs_json
from .search_filter import Comparison, SearchSyntaxError, parse_filter, parse_order_by

__all__ = ["RunSearch"]

VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")
TEXT_ATTRIBUTES = {"status": "status", "run_name": "name", "run_id": "run_id", "user_id": "created_by__username"}
TIME_ATTRIBUTES = {"start_time": "started_at", "created": "started_at", "end_time": "ended_at"}
ORDER_ATTRIBUTES = {**TEXT_ATTRIBUTES, **TIME_ATTRIBUTES, "experiment_id": "experiment_id"}
# MLflow's other spellings of the attributes.
ATTRIBUTE_ALIASES = {"run name": "run_name", "runname": "run_name", "Created": "created", "run_uuid": "run_id"}


def _latest_metric(key: str):
    points = RunMetric.objects.filter(run=OuterRef("pk"), key=key).order_by("-step", "-timestamp", "-id")
    return Subquery(points.values("value")[:1]), Subquery(points.values("is_nan")[:1])


def _latest_tag_id(key: str):
    return Subquery(RunTag.objects.filter(run=OuterRef("pk"), key=key).order_by("-id").values("id")[:1])


class _Query:
    """Builds one search: each comparison or order adds the annotations it needs, named apart."""

    def __init__(self, queryset):
        self.queryset = queryset
        self.count = 0

    def name(self) -> str:
        self.count += 1
        return f"_mlflow_{self.count}"

    def metric(self, key: str) -> str:
        value, is_nan = _latest_metric(key)
        name = self.name()
        self.queryset = self.queryset.annotate(**{name: value, f"{name}_nan": is_nan})
        return name

    def tag(self, key: str) -> str:
        name = self.name()
        self.queryset = self.queryset.annotate(**{name: _latest_tag_id(key)})
        return name

    def where(self, comparison: Comparison) -> None:
        entity, key = comparison.entity, comparison.key
        if entity == "metric":
            name = self.metric(key)
            self.queryset = self.queryset.filter(Q(**{f"{name}_nan": False}) & number_lookup(name, comparison))
        elif entity == "param":
            values = RunParam.objects.filter(run=OuterRef("pk"), key=key).filter(text_lookup("value", comparison))
            self.queryset = self.queryset.filter(Exists(values))
        elif entity == "tag":
            name = self.tag(key)
            current = RunTag.objects.filter(pk=OuterRef(name)).exclude(removed=True)
            self.queryset = self.queryset.filter(Exists(current.filter(text_lookup("value", comparison))))
        else:
            self.queryset = self.queryset.filter(_attribute(comparison))

    def order(self, entity: str, key: str, ascending: bool):
        if entity == "metric":
            name = self.metric(key)
            expression = F(name)
        elif entity == "param":
            name = self.name()
            value = RunParam.objects.filter(run=OuterRef("pk"), key=key).values("value")[:1]
            self.queryset = self.queryset.annotate(**{name: Subquery(value)})
            expression = F(name)
        elif entity == "tag":
            name = self.name()
            current = RunTag.objects.filter(run=OuterRef("pk"), key=key).order_by("-id")
            self.queryset = self.queryset.annotate(**{name: Subquery(current.values("value")[:1])})
            expression = F(name)
        else:
            key = ATTRIBUTE_ALIASES.get(key, key)
            if key not in ORDER_ATTRIBUTES:
                raise refuse(f"Runs cannot be ordered by attribute '{key}'.")
            expression = F(ORDER_ATTRIBUTES[key])
        # As MLflow: runs without the value come last, whichever the direction.
        return expression.asc(nulls_last=True) if ascending else expression.desc(nulls_last=True)


def _attribute(comparison: Comparison) -> Q:
    key = ATTRIBUTE_ALIASES.get(comparison.key, comparison.key)
    if key in TEXT_ATTRIBUTES:
        return text_lookup(TEXT_ATTRIBUTES[key], comparison)
    if key in TIME_ATTRIBUTES:
        return moment_lookup(TIME_ATTRIBUTES[key], comparison)
    if key == "lifecycle_stage":
        # Not a column: the comparison is tested against both stages, and the runs in those that match kept.
        if isinstance(comparison.value, float):
            raise refuse("'lifecycle_stage' is compared with quoted text ('active' or 'deleted').")
        condition = Q(pk__in=[])
        if _text_holds(comparison, "active"):
            condition |= Q(deleted_at__isnull=True)
        if _text_holds(comparison, "deleted"):
            condition |= Q(deleted_at__isnull=False)
        return condition
    raise refuse(
        f"Runs cannot be searched by attribute '{comparison.key}'; use one of "
        f"{', '.join(sorted([*TEXT_ATTRIBUTES, *TIME_ATTRIBUTES, 'lifecycle_stage']))}."
    )


def _text_holds(comparison: Comparison, value: str) -> bool:
    op, wanted = comparison.op, comparison.value
    if op == "=":
        return value == wanted
    if op == "!=":
        return value != wanted
    if op == "LIKE":
        return re.match(like_regex(wanted), value) is not None
    if op == "ILIKE":
        return re.match(like_regex(wanted), value, re.IGNORECASE) is not None
    if op == "IN":
        return value in wanted
    return value not in wanted  # NOT IN


class RunSearch(MlflowView):
    required_permissions = {"POST": USE_KEEL}  # a search is a read
    spec = {
        "experiment_ids": string(repeated=True),
        "filter": string(),
        "run_view_type": enum(*VIEW_TYPES),
        "max_results": int32(),
        "order_by": string(repeated=True),
        "page_token": string(),
    }

    def post(self, request):
        data = self.fields(self.spec)
        limit = max_results(data.get("max_results"), default=1000)
        offset = page_offset(data.get("page_token"))
        try:
            comparisons = parse_filter(data.get("filter"))
            orders = parse_order_by(data.get("order_by"))
        except SearchSyntaxError as exc:
            raise refuse(str(exc)) from None
        queryset = TrainingRun.objects.select_related("created_by")
        experiment_ids = data.get("experiment_ids", [])
        if experiment_ids:
            if not all(e.isdigit() and len(e) <= 18 for e in experiment_ids):
                raise MlflowError(RESOURCE_DOES_NOT_EXIST, f"No experiment with id among {experiment_ids[:10]}.")
            queryset = queryset.filter(experiment_id__in=[int(e) for e in experiment_ids])
        view = data.get("run_view_type", "ACTIVE_ONLY")
        if view == "ACTIVE_ONLY":
            queryset = queryset.filter(deleted_at__isnull=True)
        elif view == "DELETED_ONLY":
            queryset = queryset.filter(deleted_at__isnull=False)
        query = _Query(queryset)
        for comparison in comparisons:
            query.where(comparison)
        ordering = [query.order(o.entity, o.key, o.ascending) for o in orders]
        # MLflow's default and tie-breaker: newest start first, then the run id.
        queryset = query.queryset.order_by(*ordering, F("started_at").desc(), "run_id")
        page = list(queryset[offset : offset + limit + 1])
        payload = {"runs": runs_json(page[:limit])}
        if len(page) > limit:
            payload["next_page_token"] = next_page_token(offset + limit)
        return self.ok(payload)
