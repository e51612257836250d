"""Relabelling pages, mounted at /relabel/: the labellers' list and card, the leads' pages and a
campaign's results."""

from django.urls import path

from .. import views

app_name = "relabel"
urlpatterns = [
    path("", views.relabel_list, name="list"),
    path("<int:pk>/label/", views.relabel_label, name="label"),
    path("<int:pk>/adjudicate/", views.lead_adjudicate, name="lead-adjudicate"),
    path("<int:pk>/gold/", views.lead_gold, name="lead-gold"),
    path("<int:pk>/team/", views.lead_team, name="lead-team"),
    path("<int:pk>/", views.relabel_campaign, name="campaign"),
    path("<int:pk>/close/", views.relabel_campaign_close, name="campaign-close"),
    path("<int:pk>/trend.png", views.relabel_campaign_trend, name="campaign-trend"),
]
