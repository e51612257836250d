from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="registry:model-list", permanent=False), name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("health/", views.health, name="health"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("registry.urls.api", namespace="api")),
    path("api/v1/", include("audits.urls.api", namespace="audits-api")),
    path("api/v1/", include("support.urls.api", namespace="support-api")),
    # MLflow's REST paths (/api/2.0/mlflow/…, /api/3.0/mlflow/server-info) for the mlflow client.
    path("api/", include("registry.urls.mlflow", namespace="mlflow")),
    path("models/", include("registry.urls.pages")),
    path("promotions/", include("registry.urls.promotion")),
    path("audits/", include("audits.urls.pages")),
    path("relabel/", include("audits.urls.relabel")),
    path("support/", include("support.urls.pages")),
    # Last: any other MLflow path answers MLflow's ENDPOINT_NOT_FOUND instead of Keel's 404.
    path("api/", include("registry.urls.mlflow_unknown", namespace="mlflow-unknown")),
]

handler404 = views.not_found
handler500 = views.server_error
