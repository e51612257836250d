"""The MLflow-compatible REST API (registry/mlflow/), mounted at /api/: MLflow's own paths, as the
client `mlflow-skinny` calls them (mlflow/protos/service.proto names each path and method)."""

from django.urls import path, register_converter

from ..mlflow import (
    artifacts,
    experiments,
    logged_model_search,
    logged_models,
    model_versions,
    registered_models,
    run_search,
    runs,
    server_info,
)

app_name = "mlflow"

V2 = "2.0/mlflow/"

urlpatterns = [
    path("3.0/mlflow/server-info", server_info.ServerInfo.as_view(), name="server-info"),
    path(V2 + "experiments/create", experiments.ExperimentCreate.as_view(), name="experiment-create"),
    path(V2 + "experiments/get", experiments.ExperimentGet.as_view(), name="experiment-get"),
    path(V2 + "experiments/get-by-name", experiments.ExperimentGetByName.as_view(), name="experiment-get-by-name"),
    path(V2 + "experiments/search", experiments.ExperimentSearch.as_view(), name="experiment-search"),
]

urlpatterns += [
    path(V2 + "runs/create", runs.RunCreate.as_view(), name="run-create"),
    path(V2 + "runs/get", runs.RunGet.as_view(), name="run-get"),
    path(V2 + "runs/update", runs.RunUpdate.as_view(), name="run-update"),
    path(V2 + "runs/delete", runs.RunDelete.as_view(), name="run-delete"),
    path(V2 + "runs/restore", runs.RunRestore.as_view(), name="run-restore"),
    path(V2 + "runs/log-batch", runs.RunLogBatch.as_view(), name="run-log-batch"),
    path(V2 + "runs/log-metric", runs.RunLogMetric.as_view(), name="run-log-metric"),
    path(V2 + "runs/log-parameter", runs.RunLogParam.as_view(), name="run-log-parameter"),
    path(V2 + "runs/set-tag", runs.RunSetTag.as_view(), name="run-set-tag"),
    path(V2 + "runs/delete-tag", runs.RunDeleteTag.as_view(), name="run-delete-tag"),
    path(V2 + "runs/search", run_search.RunSearch.as_view(), name="run-search"),
    path(V2 + "metrics/get-history", runs.MetricHistory.as_view(), name="metric-history"),
]

RM, MV = V2 + "registered-models/", V2 + "model-versions/"
urlpatterns += [
    path(RM + "create", registered_models.RegisteredModelCreate.as_view(), name="registered-model-create"),
    path(RM + "get", registered_models.RegisteredModelGet.as_view(), name="registered-model-get"),
    path(RM + "search", registered_models.RegisteredModelSearch.as_view(), name="registered-model-search"),
    path(RM + "update", registered_models.RegisteredModelUpdate.as_view(), name="registered-model-update"),
    path(RM + "rename", registered_models.RegisteredModelRename.as_view(), name="registered-model-rename"),
    path(RM + "delete", registered_models.RegisteredModelDelete.as_view(), name="registered-model-delete"),
    path(RM + "set-tag", registered_models.RegisteredModelSetTag.as_view(), name="registered-model-set-tag"),
    path(RM + "delete-tag", registered_models.RegisteredModelDeleteTag.as_view(), name="registered-model-delete-tag"),
    path(RM + "alias", model_versions.RegisteredModelAlias.as_view(), name="registered-model-alias"),
    path(RM + "get-latest-versions", model_versions.LatestVersions.as_view(), name="latest-versions"),
    path(MV + "create", model_versions.ModelVersionCreate.as_view(), name="model-version-create"),
    path(MV + "get", model_versions.ModelVersionGet.as_view(), name="model-version-get"),
    path(MV + "search", model_versions.ModelVersionSearch.as_view(), name="model-version-search"),
    path(MV + "update", model_versions.ModelVersionUpdate.as_view(), name="model-version-update"),
    path(MV + "delete", model_versions.ModelVersionDelete.as_view(), name="model-version-delete"),
    path(MV + "get-download-uri", model_versions.ModelVersionDownloadUri.as_view(), name="model-version-download-uri"),
    path(MV + "set-tag", model_versions.ModelVersionSetTag.as_view(), name="model-version-set-tag"),
    path(MV + "delete-tag", model_versions.ModelVersionDeleteTag.as_view(), name="model-version-delete-tag"),
    path(
        MV + "transition-stage",
        model_versions.ModelVersionTransitionStage.as_view(),
        name="model-version-transition-stage",
    ),
]

# MLflow 3 logged models (what log_model creates), and a run's outputs naming them.
LM = V2 + "logged-models"
urlpatterns += [
    path(LM, logged_models.LoggedModelCreate.as_view(), name="logged-model-create"),
    path(LM + "/search", logged_model_search.LoggedModelSearch.as_view(), name="logged-model-search"),
    path(LM + "/<str:model_id>", logged_models.LoggedModelDetail.as_view(), name="logged-model"),
    path(LM + "/<str:model_id>/params", logged_models.LoggedModelParams.as_view(), name="logged-model-params"),
    path(LM + "/<str:model_id>/tags", logged_models.LoggedModelTags.as_view(), name="logged-model-tags"),
    path(
        LM + "/<str:model_id>/tags/<str:tag_key>",
        logged_models.LoggedModelTagDelete.as_view(),
        name="logged-model-tag-delete",
    ),
    path(V2 + "runs/outputs", logged_models.RunLogOutputs.as_view(), name="run-log-outputs"),
    path(V2 + "runs/log-inputs", logged_models.RunLogInputs.as_view(), name="run-log-inputs"),
]


class AnyText:
    """Everything after the prefix, line breaks included (`path` stops at one): the artifact path
    rule, not the router, refuses what is wrong in it, in MLflow's error shape."""

    regex = r"[\s\S]+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(AnyText, "anytext")

# The artifact proxy (mlflow_artifacts.proto): a run's files, stored in Keel's artifact storage.
ARTIFACTS = "2.0/mlflow-artifacts/artifacts"
urlpatterns += [
    path(ARTIFACTS, artifacts.ArtifactList.as_view(), name="artifact-list"),
    path(ARTIFACTS + "/<anytext:artifact_path>", artifacts.Artifact.as_view(), name="artifact"),
]
