"""Pages of promotion requests, mounted at /promotions/ (their own namespace, so the nav can tell
the promotion pages from the model pages)."""

from django.urls import path

from .. import views

app_name = "promotions"
urlpatterns = [
    path("", views.promotion_queue, name="queue"),
    path("<int:pk>/", views.promotion_detail, name="detail"),
    path("<int:pk>/approve/", views.promotion_approve, name="approve"),
    path("<int:pk>/reject/", views.promotion_reject, name="reject"),
    path("<int:pk>/cancel/", views.promotion_cancel, name="cancel"),
    path("<int:pk>/plots/<slug:plot>.png", views.promotion_plot, name="plot"),
]
