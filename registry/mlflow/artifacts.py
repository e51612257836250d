"""MLflow's artifact proxy (mlflow/protos/mlflow_artifacts.proto), as the client's
`mlflow-artifacts:` repository calls it:

- `PUT /api/2.0/mlflow-artifacts/artifacts/<path>`: the raw body is the file, streamed to Keel's
  storage with its size counted against KEEL_MAX_ARTIFACT_BYTES and its sha256 computed;
- `GET` of the same path: the bytes, streamed, always as `application/octet-stream` and as an
  attachment (an artifact is data, never a page Keel serves);
- `DELETE`: a file, or a folder with everything under it;
- `GET /api/2.0/mlflow-artifacts/artifacts?path=…`: a folder's entries (`path`, `is_dir`, `file_size`).

Paths are `<experiment id>/<run id>/artifacts/…` (a run's `artifact_uri` resolved against the
tracking URI) or `<experiment id>/models/<model id>/artifacts/…` (an MLflow 3 logged model's, as
`log_model` uploads it), and are checked by registry.mlflow.artifact_paths before the owner is even
looked up.
Multipart uploads are not offered: server-info says so, and the client then PUTs every file whole."""

from django.http import FileResponse
from rest_framework.parsers import BaseParser

from mlops.roles import LOG_TRAINING, USE_KEEL

from .. import selectors, services
from ..models import LoggedModel, TrainingRun
from .artifact_paths import ArtifactLocation, artifact_location
from .base import MlflowView
from .errors import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, MlflowError
from .fields import string

__all__ = ["Artifact", "ArtifactList"]


def _run_at(location: ArtifactLocation) -> TrainingRun | LoggedModel:
    """The owner of the files at `location`: a run, or a logged model (both in the named experiment)."""
    if location.model_id:
        found = LoggedModel.objects.select_related("run").filter(
            model_id=location.model_id, experiment_id=location.experiment_id
        )
        owner = found.first()
        if owner is None:
            raise MlflowError(
                RESOURCE_DOES_NOT_EXIST,
                f"Logged model with id={location.model_id} not found in experiment {location.experiment_id}.",
            )
        return owner
    run = TrainingRun.objects.filter(run_id=location.run_id, experiment_id=location.experiment_id).first()
    if run is None:
        raise MlflowError(
            RESOURCE_DOES_NOT_EXIST, f"Run with id={location.run_id} not found in experiment {location.experiment_id}."
        )
    return run


def _owner_name(location: ArtifactLocation) -> str:
    return f"logged model {location.model_id}" if location.model_id else f"run {location.run_id}"


def _content_length(request) -> int | None:
    if request.META.get("HTTP_TRANSFER_ENCODING"):
        raise MlflowError(INVALID_PARAMETER_VALUE, "Send the artifact with a Content-Length, not chunked.")
    raw = request.META.get("CONTENT_LENGTH") or ""
    if not raw:
        return None
    if not raw.isdigit():
        raise MlflowError(INVALID_PARAMETER_VALUE, "The Content-Length header is not a number.")
    return int(raw)


class UnreadBody(BaseParser):
    """Any body, left unread: the upload streams it from the WSGI input itself. Something that asks
    for `request.data` (django-axes, recording a failed sign-in) gets an empty message instead of an
    unsupported media type."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}


class Artifact(MlflowView):
    parser_classes = [UnreadBody]
    required_permissions = {"GET": USE_KEEL, "PUT": LOG_TRAINING, "DELETE": LOG_TRAINING}

    def put(self, request, artifact_path: str):
        location = artifact_location(artifact_path)
        length = _content_length(request)
        run = _run_at(location)
        # The body is read from the WSGI stream in chunks, never as request.body (held in memory).
        services.run_artifact_store(
            owner=run, path=location.path, read=request._request.read, length=length, actor=request.user
        )
        return self.ok()

    def get(self, request, artifact_path: str):
        location = artifact_location(artifact_path)
        artifact = selectors.run_artifact_get(_run_at(location), location.path)
        if artifact is None:
            raise MlflowError(RESOURCE_DOES_NOT_EXIST, f"No artifact at '{location.path}' in {_owner_name(location)}.")
        response = FileResponse(
            services.run_artifact_open(artifact),
            as_attachment=True,
            filename=location.path.rsplit("/", 1)[-1],
            content_type="application/octet-stream",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def delete(self, request, artifact_path: str):
        location = artifact_location(artifact_path, allow_root=True)
        services.run_artifacts_delete(owner=_run_at(location), path=location.path)
        return self.ok()


class ArtifactList(MlflowView):
    required_permissions = {"GET": USE_KEEL}
    spec = {"path": string()}

    def get(self, request):
        raw = self.fields(self.spec).get("path", "")
        if not raw:
            # The whole store: Keel lists artifacts run by run only.
            return self.ok()
        location = artifact_location(raw, allow_root=True)
        entries = selectors.run_artifact_entries(_run_at(location), location.path)
        files = []
        for entry in entries:
            item = {"path": entry["name"], "is_dir": entry["is_dir"]}
            if entry["size"] is not None:
                item["file_size"] = entry["size"]
            files.append(item)
        return self.ok({"files": files} if files else None)
