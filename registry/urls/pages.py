from django.urls import path

from .. import views

app_name = "registry"
urlpatterns = [
    path("", views.model_list, name="model-list"),
    path("<slug:name>/", views.model_detail, name="model-detail"),
    path("<slug:name>/diff/", views.version_diff, name="version-diff"),
    path("<slug:name>/versions/<int:number>/", views.version_detail, name="version-detail"),
    # Promotion governance on a model (the requests themselves live under /promotions/).
    path("<slug:name>/promotions/new/", views.promotion_new, name="promotion-new"),
    path("<slug:name>/rollback/", views.model_rollback, name="model-rollback"),
    path("<slug:name>/pickles/", views.model_pickle_policy, name="model-pickle-policy"),
    path("<slug:name>/policy/", views.model_policy, name="model-policy"),
]
