"""Data audit pages, mounted at /audits/. A model's audits are the list filtered by it
(/audits/?model=<name>); its suite lives at /audits/suites/<name>/."""

from django.urls import path

from .. import views

app_name = "audits"
urlpatterns = [
    path("", views.audit_list, name="list"),
    path("new/", views.audit_new, name="new"),
    path("<int:pk>/", views.audit_detail, name="detail"),
    path("<int:pk>/plots/nulls.png", views.audit_plot_nulls, name="plot-nulls"),
    path("<int:pk>/plots/column/<str:column>.png", views.audit_plot_column, name="plot-column"),
    path("alerts/<int:pk>/resolve/", views.alert_resolve, name="alert-resolve"),
    path("suites/<slug:name>/", views.suite_detail, name="suite"),
    path("schedules/<slug:name>/", views.schedule_list, name="schedules"),
    path("schedules/<slug:name>/<slug:schedule_name>/", views.schedule_detail, name="schedule"),
]
