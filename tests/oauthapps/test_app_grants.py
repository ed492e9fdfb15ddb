"""Which organizations an app is in: add it to orgs you own (from its page), add another org's app
by its client ID, remove it from an org — with forged POSTs refused, the Owners notified and the
effect visible at the token endpoint, introspection and the API."""

import json

import pytest
from django.urls import reverse

from oauthapps import services
from oauthapps.models import AppGrant
from orgs.models import AuditEvent, Membership, Notification
from tests.factories import MembershipFactory, OrganizationFactory
from tests.oauthapps.effects import api_status, is_active, token, token_response


def url(name: str, org, app=None) -> str:
    args = [org.pk] if app is None else [org.pk, app.pk]
    return reverse(f"oauthapps:{name}", args=args)


def owned_org(user, name: str, *, role=Membership.Role.OWNER):
    org = OrganizationFactory(name=name)
    MembershipFactory(organization=org, user=user, role=role)
    return org


@pytest.fixture
def creds(org, make_app, contains):
    contains(org, "compute")
    return make_app(
        org,
        name="Billing Sync",
        scopes=["org:member", "svc:compute:viewer", "svc:billing:viewer"],
        add_to=[org],
    )


@pytest.fixture
def partner(db):
    partner = OrganizationFactory(name="Partner Corp")
    MembershipFactory(
        organization=partner, role=Membership.Role.OWNER, user__email="p1@example.com"
    )
    MembershipFactory(
        organization=partner, role=Membership.Role.OWNER, user__email="p2@example.com"
    )
    MembershipFactory(
        organization=partner, role=Membership.Role.ADMIN, user__email="pa@example.com"
    )
    return partner


def user(org, email):
    return org.memberships.get(user__email=email).user


# --- Add to organizations, from the app's page ----------------------------------------------------


def test_only_orgs_where_the_user_is_owner_are_offered(client_as, org, owner, creds):
    mine = owned_org(owner, "Mine Too")
    owned_org(owner, "Only Admin Here", role=Membership.Role.ADMIN)
    owned_org(owner, "Only Member Here", role=Membership.Role.MEMBER)
    response = client_as(owner).get(url("app_add_to_orgs", org, creds.app))
    html = response.content.decode()
    offered = [
        choice[1] for choice in response.context["form"].fields["organizations"].choices
    ]
    assert offered == ["Mine Too"]  # Acme Corp already has it
    assert f'value="{mine.pk}"' in html
    assert 'data-org="Only Admin Here"' not in html


def test_adding_to_an_owned_org_grants_warns_and_notifies_its_owners(
    client_as, org, owner, creds, api_client
):
    mine = owned_org(owner, "Mine Too")
    co_owner = MembershipFactory(organization=mine, role=Membership.Role.OWNER).user
    html = client_as(owner).get(url("app_add_to_orgs", org, creds.app)).content.decode()
    assert "Does not contain Billing, Compute" in html

    response = client_as(owner).post(
        url("app_add_to_orgs", org, creds.app),
        {"organizations": [str(mine.pk)]},
        follow=True,
    )
    html = response.content.decode()
    assert "Billing Sync was added to Mine Too." in html
    assert "Mine Too does not contain Billing, Compute" in html
    grant = AppGrant.objects.get(app=creds.app, organization=mine)
    assert grant.scopes == creds.app.scopes and grant.granted_by == owner
    for person in (owner, co_owner):
        notification = Notification.objects.get(user=person, organization=mine)
        assert notification.level == "warning"
        assert "does not include all services" in notification.title
    assert (
        AuditEvent.objects.get(action="app.add_to_org", organization=mine).actor
        == owner
    )
    assert (
        token(api_client, creds.client_id, creds.client_secret, mine)["scope"]
        == "org:member"
    )


def test_adding_to_an_org_with_every_service_sends_plain_information(
    client_as, org, owner, creds, contains
):
    mine = owned_org(owner, "Mine Too")
    contains(mine, "compute", "billing")
    client_as(owner).post(
        url("app_add_to_orgs", org, creds.app), {"organizations": [str(mine.pk)]}
    )
    notification = Notification.objects.get(organization=mine)
    assert notification.level == "info"
    assert notification.title == "Billing Sync was added to Mine Too"
    assert notification.link == url("app_detail", mine, creds.app)


@pytest.mark.parametrize("role", [Membership.Role.ADMIN, Membership.Role.MEMBER])
def test_a_forged_post_for_an_org_where_you_are_not_owner_is_refused(
    client_as, org, owner, creds, role
):
    not_mine = owned_org(owner, "Not Mine", role=role)
    response = client_as(owner).post(
        url("app_add_to_orgs", org, creds.app), {"organizations": [str(not_mine.pk)]}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["organizations"] == [
        "You can add the app only to organizations where you are an Owner and that do not "
        "have it yet."
    ]
    assert not AppGrant.objects.filter(organization=not_mine).exists()
    assert not Notification.objects.filter(organization=not_mine).exists()


def test_a_forged_post_for_an_org_you_are_not_in_is_refused(
    client_as, org, owner, creds, partner
):
    response = client_as(owner).post(
        url("app_add_to_orgs", org, creds.app), {"organizations": [str(partner.pk)]}
    )
    assert response.status_code == 200
    assert not AppGrant.objects.filter(organization=partner).exists()


def test_adding_through_the_wizard_step_to_an_org_you_do_not_own_is_a_404(
    client_as, org, owner, creds, partner
):
    # app_add_to_org adds to the org in the URL: the app must be that org's own.
    partner_owner = user(partner, "p1@example.com")
    response = client_as(partner_owner).post(url("app_add_to_org", partner, creds.app))
    assert response.status_code == 404
    assert not AppGrant.objects.filter(organization=partner).exists()


# --- Add by client ID, from the other side --------------------------------------------------------


def test_an_owner_reviews_an_app_by_client_id_then_grants_it(
    client_as, org, creds, partner, api_client
):
    client = client_as(user(partner, "p1@example.com"))
    response = client.get(
        url("app_add_by_client_id", partner), {"client_id": f"  {creds.client_id} "}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="client-id-review"' in html
    assert "Billing Sync" in html and "Acme Corp" in html
    assert "Partner Corp does not contain Billing, Compute" in html
    assert not AppGrant.objects.filter(
        organization=partner
    ).exists()  # reviewing adds nothing

    response = client.post(
        url("app_add_by_client_id", partner), {"client_id": creds.client_id}
    )
    assert response.status_code == 302
    assert response.url == url("app_detail", partner, creds.app)
    grant = AppGrant.objects.get(organization=partner)
    assert grant.scopes == ["org:member", "svc:billing:viewer", "svc:compute:viewer"]
    assert sorted(
        n.user.email for n in Notification.objects.filter(organization=partner)
    ) == ["p1@example.com", "p2@example.com"]
    assert (
        token(api_client, creds.client_id, creds.client_secret, partner)["scope"]
        == "org:member"
    )


def test_an_unknown_client_id_is_a_clear_error(client_as, partner):
    client = client_as(user(partner, "p1@example.com"))
    for client_id in ("nope", "x" * 255):
        response = client.post(
            url("app_add_by_client_id", partner), {"client_id": client_id}
        )
        assert response.status_code == 200
        assert response.context["form"].errors["client_id"] == [
            "No app has this client ID. Check that you copied all of it."
        ]
    response = client.post(
        url("app_add_by_client_id", partner), {"client_id": "x" * 256}
    )
    assert (
        "longer than any client ID" in response.context["form"].errors["client_id"][0]
    )
    assert not AppGrant.objects.exists()


def test_a_disabled_app_cannot_be_added(client_as, owner, creds, partner):
    services.oauth_app_set_disabled(app=creds.app, is_disabled=True, changed_by=owner)
    response = client_as(user(partner, "p1@example.com")).post(
        url("app_add_by_client_id", partner), {"client_id": creds.client_id}
    )
    assert (
        "disabled by an administrator"
        in response.context["form"].errors["client_id"][0]
    )
    assert not AppGrant.objects.filter(organization=partner).exists()


def test_adding_an_app_already_added_says_so(client_as, owner, creds, partner):
    services.oauth_app_add_to_org(app=creds.app, org=partner, added_by=owner)
    client = client_as(user(partner, "p1@example.com"))
    html = client.get(
        url("app_add_by_client_id", partner), {"client_id": creds.client_id}
    ).content.decode()
    assert "is already added to Partner Corp" in html
    response = client.post(
        url("app_add_by_client_id", partner),
        {"client_id": creds.client_id},
        follow=True,
    )
    assert (
        "Billing Sync was already added to Partner Corp." in response.content.decode()
    )
    assert AppGrant.objects.filter(organization=partner).count() == 1


def test_administrators_cannot_add_apps_by_client_id(client_as, creds, partner):
    client = client_as(user(partner, "pa@example.com"))
    assert client.get(url("app_add_by_client_id", partner)).status_code == 403
    response = client.post(
        url("app_add_by_client_id", partner), {"client_id": creds.client_id}
    )
    assert response.status_code == 403
    assert not AppGrant.objects.filter(organization=partner).exists()


# --- The list marks apps from elsewhere ----------------------------------------------------------


def test_the_list_shows_owned_apps_and_apps_added_from_elsewhere(
    client_as, org, owner, creds, partner, make_app
):
    theirs = make_app(partner, name="Partner Bot", scopes=["org:member"])
    services.oauth_app_add_to_org(app=theirs.app, org=org, added_by=owner)
    client = client_as(owner)
    both = client.get(url("app_list", org)).content.decode()
    assert 'data-app="Billing Sync"' in both and 'data-app="Partner Bot"' in both
    owned = client.get(url("app_list", org), {"kind": "owned"}).content.decode()
    added = client.get(url("app_list", org), {"kind": "added"}).content.decode()
    assert 'data-app="Billing Sync"' in owned and "Partner Bot" not in owned
    assert 'data-added-from="Partner Corp"' in added and "From Partner Corp" in added
    assert 'data-app="Billing Sync"' not in added
    assert url("app_detail", org, theirs.app) in added


# --- Remove from an organization ------------------------------------------------------------------


def test_removing_revokes_that_orgs_tokens_only_and_notifies_its_owners(
    client_as, org, owner, creds, partner, api_client
):
    services.oauth_app_add_to_org(app=creds.app, org=partner, added_by=owner)
    here = token(api_client, creds.client_id, creds.client_secret, org)["access_token"]
    there = token(api_client, creds.client_id, creds.client_secret, partner)[
        "access_token"
    ]
    Notification.objects.all().delete()

    client = client_as(user(partner, "p1@example.com"))
    page = client.get(url("app_remove_from_org", partner, creds.app)).content.decode()
    assert "Remove Billing Sync from Partner Corp?" in page
    response = client.post(url("app_remove_from_org", partner, creds.app), follow=True)
    assert response.redirect_chain[-1][0] == url("app_list", partner)
    assert (
        "Billing Sync was removed from Partner Corp; 1 active token"
        in response.content.decode()
    )

    assert api_status(api_client, there, partner) == 401
    assert not is_active(api_client, creds.client_id, creds.client_secret, there)
    assert api_status(api_client, here, org) == 200
    assert is_active(api_client, creds.client_id, creds.client_secret, here)
    refused = token_response(api_client, creds.client_id, creds.client_secret, partner)
    assert json.loads(refused.content)["error"] == "invalid_grant"
    assert sorted(n.user.email for n in Notification.objects.all()) == [
        "p1@example.com",
        "p2@example.com",
    ]
    assert (
        Notification.objects.first().title
        == "Billing Sync was removed from Partner Corp"
    )
    event = AuditEvent.objects.get(action="app.remove_from_org")
    assert event.organization == partner and event.data["tokens_revoked"] == 1


def test_the_owning_orgs_owner_removes_it_from_its_own_org(
    client_as, org, owner, creds, api_client
):
    issued = token(api_client, creds.client_id, creds.client_secret, org)[
        "access_token"
    ]
    response = client_as(owner).post(url("app_remove_from_org", org, creds.app))
    assert response.url == url("app_detail", org, creds.app)  # still its app
    assert api_status(api_client, issued, org) == 401
    assert not AppGrant.objects.filter(organization=org).exists()


def test_removing_from_an_org_you_are_not_owner_of_is_refused(
    client_as, org, owner, administrator, creds, partner
):
    services.oauth_app_add_to_org(app=creds.app, org=partner, added_by=owner)
    # Through the partner's URL: not a member there.
    assert (
        client_as(owner)
        .post(url("app_remove_from_org", partner, creds.app))
        .status_code
        == 404
    )
    # An Administrator of the partner: not allowed.
    admin = user(partner, "pa@example.com")
    assert (
        client_as(admin)
        .post(url("app_remove_from_org", partner, creds.app))
        .status_code
        == 403
    )
    # An Administrator of the owning org cannot remove it from there either.
    assert (
        client_as(administrator)
        .post(url("app_remove_from_org", org, creds.app))
        .status_code
        == 403
    )
    assert AppGrant.objects.count() == 2


def test_the_grants_table_offers_remove_only_where_the_viewer_is_owner(
    client_as, org, owner, creds, partner
):
    services.oauth_app_add_to_org(app=creds.app, org=partner, added_by=owner)
    html = client_as(owner).get(url("app_detail", org, creds.app)).content.decode()
    assert url("app_remove_from_org", org, creds.app) in html
    assert url("app_remove_from_org", partner, creds.app) not in html
