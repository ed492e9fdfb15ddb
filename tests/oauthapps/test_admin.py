"""Django admin for OAuth apps and issued tokens: search, filters, grants inline, the hashed
secret read-only, and the actions Revoke all tokens and Disable (with their effect on clients)."""

import json
from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from oauthapps.models import OAuthApp
from oauthapps.tokens.models import IssuedToken
from orgs.models import AuditEvent
from tests.factories import OrganizationFactory, UserFactory
from tests.oauthapps.effects import api_status, token, token_response

CHANGELIST = "admin:oauthapps_oauthapp_changelist"


@pytest.fixture
def staff(db):
    return UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client_as, staff):
    return client_as(staff)


@pytest.fixture
def partner(db):
    return OrganizationFactory(name="Partner Corp")


@pytest.fixture
def creds(org, make_app, partner):
    return make_app(
        org, name="Billing Sync", scopes=["org:member"], add_to=[org, partner]
    )


@pytest.fixture
def other(partner, make_app):
    return make_app(partner, name="Deploy Bot", scopes=["org:member"])


def names(response) -> list[str]:
    return [app.name for app in response.context["cl"].result_list]


def test_the_toolkits_unused_models_are_not_in_the_admin():
    registered = {model._meta.label for model in admin.site._registry}
    assert "oauthapps.OAuthApp" in registered and "tokens.IssuedToken" in registered
    assert not registered & {
        "oauth2_provider.AccessToken",
        "oauth2_provider.Grant",
        "oauth2_provider.IDToken",
        "oauth2_provider.RefreshToken",
    }


def test_search_by_name_or_client_id(admin_client, creds, other):
    assert names(admin_client.get(reverse(CHANGELIST), {"q": "billing"})) == [
        "Billing Sync"
    ]
    assert names(admin_client.get(reverse(CHANGELIST), {"q": other.client_id})) == [
        "Deploy Bot"
    ]


def test_filters_by_organization_and_type(admin_client, org, creds, other):
    by_org = admin_client.get(
        reverse(CHANGELIST), {"organization__id__exact": str(org.pk)}
    )
    assert names(by_org) == ["Billing Sync"]
    by_type = admin_client.get(
        reverse(CHANGELIST), {"app_type__exact": "server_to_server"}
    )
    assert sorted(names(by_type)) == ["Billing Sync", "Deploy Bot"]  # newest first


def test_the_change_page_shows_grants_inline_and_neither_secret_nor_hash(
    admin_client, creds
):
    response = admin_client.get(
        reverse("admin:oauthapps_oauthapp_change", args=[creds.app.pk])
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "stored hashed" in html
    assert "console_secret_sha256$" not in html and creds.app.client_secret not in html
    assert creds.client_secret not in html
    assert "<li><code>org:member</code></li>" in html  # scopes as a list, not JSON
    assert 'name="client_secret"' not in html  # not an input: read-only
    assert "Partner Corp" in html and "Acme Corp" in html  # the grants inline
    assert "Organizations it was added to (grants)" in html


def test_staff_edits_go_through_the_service(admin_client, creds, staff):
    url = reverse("admin:oauthapps_oauthapp_change", args=[creds.app.pk])
    data = {
        "name": "Billing Sync v2",
        "description": "",
        "access_token_ttl_minutes": "301",
        "grants-TOTAL_FORMS": "2",
        "grants-INITIAL_FORMS": "2",
    }
    for index, grant in enumerate(creds.app.grants.all()):
        data[f"grants-{index}-id"] = str(grant.pk)
        data[f"grants-{index}-app"] = str(creds.app.pk)
        data[f"grants-{index}-organization"] = str(grant.organization_id)
        data[f"grants-{index}-scopes"] = json.dumps(grant.scopes)
    response = admin_client.post(url, data)
    assert response.status_code == 200  # 301 minutes is refused
    assert OAuthApp.objects.get().access_token_ttl_minutes == 30
    data["access_token_ttl_minutes"] = "10"
    assert admin_client.post(url, data).status_code == 302
    app = OAuthApp.objects.get()
    assert (app.name, app.access_token_ttl_minutes) == ("Billing Sync v2", 10)
    assert AuditEvent.objects.get(action="app.edit").actor == staff


def test_revoke_all_tokens_action(admin_client, org, partner, creds, api_client, staff):
    here = token(api_client, creds.client_id, creds.client_secret, org)["access_token"]
    there = token(api_client, creds.client_id, creds.client_secret, partner)[
        "access_token"
    ]
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "revoke_all_tokens", "_selected_action": [creds.app.pk]},
        follow=True,
    )
    assert "Revoked 2 active tokens of 1 app." in response.content.decode()
    assert api_status(api_client, here, org) == 401
    assert api_status(api_client, there, partner) == 401
    # The credentials still work: new tokens can be had.
    assert (
        token_response(
            api_client, creds.client_id, creds.client_secret, org
        ).status_code
        == 200
    )
    assert AuditEvent.objects.get(action="app.revoke_tokens").actor == staff


def test_disable_action_gives_invalid_client_and_refuses_held_tokens(
    admin_client, org, creds, api_client
):
    held = token(api_client, creds.client_id, creds.client_secret, org)["access_token"]
    admin_client.post(
        reverse(CHANGELIST), {"action": "disable", "_selected_action": [creds.app.pk]}
    )
    assert OAuthApp.objects.get().is_disabled
    refused = token_response(api_client, creds.client_id, creds.client_secret, org)
    assert refused.status_code == 401
    assert json.loads(refused.content)["error"] == "invalid_client"
    assert api_status(api_client, held, org) == 401
    assert AuditEvent.objects.filter(action="app.disable").count() == 1

    admin_client.post(
        reverse(CHANGELIST), {"action": "enable", "_selected_action": [creds.app.pk]}
    )
    assert (
        token_response(
            api_client, creds.client_id, creds.client_secret, org
        ).status_code
        == 200
    )


def test_issued_tokens_are_listed_with_app_org_scope_expiry_and_state(
    admin_client, org, creds, api_client
):
    token(api_client, creds.client_id, creds.client_secret, org)
    revoked = token(api_client, creds.client_id, creds.client_secret, org)
    url = reverse("admin:tokens_issuedtoken_changelist")
    rows = IssuedToken.objects.order_by("issued_at")
    admin_client.post(
        url, {"action": "revoke", "_selected_action": [str(rows.last().pk)]}
    )
    response = admin_client.get(url)
    html = response.content.decode()
    for column in (
        "column-app",
        "column-organization",
        "column-scope",
        "column-expires_at",
        "column-is_revoked",
    ):
        assert column in html
    assert "Billing Sync" in html and "org:member" in html
    assert (
        len(admin_client.get(url, {"state": "revoked"}).context["cl"].result_list) == 1
    )
    assert (
        len(admin_client.get(url, {"state": "active"}).context["cl"].result_list) == 1
    )
    assert revoked["access_token"] not in html
    page = admin_client.get(
        reverse("admin:tokens_issuedtoken_change", args=[rows.first().pk])
    )
    assert page.status_code == 200 and 'name="scope"' not in page.content.decode()


def test_a_token_obtained_with_a_regenerated_secret_is_listed_as_revoked(
    admin_client, org, creds, owner
):
    """A row written after the regeneration (a request that authenticated with the old secret
    just before it): no revocation time of its own, and still revoked, as the API says."""
    from oauthapps.services import oauth_app_regenerate_secret

    oauth_app_regenerate_secret(app=creds.app, regenerated_by=owner)
    now = timezone.now()
    late = IssuedToken.objects.create(
        app=creds.app,
        organization=org,
        scope="org:member",
        issued_at=now,
        expires_at=now + timedelta(minutes=30),
        secret_generation=1,
    )
    url = reverse("admin:tokens_issuedtoken_changelist")

    def listed(state: str) -> list[IssuedToken]:
        return list(admin_client.get(url, {"state": state}).context["cl"].result_list)

    late = IssuedToken.objects.get(pk=late.pk)
    assert late.revoked_at is None and late.is_revoked
    assert listed("revoked") == [late]
    assert listed("active") == []
