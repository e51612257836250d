"""Relabelling pages, mounted at /relabel/: the campaigns open for labelling and each one's card."""

from django.urls import path

from .. import views

app_name = "relabel"
urlpatterns = [
    path("", views.relabel_list, name="list"),
    path("<int:pk>/label/", views.relabel_label, name="label"),
]
