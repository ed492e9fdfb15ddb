from django.urls import path

from oauthapps.api import views

app_name = "api"

urlpatterns = [
    path("openapi.json", views.openapi_document, name="openapi"),
    path("orgs/<uuid:org_id>", views.org_detail, name="org_detail"),
    path("orgs/<uuid:org_id>/members", views.member_list, name="member_list"),
    path("orgs/<uuid:org_id>/services", views.service_list, name="service_list"),
    path(
        "orgs/<uuid:org_id>/services/<slug:service_slug>",
        views.service_detail,
        name="service_detail",
    ),
    path(
        "orgs/<uuid:org_id>/services/<slug:service_slug>/activity",
        views.service_activity_create,
        name="service_activity_create",
    ),
]
