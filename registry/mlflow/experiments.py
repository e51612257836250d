"""MLflow experiments: create, get, get-by-name, search. Keel's Experiment rows, as API v1 sees them
(an experiment's MLflow id is str(pk))."""

from django.db.models import Q

from mlops.roles import LOG_TRAINING, USE_KEEL

from .. import selectors, services
from ..models import Experiment
from .base import MlflowView, ms
from .errors import RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST, MlflowError, conflict_as
from .fields import enum, int64, message, string
from .paging import max_results, next_page_token, page_offset
from .queries import moment_lookup, refuse, text_lookup
from .search_filter import SearchSyntaxError, parse_filter, parse_order_by

__all__ = [
    "experiment_json",
    "experiment_for_id",
    "ExperimentCreate",
    "ExperimentGet",
    "ExperimentGetByName",
    "ExperimentSearch",
]

TAG = {"key": string(), "value": string()}
VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")


def artifact_location(experiment: Experiment) -> str:
    return f"mlflow-artifacts:/{experiment.pk}"


def experiment_json(experiment: Experiment) -> dict:
    created = ms(experiment.created_at)
    return {
        "experiment_id": str(experiment.pk),
        "name": experiment.name,
        "artifact_location": artifact_location(experiment),
        "lifecycle_stage": "active",
        "last_update_time": created,
        "creation_time": created,
    }


def experiment_for_id(experiment_id: str) -> Experiment:
    """The experiment an MLflow id names; an id that is not Keel's is not found (404), as in MLflow."""
    if not experiment_id.isdigit() or len(experiment_id) > 18:
        raise MlflowError(RESOURCE_DOES_NOT_EXIST, f"No experiment with id '{experiment_id[:100]}'.")
    return selectors.experiment_get(int(experiment_id))


class ExperimentCreate(MlflowView):
    required_permissions = {"POST": LOG_TRAINING}
    spec = {"name": string(required=True), "artifact_location": string(), "tags": message(TAG, repeated=True)}

    def post(self, request):
        data = self.fields(self.spec)
        if data.get("tags"):
            raise refuse("Keel keeps no experiment tags; tag the runs instead.")
        with conflict_as(RESOURCE_ALREADY_EXISTS):
            experiment = services.experiment_create(name=data["name"], actor=request.user)
        return self.ok({"experiment_id": str(experiment.pk)})


class ExperimentGet(MlflowView):
    required_permissions = {"GET": USE_KEEL}
    spec = {"experiment_id": string(required=True)}

    def get(self, request):
        return self.ok({"experiment": experiment_json(experiment_for_id(self.fields(self.spec)["experiment_id"]))})


class ExperimentGetByName(MlflowView):
    required_permissions = {"GET": USE_KEEL}
    spec = {"experiment_name": string(required=True)}

    def get(self, request):
        name = self.fields(self.spec)["experiment_name"]
        return self.ok({"experiment": experiment_json(selectors.experiment_get_by_name(name))})


EXPERIMENT_NUMBERS = {"creation_time": "created_at", "last_update_time": "created_at"}
EXPERIMENT_ORDER = {
    "name": "name",
    "experiment_id": "pk",
    "creation_time": "created_at",
    "last_update_time": "created_at",
}


def _experiment_condition(comparison) -> Q:
    if comparison.entity == "tag":
        return Q(pk__in=[])  # Keel's experiments carry no tags: no experiment has the tag
    if comparison.entity != "attribute":
        raise refuse(f"Experiments are searched by name, creation_time and tags, not {comparison.entity}s.")
    if comparison.key == "name":
        return text_lookup("name", comparison)
    if comparison.key in EXPERIMENT_NUMBERS:
        if not isinstance(comparison.value, float):
            raise refuse(f"'{comparison.key}' is compared with milliseconds since the epoch.")
        return moment_lookup(EXPERIMENT_NUMBERS[comparison.key], comparison)
    raise refuse(f"Experiments cannot be searched by '{comparison.key}'.")


class ExperimentSearch(MlflowView):
    required_permissions = {"GET": USE_KEEL, "POST": USE_KEEL}  # a search is a read, whichever method
    spec = {
        "max_results": int64(),
        "page_token": string(),
        "filter": string(),
        "order_by": string(repeated=True),
        "view_type": enum(*VIEW_TYPES),
    }

    def get(self, request):
        return self.search()

    def post(self, request):
        return self.search()

    def search(self):
        data = self.fields(self.spec)
        limit = max_results(data.get("max_results"), default=1000)
        offset = page_offset(data.get("page_token"))
        try:
            comparisons = parse_filter(data.get("filter"))
            orders = parse_order_by(data.get("order_by"))
        except SearchSyntaxError as exc:
            raise refuse(str(exc)) from None
        queryset = Experiment.objects.all()
        if data.get("view_type") == "DELETED_ONLY":
            queryset = queryset.none()  # Keel never deletes an experiment
        for comparison in comparisons:
            queryset = queryset.filter(_experiment_condition(comparison))
        ordering = []
        for order in orders:
            if order.entity != "attribute" or order.key not in EXPERIMENT_ORDER:
                raise refuse(f"Experiments are ordered by {', '.join(EXPERIMENT_ORDER)}, not '{order.key}'.")
            ordering.append(("" if order.ascending else "-") + EXPERIMENT_ORDER[order.key])
        queryset = (
            queryset.order_by(*ordering, "-created_at", "-pk") if ordering else queryset.order_by("-created_at", "-pk")
        )
        page = list(queryset[offset : offset + limit + 1])
        payload = {"experiments": [experiment_json(e) for e in page[:limit]]}
        if len(page) > limit:
            payload["next_page_token"] = next_page_token(offset + limit)
        return self.ok(payload)
