"""Every other path under MLflow's prefixes: ENDPOINT_NOT_FOUND (registry/mlflow/not_found.py).
Mounted after everything else in mlops/urls.py, so no route of registry/urls/mlflow.py is shadowed."""

from django.urls import re_path

from ..mlflow import not_found

app_name = "mlflow-unknown"

urlpatterns = [
    re_path(r"^[23]\.0/mlflow/", not_found.EndpointNotFound.as_view(), name="endpoint-not-found"),
]
