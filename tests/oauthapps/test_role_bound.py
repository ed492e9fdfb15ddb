"""Nobody gains more through an app than their own role (DESIGN.md §2), as people meet it: the
refusals say who can, the wizard shows which organization roles are above yours, and a widening
edit above your role waits for an Owner (who is notified) while a narrowing applies at once.
(tests/test_permission_matrix.py has the whole table; tests/property/test_role_bound_apps.py
the sequences.)"""

import re

import pytest
from django.urls import reverse

from oauthapps.models import AppGrant, OAuthApp
from oauthapps.services import secret_fingerprint
from orgs.models import AuditEvent, Notification
from tests.oauthapps.effects import token

OWNER_ONLY = (
    "Only an Owner of Acme Corp can regenerate or rotate the secret of Deploy Bot, which "
    "holds or would hold the Owner role (org:owner). Your role in Acme Corp is Administrator."
)


def url(name: str, org, app) -> str:
    return reverse(f"oauthapps:{name}", args=[org.pk, app.pk])


def edit(client, org, app, scopes: list[str]):
    return client.post(
        url("app_edit", org, app),
        {
            "register-name": app.name,
            "register-description": "",
            "ttl-access_token_ttl_minutes": "30",
            "scopes-scopes": scopes,
        },
        follow=True,
    )


@pytest.fixture
def owner_tier(org, make_app, contains):
    contains(org, "compute")
    return make_app(
        org, name="Deploy Bot", scopes=["org:owner", "svc:compute:viewer"], add_to=[org]
    )


def test_an_administrator_is_told_who_may_replace_an_owner_tier_apps_secret(
    client_as, org, administrator, owner_tier
):
    client = client_as(administrator)
    page = client.get(url("app_detail", org, owner_tier.app)).content.decode()
    assert OWNER_ONLY in page
    assert url("app_regenerate_secret", org, owner_tier.app) not in page
    assert url("app_rotate_secret", org, owner_tier.app) not in page
    assert "Edit" in page  # editing stays theirs: what widens waits for an Owner

    for name in ("app_regenerate_secret", "app_rotate_secret"):
        refused = client.post(
            url(name, org, owner_tier.app),
            {"fingerprint": secret_fingerprint(owner_tier.app), "overlap_hours": "1"},
        )
        assert refused.status_code == 403
        assert OWNER_ONLY in refused.content.decode()
    assert OAuthApp.objects.get().client_secret == owner_tier.app.client_secret
    assert not AuditEvent.objects.filter(action__contains="secret").exists()


def test_the_wizard_shows_the_roles_above_yours_and_refuses_them(
    client_as, org, developer
):
    client = client_as(developer)
    data = {
        "step": "ttl",
        "nav": "next",
        "type-app_type": "server_to_server",
        "register-name": "Escalator",
        "ttl-access_token_ttl_minutes": "30",
    }
    create = reverse("oauthapps:app_create", args=[org.pk])
    html = client.post(create, data).content.decode()
    for scope in ("org:owner", "org:admin"):
        assert re.search(rf'value="{scope}" disabled>', html)
    assert 'value="org:member" data-select-member>' in html
    note = (
        "Your role in Acme Corp is Member, so an app you create cannot have the Owner role "
        "(org:owner) or the Administrator role (org:admin): nobody gains more through an app "
        "than their own role. Only an Owner of Acme Corp can give org:owner; Owners and "
        "Administrators of Acme Corp can give org:admin."
    )
    assert note in html

    # A forged Create with org:admin lands on the scopes step, saying who can.
    forged = {**data, "step": "review", "scopes-scopes": ["org:admin"]}
    response = client.post(create, forged)
    assert 'name="step" value="scopes"' in response.content.decode()
    assert response.context["wizard"].form.errors["scopes"] == [
        "Only Owners and Administrators of Acme Corp can give an app the Administrator "
        "role (org:admin). Your role in Acme Corp is Member."
    ]
    # "Select all roles" of the organization roles selects only what they may give.
    everything = {**data, "step": "scopes", "scopes-select_all": ["org"]}
    response = client.post(create, everything)
    assert response.context["wizard"].step.slug == "review"
    assert not OAuthApp.objects.exists()


def test_a_widening_above_the_editors_role_waits_for_an_owner(
    client_as, org, owner, administrator, make_app, contains, api_client
):
    """Issue 13's escalation: an Administrator who holds an app's secret adds org:owner."""
    contains(org, "compute")
    creds = make_app(
        org,
        name="Deploy Bot",
        scopes=["org:member"],
        add_to=[org],
        created_by=administrator,
    )
    response = edit(
        client_as(administrator), org, creds.app, ["org:member", "org:owner"]
    )
    assert (
        "Deploy Bot was saved. Its added scopes (org:owner) wait for an Owner of Acme Corp "
        "to re-grant them" in response.content.decode()
    )
    assert AppGrant.objects.get(app=creds.app).scopes == ["org:member"]
    assert token(api_client, creds.client_id, creds.client_secret)["scope"] == (
        "org:member"
    )
    # The Owners are told, and the audit log says what waits.
    notice = Notification.objects.get(user=owner, title__contains="asks for")
    assert notice.title == "Deploy Bot asks for wider scopes in Acme Corp"
    assert "administrator@example.com added org:owner" in notice.body
    assert AuditEvent.objects.get(action="app.edit").data["awaiting_owner"] == [
        "org:owner"
    ]
    # ... and now the app would hold org:owner: its secret is the Owners' to replace.
    assert (
        client_as(administrator)
        .post(url("app_regenerate_secret", org, creds.app))
        .status_code
        == 403
    )

    # An Owner approves on the app's page.
    page = client_as(owner).get(url("app_detail", org, creds.app)).content.decode()
    assert "Re-grant in Acme Corp" in page
    client_as(owner).post(url("app_regrant", org, creds.app))
    assert token(api_client, creds.client_id, creds.client_secret)["scope"] == (
        "org:owner org:member"
    )


def test_a_narrowing_applies_at_once_whoever_edits(
    client_as, org, administrator, owner_tier, api_client
):
    client = client_as(administrator)
    response = edit(client, org, owner_tier.app, ["svc:compute:viewer"])
    assert "Deploy Bot was saved. New tokens follow the change." in (
        response.content.decode()
    )
    assert AppGrant.objects.get().scopes == ["svc:compute:viewer"]
    assert token(api_client, owner_tier.client_id, owner_tier.client_secret)[
        "scope"
    ] == ("svc:compute:viewer")
    assert not Notification.objects.filter(title__contains="asks for").exists()
    # It holds no organization role any more: its secret is theirs to replace now.
    response = client.post(
        url("app_regenerate_secret", org, owner_tier.app),
        {"fingerprint": secret_fingerprint(OAuthApp.objects.get())},
    )
    assert response.status_code == 200


def test_an_app_not_added_to_its_org_cannot_be_widened_past_your_role(
    client_as, org, administrator, make_app
):
    creds = make_app(org, name="Deploy Bot", scopes=["org:member"])
    response = edit(client_as(administrator), org, creds.app, ["org:owner"])
    assert response.status_code == 200
    assert response.context["forms"].scopes.errors["scopes"] == [
        "Only an Owner of Acme Corp can widen the scopes of an app that holds or would hold "
        "the Owner role (org:owner). Your role in Acme Corp is Administrator. Deploy Bot is "
        "not added to Acme Corp, so the new scopes cannot wait there for an Owner to "
        "re-grant them."
    ]
    assert OAuthApp.objects.get().scopes == ["org:member"]


def test_owners_always_may(client_as, org, owner, owner_tier, api_client):
    response = edit(
        client_as(owner), org, owner_tier.app, ["org:owner", "svc:compute:admin"]
    )
    assert "New tokens follow the change." in response.content.decode()
    assert AppGrant.objects.get().scopes == ["org:owner", "svc:compute:admin"]
    response = client_as(owner).post(
        url("app_regenerate_secret", org, owner_tier.app),
        {"fingerprint": secret_fingerprint(owner_tier.app)},
    )
    assert response.status_code == 200
    assert 'id="credentials-client-secret"' in response.content.decode()
