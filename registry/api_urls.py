from django.urls import path

from . import apis

app_name = "api"

urlpatterns = [
    path("models/", apis.ModelListApi.as_view(), name="model-list"),
    path("models/<slug:name>/", apis.ModelDetailApi.as_view(), name="model-detail"),
    path("models/<slug:name>/versions/", apis.VersionListApi.as_view(), name="version-list"),
    path("models/<slug:name>/versions/<int:version>/", apis.VersionDetailApi.as_view(), name="version-detail"),
    path("models/<slug:name>/versions/<int:version>/artifact", apis.VersionArtifactApi.as_view(),
         name="version-artifact"),
    path("models/<slug:name>/versions/<int:version>/tags", apis.VersionTagsApi.as_view(), name="version-tags"),
    path("models/<slug:name>/aliases/<slug:alias>", apis.AliasApi.as_view(), name="alias"),
    path("models/<slug:name>/alias-history/", apis.AliasHistoryApi.as_view(), name="alias-history"),
    path("models/<slug:name>/diff/", apis.VersionDiffApi.as_view(), name="version-diff"),
    path("experiments/", apis.ExperimentListApi.as_view(), name="experiment-list"),
    path("runs/", apis.RunListApi.as_view(), name="run-list"),
    path("runs/<str:run_id>/", apis.RunDetailApi.as_view(), name="run-detail"),
    path("runs/<str:run_id>/log", apis.RunLogApi.as_view(), name="run-log"),
    path("runs/<str:run_id>/status", apis.RunStatusApi.as_view(), name="run-status"),
    path("runs/<str:run_id>/metrics/<str:key>", apis.RunMetricHistoryApi.as_view(), name="run-metric-history"),
]
