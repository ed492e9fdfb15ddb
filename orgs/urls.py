from django.urls import path

from orgs import views

app_name = "orgs"

urlpatterns = [
    path("orgs/new/", views.org_create, name="org_create"),
    path("orgs/switch/", views.org_switch, name="org_switch"),
    path("orgs/<uuid:org_id>/", views.org_overview, name="org_overview"),
    path(
        "orgs/<uuid:org_id>/secret-policy/",
        views.org_secret_policy,
        name="org_secret_policy",
    ),
    path("orgs/<uuid:org_id>/members/", views.member_list, name="member_list"),
    path(
        "orgs/<uuid:org_id>/members/<int:membership_id>/change/",
        views.member_change,
        name="member_change",
    ),
    path(
        "orgs/<uuid:org_id>/members/<int:membership_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("orgs/<uuid:org_id>/services/", views.service_list, name="service_list"),
    path(
        "orgs/<uuid:org_id>/services/<slug:slug>/add/",
        views.service_add,
        name="service_add",
    ),
    path(
        "orgs/<uuid:org_id>/services/<slug:slug>/remove/",
        views.service_remove,
        name="service_remove",
    ),
    path("notifications/", views.notification_list, name="notification_list"),
    path(
        "notifications/<int:notification_id>/read/",
        views.notification_read,
        name="notification_read",
    ),
    path(
        "notifications/read-all/",
        views.notifications_read_all,
        name="notifications_read_all",
    ),
]
