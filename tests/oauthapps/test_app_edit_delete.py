"""Edit (the wizard's fields and bounds; new tokens follow; other orgs keep their grant until an
Owner re-grants) and Delete (type the name; every token revoked; gone from every org)."""

import json

import pytest
from django.urls import reverse

from oauthapps.models import AppGrant, OAuthApp
from oauthapps.tokens.models import IssuedToken
from orgs.models import AuditEvent, Membership, Notification
from tests.factories import MembershipFactory, OrganizationFactory
from tests.oauthapps.effects import api_status, is_active, token, token_response


def url(name: str, org, app) -> str:
    return reverse(f"oauthapps:{name}", args=[org.pk, app.pk])


@pytest.fixture
def partner(db):
    partner = OrganizationFactory(name="Partner Corp")
    for email in ("p1@example.com", "p2@example.com"):
        MembershipFactory(
            organization=partner, role=Membership.Role.OWNER, user__email=email
        )
    return partner


@pytest.fixture
def creds(org, make_app, contains, partner):
    contains(org, "compute")
    contains(partner, "compute")
    return make_app(
        org,
        name="Billing Sync",
        scopes=["org:member", "svc:compute:viewer"],
        ttl=30,
        add_to=[org, partner],
    )


def edit_data(**overrides) -> dict:
    data = {
        "register-name": "Billing Sync",
        "register-description": "Nightly export.",
        "ttl-access_token_ttl_minutes": "30",
        "scopes-scopes": ["org:member", "svc:compute:viewer"],
    }
    return {**data, **overrides}


# --- Edit -----------------------------------------------------------------------------------------


def test_the_edit_page_is_prefilled_and_says_new_tokens_follow(
    client_as, org, owner, creds
):
    response = client_as(owner).get(url("app_edit", org, creds.app))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="Billing Sync"' in html
    assert 'name="ttl-access_token_ttl_minutes" value="30"' in html
    assert 'value="svc:compute:viewer" data-select-member checked' in html
    assert "New tokens follow the change." in html
    assert "In the 1 other organization the app was added to (Partner Corp)" in html


def test_edit_saves_and_new_tokens_follow(client_as, org, owner, creds, api_client):
    before = token(api_client, creds.client_id, creds.client_secret, org)
    response = client_as(owner).post(
        url("app_edit", org, creds.app),
        edit_data(
            **{
                "ttl-access_token_ttl_minutes": "5",
                "scopes-scopes": ["org:admin", "svc:compute:operator"],
            }
        ),
        follow=True,
    )
    assert (
        "Billing Sync was saved. New tokens follow the change."
        in response.content.decode()
    )
    after = token(api_client, creds.client_id, creds.client_secret, org)
    assert after["expires_in"] == 300
    assert after["scope"] == "org:admin svc:compute:operator"
    # A token issued before keeps what it had until it expires.
    assert api_status(api_client, before["access_token"], org) == 200
    assert before["scope"] == "org:member svc:compute:viewer"
    # The owning org's grant followed.
    grant = AppGrant.objects.get(app=creds.app, organization=org)
    assert grant.scopes == ["org:admin", "svc:compute:operator"]
    event = AuditEvent.objects.get(action="app.edit")
    assert event.data["changes"]["access_token_ttl_minutes"] == {"from": 30, "to": 5}
    assert set(event.data["changes"]) == {
        "access_token_ttl_minutes",
        "scopes",
        "description",
    }


WIDER = ["org:admin", "org:member", "svc:compute:operator", "svc:compute:viewer"]


def test_other_orgs_keep_their_grant_until_an_owner_re_grants(
    client_as, org, owner, creds, partner, api_client
):
    client_as(owner).post(
        url("app_edit", org, creds.app), edit_data(**{"scopes-scopes": WIDER})
    )
    grant = AppGrant.objects.get(app=creds.app, organization=partner)
    assert grant.scopes == ["org:member", "svc:compute:viewer"]
    # Until then, tokens for the partner carry the old grant; the new scopes are refused.
    assert token(api_client, creds.client_id, creds.client_secret, partner)[
        "scope"
    ] == ("org:member svc:compute:viewer")
    refused = token_response(
        api_client, creds.client_id, creds.client_secret, partner, scope="org:admin"
    )
    assert json.loads(refused.content)["error"] == "invalid_scope"
    # Every Owner of the partner is told, with a link to the app's page there.
    notified = Notification.objects.filter(
        organization=partner, title__contains="asks for changed scopes"
    )
    assert sorted(n.user.email for n in notified) == [
        "p1@example.com",
        "p2@example.com",
    ]
    assert notified[0].link == url("app_detail", partner, creds.app)

    partner_owner = partner.memberships.first().user
    response = client_as(partner_owner).post(
        url("app_regrant", partner, creds.app), follow=True
    )
    assert "now has its current scopes in Partner Corp" in response.content.decode()
    assert token(api_client, creds.client_id, creds.client_secret, partner)[
        "scope"
    ] == " ".join(WIDER)
    event = AuditEvent.objects.get(action="app.regrant")
    assert event.organization == partner and event.data["to"] == WIDER
    again = client_as(partner_owner).post(
        url("app_regrant", partner, creds.app), follow=True
    )
    assert "already granted" in again.content.decode()


def test_narrowing_applies_at_once_in_every_org(
    client_as, org, owner, creds, partner, api_client
):
    """DESIGN.md §1 Grant: what the app no longer asks for is gone from every org's grant at
    once, with no re-grant; only what it adds waits for the Owners of the other orgs."""
    client_as(owner).post(
        url("app_edit", org, creds.app),
        edit_data(**{"scopes-scopes": ["org:member", "svc:compute:operator"]}),
    )
    assert AppGrant.objects.get(app=creds.app, organization=org).scopes == [
        "org:member",
        "svc:compute:operator",
    ]
    assert AppGrant.objects.get(app=creds.app, organization=partner).scopes == [
        "org:member"
    ]
    assert (
        token(api_client, creds.client_id, creds.client_secret, partner)["scope"]
        == "org:member"
    )
    refused = token_response(
        api_client,
        creds.client_id,
        creds.client_secret,
        partner,
        scope="svc:compute:viewer",
    )
    assert json.loads(refused.content)["error"] == "invalid_scope"
    # The partner's Owners hear about the added scope, which waits for them.
    assert Notification.objects.filter(
        organization=partner, title__contains="asks for changed scopes"
    ).exists()


@pytest.mark.parametrize(
    ("ttl", "message"),
    [
        ("0", "The minimum is 1 minute."),
        ("301", "The maximum is 300 minutes (5 hours)."),
        ("-5", "The minimum is 1 minute."),
        ("abc", "Enter the TTL as a number of minutes, for example 30."),
        ("1.5", "Enter a whole number of minutes, without decimals (for example 30)."),
        ("1000000000", "The maximum is 300 minutes (5 hours)."),
        ("", "Enter the Access Token TTL in minutes, from 1 to 300."),
    ],
)
def test_edit_has_the_wizards_ttl_bounds(client_as, org, owner, creds, ttl, message):
    response = client_as(owner).post(
        url("app_edit", org, creds.app),
        edit_data(**{"ttl-access_token_ttl_minutes": ttl}),
    )
    assert response.status_code == 200
    errors = response.context["forms"].ttl.errors["access_token_ttl_minutes"]
    assert any(message in error for error in errors), errors
    assert OAuthApp.objects.get().access_token_ttl_minutes == 30


def test_edit_needs_a_name_unique_in_the_org_but_may_keep_its_own(
    client_as, org, owner, creds, make_app
):
    make_app(org, name="Deploy Bot", scopes=["org:member"])
    client = client_as(owner)
    response = client.post(
        url("app_edit", org, creds.app), edit_data(**{"register-name": " deploy BOT "})
    )
    assert response.context["forms"].register.errors["name"] == [
        "An app named “deploy BOT” already exists in Acme Corp. Choose another name."
    ]
    response = client.post(
        url("app_edit", org, creds.app), edit_data(**{"register-name": ""})
    )
    assert response.context["forms"].register.errors["name"] == [
        "Enter a name for the app."
    ]
    response = client.post(
        url("app_edit", org, creds.app), edit_data(**{"register-name": "x" * 101})
    )
    assert (
        "at most 100 characters" in response.context["forms"].register.errors["name"][0]
    )
    # Its own name, in another case, is fine.
    response = client.post(
        url("app_edit", org, creds.app), edit_data(**{"register-name": "BILLING SYNC"})
    )
    assert response.status_code == 302
    assert OAuthApp.objects.get(pk=creds.app.pk).name == "BILLING SYNC"


def test_edit_needs_a_known_scope(client_as, org, owner, creds):
    client = client_as(owner)
    response = client.post(
        url("app_edit", org, creds.app), edit_data(**{"scopes-scopes": []})
    )
    assert response.context["forms"].scopes.errors["scopes"] == [
        "Choose at least one scope: an organization role or a service role."
    ]
    response = client.post(
        url("app_edit", org, creds.app),
        edit_data(**{"scopes-scopes": ["svc:nope:admin"]}),
    )
    assert (
        "is not a scope you can choose"
        in response.context["forms"].scopes.errors["scopes"][0]
    )
    assert OAuthApp.objects.get().scopes == ["org:member", "svc:compute:viewer"]


def test_edit_select_all_roles_works_without_javascript(client_as, org, owner, creds):
    client_as(owner).post(
        url("app_edit", org, creds.app),
        edit_data(**{"scopes-scopes": [], "scopes-select_all": ["compute"]}),
    )
    assert OAuthApp.objects.get().scopes == [
        "svc:compute:admin",
        "svc:compute:operator",
        "svc:compute:viewer",
    ]


def test_an_unchanged_edit_records_nothing(client_as, org, owner, creds):
    client_as(owner).post(
        url("app_edit", org, creds.app), edit_data(**{"register-description": ""})
    )
    assert not AuditEvent.objects.filter(action="app.edit").exists()


# --- Delete ---------------------------------------------------------------------------------------


def test_delete_needs_the_app_name_typed(client_as, org, owner, creds):
    client = client_as(owner)
    for typed in ("", "billing sync", "Billing"):
        response = client.post(
            url("app_delete", org, creds.app), {"confirm_name": typed}
        )
        assert response.status_code == 200
        assert response.context["form"].errors["confirm_name"]
    assert OAuthApp.objects.filter(pk=creds.app.pk).exists()


def test_delete_revokes_every_token_and_removes_it_everywhere(
    client_as, org, owner, creds, partner, api_client
):
    here = token(api_client, creds.client_id, creds.client_secret, org)["access_token"]
    there = token(api_client, creds.client_id, creds.client_secret, partner)[
        "access_token"
    ]

    response = client_as(owner).post(
        url("app_delete", org, creds.app),
        {"confirm_name": " Billing Sync "},
        follow=True,
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse(
        "oauthapps:app_list", args=[org.pk]
    )
    assert "Billing Sync was deleted" in html and "from the 2 organizations" in html
    assert "Billing Sync" not in html[html.index("<h1>") :]

    assert not OAuthApp.objects.exists() and not AppGrant.objects.exists()
    assert not IssuedToken.objects.exists()
    assert api_status(api_client, here, org) == 401
    assert api_status(api_client, there, partner) == 401
    refused = token_response(api_client, creds.client_id, creds.client_secret)
    assert json.loads(refused.content)["error"] == "invalid_client"
    # Gone from the partner's list and page; its Owners were told; both orgs' logs say so.
    partner_owner = partner.memberships.first().user
    partner_list = client_as(partner_owner).get(
        reverse("oauthapps:app_list", args=[partner.pk])
    )
    assert "Billing Sync" not in partner_list.content.decode()
    assert (
        client_as(partner_owner).get(url("app_detail", partner, creds.app)).status_code
        == 404
    )
    assert (
        Notification.objects.filter(
            organization=partner, title="Billing Sync was deleted"
        ).count()
        == 2
    )
    assert AuditEvent.objects.get(action="app.delete").data["tokens_revoked"] == 2
    removed = AuditEvent.objects.get(action="app.remove_from_org", organization=partner)
    assert removed.data["reason"] == "app deleted"


def test_delete_is_a_page_too_without_javascript(client_as, org, owner, creds):
    html = client_as(owner).get(url("app_delete", org, creds.app)).content.decode()
    assert "Delete Billing Sync?" in html
    assert "Type the app’s name to confirm" in html


def test_introspection_of_a_deleted_apps_token_cannot_even_authenticate(
    client_as, org, owner, creds, api_client
):
    issued = token(api_client, creds.client_id, creds.client_secret, org)[
        "access_token"
    ]
    assert is_active(api_client, creds.client_id, creds.client_secret, issued)
    client_as(owner).post(
        url("app_delete", org, creds.app), {"confirm_name": "Billing Sync"}
    )
    from tests.oauthapps.effects import basic
    from tests.tokens.fixtures import post_form

    response = post_form(
        api_client,
        "/oauth/introspect",
        {"token": issued},
        Authorization=basic(creds.client_id, creds.client_secret),
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "name",
    [
        "app_detail",
        "app_edit",
        "app_delete",
        "app_regenerate_secret",
        "app_rotate_secret",
        "app_end_secret_overlap",
        "app_add_to_orgs",
        "app_remove_from_org",
        "app_regrant",
    ],
)
def test_an_app_of_another_org_through_your_orgs_url_is_a_404(
    client_as, outsider, creds, name
):
    """The outsider is Owner of their own org: its URLs never reach another org's app."""
    their_org = outsider.memberships.get().organization
    client = client_as(outsider)
    before = OAuthApp.objects.values().get()
    assert client.post(url(name, their_org, creds.app), edit_data()).status_code in (
        404,
        405,
    )
    if name not in ("app_end_secret_overlap", "app_regrant"):
        assert client.get(url(name, their_org, creds.app)).status_code == 404
    assert OAuthApp.objects.values().get() == before
