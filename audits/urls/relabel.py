"""Relabelling pages, mounted at /relabel/: a campaign's results for leads."""

from django.urls import path

from .. import views

app_name = "relabel"
urlpatterns = [
    path("<int:pk>/", views.relabel_campaign, name="campaign"),
    path("<int:pk>/trend.png", views.relabel_campaign_trend, name="campaign-trend"),
]
