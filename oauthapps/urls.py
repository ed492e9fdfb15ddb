from django.urls import path

from oauthapps import views

app_name = "oauthapps"

urlpatterns = [
    path("orgs/<uuid:org_id>/oauth-apps/", views.app_list, name="app_list"),
    path("orgs/<uuid:org_id>/oauth-apps/new/", views.app_create, name="app_create"),
    path(
        "orgs/<uuid:org_id>/oauth-apps/<int:app_id>/",
        views.app_detail,
        name="app_detail",
    ),
    path(
        "orgs/<uuid:org_id>/oauth-apps/<int:app_id>/add-to-organization/",
        views.app_add_to_org,
        name="app_add_to_org",
    ),
]
