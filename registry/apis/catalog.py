"""REST API v1 for pipelines and tools. Thin: check the request's form, call one service, render."""

from django.conf import settings
from django.db import transaction
from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from mlops.api import KeelAPIView
from mlops.errors import ApplicationError
from mlops.openapi import list_schema
from mlops.roles import ALLOW_PICKLES, LOG_TRAINING, MOVE_ALIAS, REGISTER_MODELS, USE_KEEL

from .. import selectors, services
from .. import serializers as s
from ..filters import ModelFilter, RunFilter, VersionFilter
from ..models import Experiment, RegisteredModel

__all__ = [
    "READ",
    "READ_WRITE",
    "READ_LOG",
    "MULTIPART_SLACK",
    "ModelListApi",
    "ModelDetailApi",
    "VersionListApi",
    "VersionDetailApi",
    "VersionArtifactApi",
    "VersionTagsApi",
    "AliasApi",
    "AliasHistoryApi",
    "PicklePolicyApi",
    "VersionDiffApi",
    "ExperimentListApi",
    "RunListApi",
    "RunDetailApi",
    "RunLogApi",
    "RunStatusApi",
    "RunMetricHistoryApi",
]

READ = {"GET": USE_KEEL}
READ_WRITE = {"GET": USE_KEEL, "POST": REGISTER_MODELS}
# The training commit log (versions, runs, their params, metrics, tags, artifacts): the pipelines'.
READ_LOG = {"GET": USE_KEEL, "POST": LOG_TRAINING}

# Multipart framing around the file adds a little to Content-Length; allow for it before refusing.
MULTIPART_SLACK = 64 * 1024


def _models_for_api():
    return RegisteredModel.objects.select_related("owner").prefetch_related("aliases__version", "versions", "tags")


class ModelListApi(KeelAPIView):
    required_permissions = READ_WRITE

    @list_schema(s.ModelOut, ModelFilter)
    def get(self, request):
        return self.list_response(request, _models_for_api(), s.ModelOut, ModelFilter)

    @extend_schema(request=s.ModelCreateIn, responses={201: s.ModelOut})
    def post(self, request):
        model = services.model_create(owner=request.user, **self.validated(s.ModelCreateIn))
        return Response(s.ModelOut(_models_for_api().get(pk=model.pk)).data, status=status.HTTP_201_CREATED)


class ModelDetailApi(KeelAPIView):
    required_permissions = {"GET": USE_KEEL, "PATCH": REGISTER_MODELS}

    @extend_schema(responses=s.ModelOut)
    def get(self, request, name):
        return Response(s.ModelOut(_models_for_api().get(pk=selectors.model_get(name).pk)).data)

    @extend_schema(request=s.ModelUpdateIn, responses=s.ModelOut)
    def patch(self, request, name):
        model = selectors.model_get(name)
        changes = self.validated(s.ModelUpdateIn)
        if changes:  # a PATCH that sends no field changes nothing
            services.model_update_description(model=model, **changes)
        return Response(s.ModelOut(_models_for_api().get(pk=model.pk)).data)


class VersionListApi(KeelAPIView):
    required_permissions = READ_LOG

    @list_schema(s.VersionOut, VersionFilter)
    def get(self, request, name):
        model = selectors.model_get(name)
        return self.list_response(request, selectors.versions_for_api(model), s.VersionOut, VersionFilter)

    @extend_schema(request=s.VersionCreateIn, responses={201: s.VersionOut})
    def post(self, request, name):
        model = selectors.model_get(name)
        data = dict(self.validated(s.VersionCreateIn))
        run_id = data.pop("run_id", None)
        run = selectors.run_get(run_id) if run_id else None
        version = services.version_create(model=model, actor=request.user, run=run, **data)
        out = s.VersionOut(selectors.versions_for_api(model).get(pk=version.pk), context={"request": request})
        return Response(out.data, status=status.HTTP_201_CREATED)


class VersionDetailApi(KeelAPIView):
    required_permissions = READ

    @extend_schema(responses=s.VersionOut)
    def get(self, request, name, version):
        model = selectors.model_get(name)
        found = selectors.version_get(model, version)
        return Response(
            s.VersionOut(selectors.versions_for_api(model).get(pk=found.pk), context={"request": request}).data
        )


class VersionArtifactApi(KeelAPIView):
    required_permissions = READ_LOG
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, name, version):
        found = selectors.version_get(selectors.model_get(name), version)
        if not found.artifact:
            raise ApplicationError(f"{found} has no artifact yet.", status_code=404)
        response = FileResponse(
            found.artifact.open("rb"), as_attachment=True, filename=found.artifact.name.rsplit("/", 1)[-1]
        )
        response["ETag"] = f'"{found.artifact_sha256}"'
        response["X-Checksum-Sha256"] = found.artifact_sha256
        return response

    @extend_schema(request={"multipart/form-data": s.ArtifactUploadIn}, responses={201: s.VersionOut})
    def post(self, request, name, version):
        found = selectors.version_get(selectors.model_get(name), version)
        # Refuse an oversized body before reading it: nothing reaches disk.
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        limit = settings.KEEL_MAX_ARTIFACT_BYTES
        if declared > limit + MULTIPART_SLACK:
            raise ApplicationError(
                f"The upload is {declared} bytes; the artifact limit is {limit} bytes.",
                field="file",
                status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        data = self.validated(s.ArtifactUploadIn)
        services.artifact_attach(version=found, uploaded=data["file"], sha256=data["sha256"])
        out = s.VersionOut(selectors.versions_for_api(found.model).get(pk=found.pk), context={"request": request})
        return Response(out.data, status=status.HTTP_201_CREATED)


class VersionTagsApi(KeelAPIView):
    required_permissions = {"POST": LOG_TRAINING}

    @extend_schema(request=s.TagsIn, responses=s.VersionOut)
    def post(self, request, name, version):
        found = selectors.version_get(selectors.model_get(name), version)
        services.version_set_tags(version=found, actor=request.user, **self.validated(s.TagsIn))
        return Response(
            s.VersionOut(selectors.versions_for_api(found.model).get(pk=found.pk), context={"request": request}).data
        )


class AliasApi(KeelAPIView):
    required_permissions = {"GET": USE_KEEL, "PUT": MOVE_ALIAS}

    @extend_schema(responses=s.AliasOut)
    def get(self, request, name, alias):
        model = selectors.model_get(name)
        version = selectors.alias_map(model).get(alias)
        if version is None:
            raise ApplicationError(f"Model '{name}' has no alias '{alias}'.", status_code=404)
        return Response({"alias": alias, "version": version.version})

    @extend_schema(
        request=s.AliasMoveIn,
        responses=PolymorphicProxySerializer(
            component_name="AliasMoveOut",
            serializers=[s.AliasEventOut, s.AliasUnmovedOut],
            resource_type_field_name=None,
        ),
    )
    def put(self, request, name, alias):
        model = selectors.model_get(name)
        data = self.validated(s.AliasMoveIn)
        target = None if data["version"] is None else selectors.version_get(model, data["version"])
        event = services.alias_move(model=model, alias=alias, version=target, actor=request.user, reason=data["reason"])
        if event is None:
            return Response({"message": f"'{alias}' already points there; nothing moved.", "detail": {}})
        return Response(s.AliasEventOut(event).data)


class AliasHistoryApi(KeelAPIView):
    required_permissions = READ

    @list_schema(s.AliasEventOut)
    def get(self, request, name):
        return self.list_response(request, selectors.alias_history(selectors.model_get(name)), s.AliasEventOut)


class PicklePolicyApi(KeelAPIView):
    """Whether the model may hold pickle artifacts: reviewers' decisions, newest (the one in force) first.

    Pickles run code when loaded, so without a decision allowing them a pickle upload is refused.
    POST records a reviewer's decision with a reason (allowed true or false)."""

    required_permissions = {"GET": USE_KEEL, "POST": ALLOW_PICKLES}

    @list_schema(s.PickleDecisionOut)
    def get(self, request, name):
        history = selectors.pickle_allowance_history(selectors.model_get(name))
        return self.list_response(request, history, s.PickleDecisionOut)

    @extend_schema(request=s.PickleDecisionIn, responses={201: s.PickleDecisionOut})
    def post(self, request, name):
        decision = services.model_pickle_policy_set(
            model=selectors.model_get(name), actor=request.user, **self.validated(s.PickleDecisionIn)
        )
        return Response(s.PickleDecisionOut(decision).data, status=status.HTTP_201_CREATED)


# Version numbers start at 1: the schema says so, since anything else is refused.
VERSION_NUMBER = {"type": "integer", "minimum": 1}


class VersionDiffApi(KeelAPIView):
    required_permissions = READ

    @extend_schema(
        parameters=[
            OpenApiParameter("left", VERSION_NUMBER, required=True),
            OpenApiParameter("right", VERSION_NUMBER, required=True),
            OpenApiParameter("changes", bool, description="Only rows that differ"),
        ],
        responses=s.DiffOut,
    )
    def get(self, request, name):
        model = selectors.model_get(name)
        numbers = {}
        for side in ("left", "right"):
            raw = request.query_params.get(side, "")
            if not raw.isdigit():
                raise ApplicationError("Give two version numbers to compare.", field=side)
            numbers[side] = selectors.version_get(model, int(raw))
        rows = selectors.version_diff(numbers["left"], numbers["right"])
        if request.query_params.get("changes") in ("1", "true"):
            rows = [row for row in rows if row.status != "same"]
        return Response(
            {
                "left": numbers["left"].version,
                "right": numbers["right"].version,
                "rows": s.DiffRowOut(rows, many=True).data,
            }
        )


class ExperimentListApi(KeelAPIView):
    required_permissions = READ_LOG

    @list_schema(s.ExperimentOut)
    def get(self, request):
        return self.list_response(request, Experiment.objects.select_related("created_by"), s.ExperimentOut)

    @extend_schema(request=s.ExperimentIn, responses={201: s.ExperimentOut})
    def post(self, request):
        experiment = services.experiment_get_or_create(actor=request.user, **self.validated(s.ExperimentIn))
        return Response(s.ExperimentOut(experiment).data, status=status.HTTP_201_CREATED)


class RunListApi(KeelAPIView):
    required_permissions = READ_LOG

    @list_schema(s.RunOut, RunFilter)
    def get(self, request):
        return self.list_response(request, selectors.runs_for_api(), s.RunOut, RunFilter)

    @extend_schema(request=s.RunCreateIn, responses={201: s.RunOut})
    def post(self, request):
        data = dict(self.validated(s.RunCreateIn))
        with transaction.atomic():
            experiment = services.experiment_get_or_create(name=data.pop("experiment"), actor=request.user)
            run = services.run_create(experiment=experiment, actor=request.user, **data)
        return Response(s.RunOut(selectors.runs_for_api().get(pk=run.pk)).data, status=status.HTTP_201_CREATED)


class RunDetailApi(KeelAPIView):
    required_permissions = READ

    @extend_schema(responses=s.RunOut)
    def get(self, request, run_id):
        return Response(s.RunOut(selectors.runs_for_api().get(pk=selectors.run_get(run_id).pk)).data)


class RunLogApi(KeelAPIView):
    required_permissions = {"POST": LOG_TRAINING}

    @extend_schema(request=s.RunLogIn, responses=s.RunOut)
    def post(self, request, run_id):
        run = selectors.run_get(run_id)
        data = self.validated(s.RunLogIn)
        services.run_log(
            run=run,
            actor=request.user,
            params=[(p["key"], p["value"]) for p in data["params"]],
            metrics=[dict(m) for m in data["metrics"]],
            tags=[(t["key"], t["value"]) for t in data["tags"]],
        )
        return Response(s.RunOut(selectors.runs_for_api().get(pk=run.pk)).data)


class RunStatusApi(KeelAPIView):
    required_permissions = {"POST": LOG_TRAINING}

    @extend_schema(request=s.RunStatusIn, responses=s.RunOut)
    def post(self, request, run_id):
        run = services.run_set_status(run=selectors.run_get(run_id), **self.validated(s.RunStatusIn))
        return Response(s.RunOut(selectors.runs_for_api().get(pk=run.pk)).data)


class RunMetricHistoryApi(KeelAPIView):
    required_permissions = READ

    @list_schema(s.MetricPointOut)
    def get(self, request, run_id, key):
        history = selectors.run_metric_history(selectors.run_get(run_id), key)
        return self.list_response(request, history, s.MetricPointOut)
