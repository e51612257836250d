"""The audits API, mounted at /api/v1/ under the namespace "audits-api"."""

from django.urls import path

from .. import apis

app_name = "audits-api"

urlpatterns = [
    path("audits/", apis.AuditListApi.as_view(), name="audit-list"),
    path("audits/<int:pk>/", apis.AuditDetailApi.as_view(), name="audit-detail"),
    path("audits/<int:pk>/report.json", apis.AuditReportApi.as_view(), name="audit-report"),
    path("alerts/", apis.AlertListApi.as_view(), name="alert-list"),
    path("alerts/<int:pk>/resolve", apis.AlertResolveApi.as_view(), name="alert-resolve"),
    path("models/<slug:name>/versions/<int:version>/reference", apis.ReferenceApi.as_view(), name="reference"),
    path("models/<slug:name>/audit-suite", apis.SuiteApi.as_view(), name="suite"),
    path("predictions/", apis.PredictionListApi.as_view(), name="prediction-list"),
    path("models/<slug:name>/serving-audits", apis.ServingAuditApi.as_view(), name="serving-audit"),
    path("models/<slug:name>/audit-schedules", apis.ScheduleListApi.as_view(), name="schedule-list"),
    path(
        "models/<slug:name>/audit-schedules/<slug:schedule_name>",
        apis.ScheduleDetailApi.as_view(),
        name="schedule-detail",
    ),
    path("relabel/campaigns/", apis.CampaignListApi.as_view(), name="relabel-campaign-list"),
    path("relabel/campaigns/<int:pk>", apis.CampaignDetailApi.as_view(), name="relabel-campaign-detail"),
    path("relabel/campaigns/<int:pk>/next", apis.CampaignNextApi.as_view(), name="relabel-campaign-next"),
    path("relabel/items/<int:pk>/answer", apis.ItemAnswerApi.as_view(), name="relabel-item-answer"),
    path("relabel/campaigns/<int:pk>/disputes", apis.CampaignDisputesApi.as_view(), name="relabel-campaign-disputes"),
    path("relabel/campaigns/<int:pk>/gold", apis.CampaignGoldApi.as_view(), name="relabel-campaign-gold"),
    path(
        "relabel/campaigns/<int:pk>/agreement", apis.CampaignAgreementApi.as_view(), name="relabel-campaign-agreement"
    ),
    path(
        "relabel/campaigns/<int:pk>/labellers", apis.CampaignLabellersApi.as_view(), name="relabel-campaign-labellers"
    ),
    path("relabel/items/<int:pk>/adjudicate", apis.ItemAdjudicateApi.as_view(), name="relabel-item-adjudicate"),
    path("relabel/campaigns/<int:pk>/estimate", apis.CampaignEstimateApi.as_view(), name="relabel-campaign-estimate"),
    path("relabel/campaigns/<int:pk>/close", apis.CampaignCloseApi.as_view(), name="relabel-campaign-close"),
    path("relabel/campaigns/<int:pk>/labels", apis.CampaignLabelsApi.as_view(), name="relabel-campaign-labels"),
    path("relabel/schedules/", apis.RelabelScheduleListApi.as_view(), name="relabel-schedule-list"),
    path("relabel/schedules/<int:pk>", apis.RelabelScheduleDetailApi.as_view(), name="relabel-schedule-detail"),
]
