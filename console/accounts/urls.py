from django.urls import path

from console.accounts import views

app_name = "accounts"

urlpatterns = [
    path(
        "orgs/<uuid:org_id>/invitations/new/",
        views.invitation_create,
        name="invitation_create",
    ),
    path(
        "orgs/<uuid:org_id>/invitations/<int:invitation_id>/resend/",
        views.invitation_resend,
        name="invitation_resend",
    ),
    path(
        "orgs/<uuid:org_id>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("orgs/<uuid:org_id>/mfa-policy/", views.org_mfa_policy, name="org_mfa_policy"),
    path("invitations/<str:key>/", views.invitation_accept, name="invitation_accept"),
]
