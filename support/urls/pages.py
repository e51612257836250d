"""Support agents' pages, mounted at /support/. An ID's history is /support/history/?entity_type=…&entity_id=…
(query parameters, so any ID — slashes, dots, question marks — round-trips unchanged).

The "Explain a decision" pages are under /support/explain/ (`support:explain`); the templates link
to them only when that name exists.
"""

from django.urls import path

from .. import views

app_name = "support"
urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("history/", views.history, name="history"),
    path("entries/<int:pk>/lift/", views.entry_lift, name="entry-lift"),
    path("blacklist/", views.blacklist_new, name="blacklist"),
    path("boost/", views.boost_new, name="boost"),
    path("bulk/", views.bulk_new, name="bulk"),
    path("bulk/<int:pk>/", views.bulk_detail, name="bulk-detail"),
    path("bulk/<int:pk>/confirm/", views.bulk_confirm, name="bulk-confirm"),
    path("privacy/", views.privacy_new, name="privacy"),
    path("explain/", views.explain_form, name="explain"),
    path("explain/<int:pk>/", views.explanation_detail, name="explanation"),
    path("explain/<int:pk>/waterfall.png", views.explanation_waterfall, name="explanation-waterfall"),
]
