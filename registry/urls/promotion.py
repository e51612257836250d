"""Pages of promotion requests, mounted at /promotions/ (their own namespace, so the nav can tell
the promotion pages from the model pages)."""

from django.urls import path

from . import promotion_views

app_name = "promotions"
urlpatterns = [
    path("", promotion_views.promotion_queue, name="queue"),
    path("<int:pk>/", promotion_views.promotion_detail, name="detail"),
    path("<int:pk>/approve/", promotion_views.promotion_approve, name="approve"),
    path("<int:pk>/reject/", promotion_views.promotion_reject, name="reject"),
    path("<int:pk>/cancel/", promotion_views.promotion_cancel, name="cancel"),
    path("<int:pk>/plots/<slug:plot>.png", promotion_views.promotion_plot, name="plot"),
]
