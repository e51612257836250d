"""Relabelling pages, mounted at /relabel/: labellers' queue and leads' pages."""

from django.urls import path

from .. import views

app_name = "relabel"
urlpatterns = [
    path("<int:pk>/adjudicate/", views.lead_adjudicate, name="lead-adjudicate"),
    path("<int:pk>/gold/", views.lead_gold, name="lead-gold"),
    path("<int:pk>/team/", views.lead_team, name="lead-team"),
]
