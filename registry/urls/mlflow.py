"""The MLflow-compatible REST API (registry/mlflow/), mounted at /api/: MLflow's own paths, as the
client `mlflow-skinny` calls them (mlflow/protos/service.proto names each path and method)."""

from django.urls import path

from ..mlflow import experiments, server_info

app_name = "mlflow"

V2 = "2.0/mlflow/"

urlpatterns = [
    path("3.0/mlflow/server-info", server_info.ServerInfo.as_view(), name="server-info"),
    path(V2 + "experiments/create", experiments.ExperimentCreate.as_view(), name="experiment-create"),
    path(V2 + "experiments/get", experiments.ExperimentGet.as_view(), name="experiment-get"),
    path(V2 + "experiments/get-by-name", experiments.ExperimentGetByName.as_view(), name="experiment-get-by-name"),
    path(V2 + "experiments/search", experiments.ExperimentSearch.as_view(), name="experiment-search"),
]
