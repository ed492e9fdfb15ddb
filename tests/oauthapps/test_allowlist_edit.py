"""The IP allowlist on the app's Edit page: CIDR blocks (IPv4, IPv6) saved in canonical form; an
entry that is not a network is a field error and nothing is saved; the app page shows the
networks and the latest refused addresses."""

import pytest
from django.urls import reverse

from oauthapps.models import OAuthApp, RefusedAddress
from oauthapps.services.client_policies import refused_address_record
from orgs.models import AuditEvent


def url(name: str, org, app) -> str:
    return reverse(f"oauthapps:{name}", args=[org.pk, app.pk])


@pytest.fixture
def creds(org, make_app, contains):
    contains(org, "compute")
    return make_app(
        org,
        name="Billing Sync",
        scopes=["org:member", "svc:compute:viewer"],
        add_to=[org],
    )


def edit_data(**overrides) -> dict:
    data = {
        "register-name": "Billing Sync",
        "register-description": "",
        "ttl-access_token_ttl_minutes": "30",
        "scopes-scopes": ["org:member", "svc:compute:viewer"],
        "networks-allowed_networks": "",
    }
    return {**data, **overrides}


def test_the_edit_page_offers_the_allowlist_prefilled(client_as, org, owner, creds):
    OAuthApp.objects.filter(pk=creds.app.pk).update(
        allowed_networks=["203.0.113.0/24", "2001:db8::/32"]
    )
    html = client_as(owner).get(url("app_edit", org, creds.app)).content.decode()
    assert 'id="ip-allowlist"' in html
    assert "203.0.113.0/24\n2001:db8::/32</textarea>" in html


def test_networks_are_saved_in_canonical_form_and_audited(
    client_as, org, developer, creds
):
    response = client_as(developer).post(
        url("app_edit", org, creds.app),
        edit_data(
            **{
                "networks-allowed_networks": "203.0.113.0/24\n2001:DB8::/32, 198.51.100.7"
            }
        ),
    )
    assert response.status_code == 302
    app = OAuthApp.objects.get(pk=creds.app.pk)
    assert app.allowed_networks == [
        "203.0.113.0/24",
        "2001:db8::/32",
        "198.51.100.7/32",
    ]
    event = AuditEvent.objects.get(action="app.edit")
    assert event.data["changes"] == {
        "allowed_networks": {
            "from": [],
            "to": ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"],
        }
    }


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("10.0.0.300/8", "10.0.0.300/8 is not an IPv4 or IPv6 address or CIDR block"),
        ("203.0.113.0/24\nnot-a-network", "not-a-network is not an IPv4 or IPv6"),
        ("2001:db8::zz/32", "2001:db8::zz/32 is not an IPv4 or IPv6"),
        (
            "10.0.0.1/8",
            "10.0.0.1/8 has bits set after the prefix: did you mean 10.0.0.0/8?",
        ),
    ],
)
def test_a_cidr_that_does_not_parse_is_a_field_error_and_nothing_is_saved(
    client_as, org, owner, creds, typed, error
):
    before = OAuthApp.objects.get(pk=creds.app.pk)
    response = client_as(owner).post(
        url("app_edit", org, creds.app),
        # A new name too: nothing of the form is saved.
        edit_data(**{"register-name": "Renamed", "networks-allowed_networks": typed}),
    )
    assert response.status_code == 200
    errors = response.context["forms"].networks.errors["allowed_networks"]
    assert any(message.startswith(error) for message in errors)
    html = response.content.decode()
    assert "Please check the highlighted field" in html
    after = OAuthApp.objects.get(pk=creds.app.pk)
    assert (after.name, after.allowed_networks) == (before.name, [])
    assert after.updated == before.updated
    assert not AuditEvent.objects.filter(action="app.edit").exists()


def test_emptying_the_allowlist_allows_every_address_again(
    client_as, org, owner, creds
):
    OAuthApp.objects.filter(pk=creds.app.pk).update(allowed_networks=["203.0.113.0/24"])
    client_as(owner).post(url("app_edit", org, creds.app), edit_data())
    assert OAuthApp.objects.get(pk=creds.app.pk).allowed_networks == []


def test_a_member_cannot_edit_the_allowlist(client_as, org, member, creds):
    response = client_as(member).post(
        url("app_edit", org, creds.app),
        edit_data(**{"networks-allowed_networks": "203.0.113.0/24"}),
    )
    assert response.status_code == 403
    assert OAuthApp.objects.get(pk=creds.app.pk).allowed_networks == []


def test_the_app_page_shows_the_networks_and_the_latest_refused_addresses(
    client_as, org, owner, member, creds
):
    OAuthApp.objects.filter(pk=creds.app.pk).update(
        allowed_networks=["203.0.113.0/24", "2001:db8::/32"]
    )
    refused_address_record(app_id=creds.app.pk, address="198.51.100.1")
    refused_address_record(app_id=creds.app.pk, address="198.51.100.1")
    refused_address_record(app_id=creds.app.pk, address="2001:db9::5")
    for user in (owner, member):
        response = client_as(user).get(url("app_detail", org, creds.app))
        html = response.content.decode()
        assert "<code>203.0.113.0/24</code>" in html
        refused = response.context["refused_addresses"]
        assert [(r.address, r.refusals) for r in refused] == [
            ("2001:db9::5", 1),
            ("198.51.100.1", 2),
        ]
        assert 'data-testid="refused-addresses"' in html


def test_without_an_allowlist_the_app_page_says_any_address(
    client_as, org, owner, creds
):
    html = client_as(owner).get(url("app_detail", org, creds.app)).content.decode()
    assert "None: the app may authenticate from any address." in html


def test_refused_addresses_stay_bounded_per_app(creds, make_app, org):
    other = make_app(org, scopes=["org:member"])
    for n in range(15):
        refused_address_record(app_id=creds.app.pk, address=f"198.51.100.{n}")
    refused_address_record(app_id=other.app.pk, address="198.51.100.1")
    assert RefusedAddress.objects.filter(app=creds.app).count() == 10
    assert RefusedAddress.objects.filter(app=other.app).count() == 1


def test_an_address_that_is_not_one_is_recorded_as_unknown(creds):
    refused_address_record(app_id=creds.app.pk, address="")
    refused_address_record(app_id=creds.app.pk, address="<script>")
    assert RefusedAddress.objects.get().address == "unknown"
    assert RefusedAddress.objects.get().refusals == 2
