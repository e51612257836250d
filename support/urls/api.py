"""REST API v1 routes of support, mounted under /api/v1/ in the `support-api` namespace."""

from django.urls import path

from .. import apis

app_name = "support-api"

urlpatterns = [
    path("support/lists", apis.ServingListsApi.as_view(), name="lists"),
    path("support/surfaces", apis.SurfaceListApi.as_view(), name="surface-list"),
    path("support/entries", apis.EntryListApi.as_view(), name="entry-list"),
    path("support/entries/<int:pk>", apis.EntryDetailApi.as_view(), name="entry-detail"),
    path("support/entries/<int:pk>/lift", apis.LiftApi.as_view(), name="entry-lift"),
    path("support/blacklist", apis.BlacklistApi.as_view(), name="blacklist"),
    path("support/boosts", apis.BoostApi.as_view(), name="boost"),
    path("support/entities", apis.EntitySearchApi.as_view(), name="entity-search"),
    path("support/history", apis.HistoryApi.as_view(), name="history"),
    path("support/bulk", apis.BulkListApi.as_view(), name="bulk-list"),
    path("support/bulk/<int:pk>", apis.BulkDetailApi.as_view(), name="bulk-detail"),
    path("support/bulk/<int:pk>/confirm", apis.BulkConfirmApi.as_view(), name="bulk-confirm"),
    path("support/privacy-requests", apis.PrivacyRequestListApi.as_view(), name="privacy-list"),
    path("support/privacy-requests/<int:pk>", apis.PrivacyRequestDetailApi.as_view(), name="privacy-detail"),
    path("support/explanations", apis.ExplanationListApi.as_view(), name="explanation-list"),
    path("support/explanations/<int:pk>", apis.ExplanationDetailApi.as_view(), name="explanation-detail"),
    path(
        "support/explanations/<int:pk>/waterfall.png",
        apis.ExplanationWaterfallApi.as_view(),
        name="explanation-waterfall",
    ),
    path(
        "models/<slug:name>/versions/<int:version>/explainer-background",
        apis.ExplainerBackgroundApi.as_view(),
        name="explainer-background",
    ),
]
