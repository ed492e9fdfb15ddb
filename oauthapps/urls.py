from django.urls import path

from oauthapps import views

app_name = "oauthapps"

APP = "orgs/<uuid:org_id>/oauth-apps/<int:app_id>/"

urlpatterns = [
    path("orgs/<uuid:org_id>/oauth-apps/", views.app_list, name="app_list"),
    path("orgs/<uuid:org_id>/oauth-apps/new/", views.app_create, name="app_create"),
    path(
        "orgs/<uuid:org_id>/oauth-apps/add-by-client-id/",
        views.app_add_by_client_id,
        name="app_add_by_client_id",
    ),
    path(APP, views.app_detail, name="app_detail"),
    path(APP + "edit/", views.app_edit, name="app_edit"),
    path(APP + "delete/", views.app_delete, name="app_delete"),
    path(
        APP + "regenerate-secret/",
        views.app_regenerate_secret,
        name="app_regenerate_secret",
    ),
    path(APP + "rotate-secret/", views.app_rotate_secret, name="app_rotate_secret"),
    path(
        APP + "end-secret-overlap/",
        views.app_end_secret_overlap,
        name="app_end_secret_overlap",
    ),
    path(APP + "public-keys/add/", views.app_add_public_key, name="app_add_public_key"),
    path(
        APP + "public-keys/remove/",
        views.app_remove_public_key,
        name="app_remove_public_key",
    ),
    path(APP + "jwks-url/", views.app_change_jwks_uri, name="app_change_jwks_uri"),
    path(APP + "add-to-organization/", views.app_add_to_org, name="app_add_to_org"),
    path(APP + "add-to-organizations/", views.app_add_to_orgs, name="app_add_to_orgs"),
    path(
        APP + "remove-from-organization/",
        views.app_remove_from_org,
        name="app_remove_from_org",
    ),
    path(APP + "regrant/", views.app_regrant, name="app_regrant"),
    path("orgs/<uuid:org_id>/audit-log/", views.audit_log, name="audit_log"),
    path(
        "orgs/<uuid:org_id>/audit-log/export.csv",
        views.audit_log_export,
        name="audit_log_export",
    ),
]
