from django.urls import path

from .. import apis

app_name = "api"

urlpatterns = [
    path("models/", apis.ModelListApi.as_view(), name="model-list"),
    path("models/<slug:name>/", apis.ModelDetailApi.as_view(), name="model-detail"),
    path("models/<slug:name>/versions/", apis.VersionListApi.as_view(), name="version-list"),
    path("models/<slug:name>/versions/<int:version>/", apis.VersionDetailApi.as_view(), name="version-detail"),
    path(
        "models/<slug:name>/versions/<int:version>/artifact", apis.VersionArtifactApi.as_view(), name="version-artifact"
    ),
    path("models/<slug:name>/versions/<int:version>/tags", apis.VersionTagsApi.as_view(), name="version-tags"),
    path("models/<slug:name>/aliases/<slug:alias>", apis.AliasApi.as_view(), name="alias"),
    path("models/<slug:name>/alias-history/", apis.AliasHistoryApi.as_view(), name="alias-history"),
    path("models/<slug:name>/pickles", apis.PicklePolicyApi.as_view(), name="pickle-policy"),
    path("models/<slug:name>/diff/", apis.VersionDiffApi.as_view(), name="version-diff"),
    path("models/<slug:name>/holdouts/", apis.HoldoutListApi.as_view(), name="holdout-list"),
    path("models/<slug:name>/policy", apis.PolicyApi.as_view(), name="policy"),
    path("models/<slug:name>/rollback", apis.RollbackApi.as_view(), name="rollback"),
    path("models/<slug:name>/serving", apis.ServingConfigApi.as_view(), name="serving"),
    path("promotions/", apis.PromotionListApi.as_view(), name="promotion-list"),
    path("promotions/<int:pk>/", apis.PromotionDetailApi.as_view(), name="promotion-detail"),
    path("promotions/<int:pk>/approve", apis.PromotionApproveApi.as_view(), name="promotion-approve"),
    path("promotions/<int:pk>/reject", apis.PromotionRejectApi.as_view(), name="promotion-reject"),
    path("promotions/<int:pk>/cancel", apis.PromotionCancelApi.as_view(), name="promotion-cancel"),
    path("experiments/", apis.ExperimentListApi.as_view(), name="experiment-list"),
    path("runs/", apis.RunListApi.as_view(), name="run-list"),
    path("runs/<str:run_id>/", apis.RunDetailApi.as_view(), name="run-detail"),
    path("runs/<str:run_id>/log", apis.RunLogApi.as_view(), name="run-log"),
    path("runs/<str:run_id>/status", apis.RunStatusApi.as_view(), name="run-status"),
    path("runs/<str:run_id>/metrics/<str:key>", apis.RunMetricHistoryApi.as_view(), name="run-metric-history"),
]
