"""oauth_app_create / oauth_app_add_to_org and the credentials document, against the database."""

import base64
import json

import pytest
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from oauthapps import services
from oauthapps.credentials import (
    credentials_data_url,
    credentials_document,
    credentials_filename,
)
from oauthapps.models import AppGrant, OAuthApp
from orgs.models import AuditEvent, Notification
from tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    OrganizationServiceFactory,
    ServiceFactory,
)


def create(org, user, **overrides):
    fields = {
        "name": "Billing Sync",
        "access_token_ttl_minutes": 30,
        "scopes": ["svc:compute:viewer", "org:member"],
    }
    return services.oauth_app_create(
        organization=org, created_by=user, **{**fields, **overrides}
    )


def test_create_registers_a_confidential_client_credentials_app(org, owner):
    app, secret = create(
        org, owner, name="  Billing Sync  ", description="  Exports.  "
    )
    app.refresh_from_db()
    assert app.name == "Billing Sync" and app.description == "Exports."
    assert app.app_type == OAuthApp.AppType.SERVER_TO_SERVER
    assert app.client_type == OAuthApp.CLIENT_CONFIDENTIAL
    assert app.authorization_grant_type == OAuthApp.GRANT_CLIENT_CREDENTIALS
    assert app.scopes == ["org:member", "svc:compute:viewer"]  # normalised
    assert app.secret_created_at is not None
    assert len(secret) >= 40
    assert app.client_secret.startswith("console_secret_sha256$")
    assert secret not in app.client_secret
    assert check_password(secret, app.client_secret)
    assert not check_password(secret + "x", app.client_secret)


def test_each_app_gets_its_own_client_id_and_secret(org, owner):
    first, first_secret = create(org, owner, name="One")
    second, second_secret = create(org, owner, name="Two")
    assert first.client_id != second.client_id
    assert first_secret != second_secret


def test_create_records_an_audit_event_without_the_secret(org, owner):
    app, secret = create(org, owner)
    event = AuditEvent.objects.get(action="app.create")
    assert (event.organization, event.actor, event.actor_label) == (
        org,
        owner,
        "owner@example.com",
    )
    assert event.target_id == str(app.pk) and event.target_label == "Billing Sync"
    assert event.data == {
        "client_id": app.client_id,
        "scopes": ["org:member", "svc:compute:viewer"],
        "ttl_minutes": 30,
    }
    assert secret not in json.dumps(event.data)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"access_token_ttl_minutes": 0}, "access_token_ttl_minutes"),
        ({"access_token_ttl_minutes": 301}, "access_token_ttl_minutes"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["svc:compute:root"]}, "scopes"),
        ({"scopes": ["org:member", "everything"]}, "scopes"),
        ({"description": "d" * 1001}, "description"),
    ],
)
def test_create_refuses_bad_input_and_saves_nothing(org, owner, overrides, field):
    with pytest.raises(ValidationError) as excinfo:
        create(org, owner, **overrides)
    assert field in excinfo.value.message_dict
    assert not OAuthApp.objects.exists()
    assert not AuditEvent.objects.filter(action="app.create").exists()


def test_names_are_unique_per_org_regardless_of_case(org, owner, outsider):
    create(org, owner)
    with pytest.raises(ValidationError) as excinfo:
        create(org, owner, name=" BILLING sync ")
    assert excinfo.value.message_dict["name"] == [
        "An app named “BILLING sync” already exists in Acme Corp. Choose another name."
    ]
    assert OAuthApp.objects.count() == 1
    create(outsider.memberships.get().organization, outsider)  # another org: fine
    assert OAuthApp.objects.count() == 2


def test_add_to_org_grants_a_snapshot_of_the_scopes_and_is_audited(org, owner):
    OrganizationServiceFactory(organization=org, service=ServiceFactory(slug="compute"))
    app, _ = create(org, owner)
    grant, missing = services.oauth_app_add_to_org(app=app, org=org, added_by=owner)
    assert missing == []
    assert (grant.app, grant.organization, grant.granted_by) == (app, org, owner)
    assert grant.scopes == ["org:member", "svc:compute:viewer"]
    event = AuditEvent.objects.get(action="app.add_to_org")
    assert event.organization == org and event.actor == owner
    assert event.data == {"client_id": app.client_id, "scopes": grant.scopes}
    # Nothing missing: the org's Owners are told it was added, as plain information.
    notification = Notification.objects.get()
    assert (notification.user, notification.level) == (owner, "info")
    assert notification.title == "Billing Sync was added to Acme Corp"

    app.scopes = ["org:owner"]
    app.save()
    grant.refresh_from_db()
    assert grant.scopes == ["org:member", "svc:compute:viewer"]


def test_add_to_org_twice_keeps_one_grant_one_event_one_notification(org, owner):
    app, _ = create(org, owner)
    services.oauth_app_add_to_org(app=app, org=org, added_by=owner)
    _, missing = services.oauth_app_add_to_org(app=app, org=org, added_by=owner)
    assert missing == ["compute"]
    assert AppGrant.objects.count() == 1
    assert AuditEvent.objects.filter(action="app.add_to_org").count() == 1
    assert Notification.objects.count() == 1


def test_adding_to_an_org_without_the_services_notifies_with_their_names(org, owner):
    OrganizationServiceFactory(organization=org, service=ServiceFactory(slug="compute"))
    app, _ = create(
        org,
        owner,
        scopes=[
            "org:member",
            "svc:compute:viewer",
            "svc:billing:viewer",
            "svc:log-analytics:admin",
        ],
    )
    _, missing = services.oauth_app_add_to_org(app=app, org=org, added_by=owner)
    assert missing == ["billing", "log-analytics"]
    notification = Notification.objects.get()
    assert notification.user == owner and notification.organization == org
    assert notification.level == "warning"
    assert notification.title == (
        "Billing Sync was added to Acme Corp, which does not include all services in its scope"
    )
    assert notification.body == (
        "Acme Corp does not contain Billing, Log Analytics, named in the scopes of Billing Sync. "
        "Tokens for Acme Corp will not carry those scopes until an Owner adds the services on "
        "the organization's Services page."
    )
    assert notification.link == reverse("orgs:service_list", args=[org.pk])
    assert notification.read_at is None


def test_the_notification_fits_even_with_the_longest_names(owner):
    org = OrganizationFactory(name="O" * 100)
    MembershipFactory(organization=org, user=owner, role="owner")
    app, _ = create(org, owner, name="A" * 100, scopes=["svc:billing:viewer"])
    services.oauth_app_add_to_org(app=app, org=org, added_by=owner)
    assert len(Notification.objects.get().title) <= 200


def test_credentials_document_has_every_field_of_design_section_5(org, owner, settings):
    settings.CONSOLE_ISSUER = "https://console.example.com"
    app, secret = create(org, owner, description="Exports.")
    document = credentials_document(app=app, client_secret=secret)
    assert document == {
        "type": "server_to_server",
        "name": "Billing Sync",
        "description": "Exports.",
        "client_id": app.client_id,
        "client_secret": secret,
        "org_id": str(org.pk),
        "issuer": "https://console.example.com",
        "token_endpoint": "https://console.example.com/oauth/token",
        "scopes": ["org:member", "svc:compute:viewer"],
        "access_token_ttl_minutes": 30,
        "created_at": app.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "client_secret_expires_at": None,  # the org has no secret expiry policy
    }


def test_credentials_data_url_carries_the_document(org, owner):
    app, secret = create(org, owner)
    url = credentials_data_url(app=app, client_secret=secret)
    prefix = "data:application/json;base64,"
    assert url.startswith(prefix)
    assert json.loads(base64.b64decode(url[len(prefix) :])) == credentials_document(
        app=app, client_secret=secret
    )


@pytest.mark.parametrize(
    ("name", "filename"),
    [
        ("Billing Sync", "billing-sync-credentials.json"),
        ("  Nightly  Export/v2 ", "nightly-exportv2-credentials.json"),
        ("Café ☕ bot", "cafe-bot-credentials.json"),
        ("☕☕", "oauth-app-credentials.json"),
    ],
)
def test_credentials_file_is_named_after_the_app(org, owner, name, filename):
    app, _ = create(org, owner, name=name)
    assert credentials_filename(app=app) == filename
