"""The Create New OAuth App wizard: steps, Back, validation, tampering, Create and the one-time secret."""

import base64
import json
import re

import pytest
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from oauthapps import services
from oauthapps.models import OAuthApp
from oauthapps.wizard import STEPS, Wizard
from orgs.models import AuditEvent, Notification, ServiceRole
from tests.factories import (
    MembershipFactory,
    OrganizationServiceFactory,
    ServiceFactory,
    UserFactory,
)

VALID = {
    "type-app_type": "server_to_server",
    "register-name": "Billing Sync",
    "register-description": "Nightly export of invoices.",
    "ttl-access_token_ttl_minutes": "45",
    "scopes-scopes": ["org:member", "svc:compute:viewer"],
}


def create_url(org) -> str:
    return reverse("oauthapps:app_create", args=[org.pk])


def post(client, org, step: str, nav: str = "next", htmx: bool = False, **fields):
    data = {**VALID, "step": step, "nav": nav}
    for name, value in fields.items():
        key = name.replace("__", "-", 1)
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(create_url(org), data, headers=headers)


def shown_step(response) -> str:
    return response.context["wizard"].step.slug


def form_errors(response) -> dict:
    return response.context["wizard"].form.errors


@pytest.fixture
def owner_client(client_as, owner):
    return client_as(owner)


@pytest.fixture
def org_with_compute(org):
    OrganizationServiceFactory(organization=org, service=ServiceFactory(slug="compute"))
    return org


# Steps and navigation -------------------------------------------------------------------


def test_steps_are_declared_in_the_documented_order():
    assert [step.slug for step in STEPS] == [
        "type",
        "register",
        "ttl",
        "scopes",
        "review",
    ]


def test_each_step_form_uses_its_slug_as_prefix(org):
    wizard = Wizard(None, org=org)
    for index, step in enumerate(STEPS):
        assert wizard._form(index, bound=False).prefix == step.slug


def test_get_shows_the_first_step_with_server_to_server_preselected(owner_client, org):
    response = owner_client.get(create_url(org))
    assert response.status_code == 200
    assert shown_step(response) == "type"
    html = response.content.decode()
    assert "<html" in html
    assert re.search(r'<input[^>]*value="server_to_server"[^>]*checked', html)
    assert "HX-Request" in response.headers["Vary"]


def test_htmx_get_returns_only_the_wizard_fragment(owner_client, org):
    response = owner_client.get(create_url(org), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="wizard"')


def test_htmx_history_restore_gets_the_whole_page(owner_client, org):
    response = owner_client.get(
        create_url(org),
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in response.content.decode()


@pytest.mark.parametrize(
    ("step", "next_step"),
    [
        ("type", "register"),
        ("register", "ttl"),
        ("ttl", "scopes"),
        ("scopes", "review"),
    ],
)
def test_next_moves_to_the_following_step(owner_client, org, step, next_step):
    response = post(owner_client, org, step)
    assert response.status_code == 200
    assert shown_step(response) == next_step
    assert not form_errors(response)


def test_htmx_step_returns_only_the_fragment(owner_client, org):
    response = post(owner_client, org, "register", htmx=True)
    html = response.content.decode()
    assert "<html" not in html and 'id="wizard"' in html
    assert "Access Token TTL" in html


def test_ttl_step_defaults_to_30_minutes(owner_client, org):
    response = post(owner_client, org, "register", ttl__access_token_ttl_minutes=None)
    assert shown_step(response) == "ttl"
    assert re.search(
        r'name="ttl-access_token_ttl_minutes" value="30"', response.content.decode()
    )


def test_back_keeps_what_was_typed_and_never_validates(owner_client, org):
    response = post(
        owner_client, org, "ttl", nav="back", ttl__access_token_ttl_minutes="abc"
    )
    assert shown_step(response) == "register"
    assert not form_errors(response)
    html = response.content.decode()
    assert 'value="Billing Sync"' in html
    assert "Nightly export of invoices." in html
    # What was typed on the step we left travels along, unvalidated.
    assert (
        '<input type="hidden" name="ttl-access_token_ttl_minutes" value="abc">' in html
    )

    response = post(owner_client, org, "register", ttl__access_token_ttl_minutes="abc")
    assert shown_step(response) == "ttl"
    assert 'value="abc"' in response.content.decode()


def test_back_from_review_keeps_the_ticked_scopes(owner_client, org):
    response = post(owner_client, org, "review", nav="back")
    assert shown_step(response) == "scopes"
    html = response.content.decode()
    assert re.search(r'value="org:member"[^>]*checked', html)
    assert re.search(r'value="svc:compute:viewer"[^>]*checked', html)
    assert not re.search(r'value="svc:compute:admin"[^>]*checked', html)


def test_back_on_the_first_step_stays_there(owner_client, org):
    response = post(owner_client, org, "type", nav="back")
    assert shown_step(response) == "type"


def test_an_unknown_step_starts_over_at_the_first_step(owner_client, org):
    response = post(owner_client, org, "launch-missiles")
    assert shown_step(response) == "register"  # type was valid, so Next moved on
    assert OAuthApp.objects.count() == 0


# Register --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Enter a name for the app."),
        ("    ", "Enter a name for the app."),
        ("x" * 101, "Use at most 100 characters for the name (you entered 101)."),
    ],
)
def test_register_rejects_bad_names(owner_client, org, name, message):
    response = post(owner_client, org, "register", register__name=name)
    assert shown_step(response) == "register"
    assert form_errors(response)["name"] == [message]


def test_register_accepts_100_characters_and_trims(owner_client, org):
    response = post(owner_client, org, "register", register__name=f"  {'x' * 100}  ")
    assert shown_step(response) == "ttl"


def test_register_rejects_a_name_taken_in_the_org_whatever_the_case(
    owner_client, org, owner
):
    services.oauth_app_create(
        organization=org,
        created_by=owner,
        name="Billing Sync",
        access_token_ttl_minutes=30,
        scopes=["org:member"],
    )
    response = post(owner_client, org, "register", register__name="billing sync")
    assert shown_step(response) == "register"
    assert form_errors(response)["name"] == [
        "An app named “billing sync” already exists in Acme Corp. Choose another name."
    ]


def test_the_same_name_is_fine_in_another_org(owner_client, org, outsider):
    other_org = outsider.memberships.get().organization
    services.oauth_app_create(
        organization=other_org,
        created_by=outsider,
        name="Billing Sync",
        access_token_ttl_minutes=30,
        scopes=["org:member"],
    )
    assert shown_step(post(owner_client, org, "register")) == "ttl"


def test_register_limits_the_description(owner_client, org):
    response = post(owner_client, org, "register", register__description="d" * 1001)
    assert form_errors(response)["description"] == [
        "Keep the description to 1000 characters (you entered 1001)."
    ]
    assert (
        shown_step(post(owner_client, org, "register", register__description=""))
        == "ttl"
    )


# Access Token TTL ------------------------------------------------------------------------

MINIMUM = (
    "The Access Token TTL must be between 1 and 300 minutes. The minimum is 1 minute."
)
MAXIMUM = "The Access Token TTL must be between 1 and 300 minutes. The maximum is 300 minutes (5 hours)."


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter the Access Token TTL in minutes, from 1 to 300."),
        ("   ", "Enter the Access Token TTL in minutes, from 1 to 300."),
        ("0", MINIMUM),
        ("-0", MINIMUM),
        ("-5", MINIMUM),
        ("301", MAXIMUM),
        ("1000000000", MAXIMUM),
        ("9" * 5000, MAXIMUM),
        ("abc", "Enter the TTL as a number of minutes, for example 30."),
        ("1e3", "Enter the TTL as a number of minutes, for example 30."),
        ("30 minutes", "Enter the TTL as a number of minutes, for example 30."),
        ("1.5", "Enter a whole number of minutes, without decimals (for example 30)."),
        ("30.0", "Enter a whole number of minutes, without decimals (for example 30)."),
        (",5", "Enter a whole number of minutes, without decimals (for example 30)."),
    ],
)
def test_ttl_rejects_anything_outside_1_to_300_whole_minutes(
    owner_client, org, value, message
):
    response = post(owner_client, org, "ttl", ttl__access_token_ttl_minutes=value)
    assert response.status_code == 200
    assert shown_step(response) == "ttl"
    assert form_errors(response)["access_token_ttl_minutes"] == [message]
    assert OAuthApp.objects.count() == 0


@pytest.mark.parametrize(
    ("value", "minutes"), [("1", 1), ("300", 300), (" 45 ", 45), ("030", 30), ("+7", 7)]
)
def test_ttl_accepts_whole_minutes_from_1_to_300(owner_client, org, value, minutes):
    response = post(owner_client, org, "scopes", ttl__access_token_ttl_minutes=value)
    assert shown_step(response) == "review"
    assert response.context["wizard"].summary()["access_token_ttl_minutes"] == minutes


# Scopes ----------------------------------------------------------------------------------


def test_scopes_require_at_least_one(owner_client, org):
    response = post(owner_client, org, "scopes", scopes__scopes=None)
    assert shown_step(response) == "scopes"
    assert form_errors(response)["scopes"] == [
        "Choose at least one scope: an organization role or a service role."
    ]


def test_scopes_reject_a_scope_outside_the_catalog(owner_client, org):
    response = post(owner_client, org, "scopes", scopes__scopes=["svc:nope:admin"])
    assert shown_step(response) == "scopes"
    assert form_errors(response)["scopes"] == [
        "“svc:nope:admin” is not a scope you can choose. Pick from the list."
    ]


def test_select_all_roles_is_expanded_on_the_server(owner_client, org):
    response = post(
        owner_client,
        org,
        "scopes",
        scopes__scopes=None,
        scopes__select_all=["log-analytics"],
    )
    assert shown_step(response) == "review"
    assert response.context["wizard"].summary()["scopes"] == [
        "svc:log-analytics:admin",
        "svc:log-analytics:analyst",
        "svc:log-analytics:operator",
        "svc:log-analytics:viewer",
    ]


def test_select_all_roles_ticks_the_group_when_coming_back(owner_client, org):
    response = post(
        owner_client,
        org,
        "review",
        nav="back",
        scopes__scopes=None,
        scopes__select_all=["billing"],
    )
    html = response.content.decode()
    assert re.search(r'value="svc:billing:viewer"[^>]*checked', html)
    assert re.search(r'value="svc:billing:admin"[^>]*checked', html)
    assert re.search(r'name="scopes-select_all" value="billing"[^>]*checked', html)


def test_select_all_rejects_an_unknown_group(owner_client, org):
    response = post(owner_client, org, "scopes", scopes__select_all=["bogus"])
    assert shown_step(response) == "scopes"
    assert "select_all" in form_errors(response)


def test_scopes_step_lists_org_roles_and_every_service_with_its_roles(
    owner_client, org_with_compute
):
    response = post(owner_client, org_with_compute, "ttl")
    html = response.content.decode()
    for scope in ("org:owner", "org:admin", "org:member"):
        assert f'value="{scope}"' in html
    for role in ServiceRole.objects.select_related("service"):
        assert f'value="svc:{role.service.slug}:{role.slug}"' in html
    groups = {group.key: group for group in response.context["wizard"].catalog.groups}
    assert groups["compute"].in_org and not groups["billing"].in_org


def test_services_the_org_lacks_are_marked_but_selectable(
    owner_client, org_with_compute
):
    response = post(owner_client, org_with_compute, "ttl")
    html = response.content.decode()
    billing = html[html.index('data-scope-group="billing"') :]
    billing = billing[: billing.index("</fieldset>")]
    assert "Not in this organization" in billing
    compute = html[html.index('data-scope-group="compute"') :]
    compute = compute[: compute.index("</fieldset>")]
    assert "Not in this organization" not in compute

    response = post(
        owner_client, org_with_compute, "scopes", scopes__scopes=["svc:billing:viewer"]
    )
    assert shown_step(response) == "review"
    assert "Acme Corp does not contain Billing" in response.content.decode()


# Review ----------------------------------------------------------------------------------


def test_review_shows_everything_that_will_be_created(owner_client, org):
    response = post(owner_client, org, "scopes")
    assert shown_step(response) == "review"
    html = response.content.decode()
    for text in (
        "Server to server app",
        "Billing Sync",
        "Nightly export of invoices.",
        "45 minutes",
        "Member",
        "Compute",
        ">Create<",
    ):
        assert text in html
    assert OAuthApp.objects.count() == 0


@pytest.mark.parametrize(
    ("tampered", "value", "step"),
    [
        ("type__app_type", "web_app", "type"),
        ("register__name", "", "register"),
        ("ttl__access_token_ttl_minutes", "9000", "ttl"),
        ("scopes__scopes", ["svc:compute:superuser"], "scopes"),
    ],
)
def test_a_tampered_earlier_step_sends_the_user_back_to_it(
    owner_client, org, tampered, value, step
):
    response = post(owner_client, org, "review", **{tampered: value})
    assert response.status_code == 200
    assert shown_step(response) == step
    assert form_errors(response)
    assert OAuthApp.objects.count() == 0


def test_a_role_removed_from_the_catalog_meanwhile_sends_the_user_back_to_scopes(
    owner_client, org
):
    ServiceRole.objects.filter(service__slug="compute", slug="viewer").delete()
    response = post(owner_client, org, "review")
    assert shown_step(response) == "scopes"
    assert OAuthApp.objects.count() == 0


@pytest.mark.parametrize(
    ("error", "step", "field"),
    [
        ({"name": "Taken."}, "register", "name"),
        ({"description": "Too long."}, "register", "description"),
        ({"access_token_ttl_minutes": "Too long."}, "ttl", "access_token_ttl_minutes"),
        ({"scopes": "Unknown scope."}, "scopes", "scopes"),
        ({"client_type": "Odd."}, "review", "__all__"),
    ],
)
def test_a_service_error_lands_on_the_step_that_owns_the_field(
    org, rf, error, step, field
):
    data = {**VALID, "step": "review", "nav": "next"}
    request = rf.post("/", data)
    wizard = Wizard(request.POST, org=org)
    assert wizard.is_complete
    wizard.show_service_error(ValidationError(error))
    assert not wizard.is_complete
    assert wizard.step.slug == step
    assert wizard.form.errors[field] == list(error.values())


def test_a_service_error_without_a_field_lands_on_review(org, rf):
    request = rf.post("/", {**VALID, "step": "review", "nav": "next"})
    wizard = Wizard(request.POST, org=org)
    wizard.show_service_error(ValidationError("The catalog changed."))
    assert wizard.step.slug == "review"
    assert wizard.form.non_field_errors() == ["The catalog changed."]


# Create and the one-time secret ------------------------------------------------------------


def secret_in(response) -> str:
    match = re.search(
        r'<textarea id="credentials-client-secret"[^>]*>([^<]+)</textarea>',
        response.content.decode(),
    )
    assert match, "no secret in the response"
    return match.group(1)


def test_create_makes_the_app_and_shows_the_secret_once_in_the_popup(
    owner_client, org, owner
):
    response = post(owner_client, org, "review")
    assert response.status_code == 200
    app = OAuthApp.objects.get()
    assert app.name == "Billing Sync"
    assert app.description == "Nightly export of invoices."
    assert app.access_token_ttl_minutes == 45
    assert app.scopes == ["org:member", "svc:compute:viewer"]
    assert app.organization == org and app.created_by == owner
    assert app.client_type == OAuthApp.CLIENT_CONFIDENTIAL
    assert app.authorization_grant_type == OAuthApp.GRANT_CLIENT_CREDENTIALS

    html = response.content.decode()
    assert "<html" in html  # without htmx: a full page at the POST URL
    assert '<dialog id="credentials-dialog"' in html and "data-onload-showmodal" in html
    assert "OAuth app created" in html
    assert "This is the only time the client secret is shown." in html
    assert app.client_id in html
    secret = secret_in(response)
    assert len(secret) >= 40
    # The database keeps only a fast salted hash.
    assert secret not in app.client_secret
    assert app.client_secret.startswith("console_secret_sha256$")
    assert check_password(secret, app.client_secret)
    assert html.count(secret) == 1
    assert "no-store" in response.headers["Cache-Control"]


def test_the_secret_is_in_no_session_message_audit_event_or_notification(
    owner_client, org
):
    response = post(owner_client, org, "review")
    secret = secret_in(response)
    session = owner_client.session
    assert all(secret not in str(value) for value in session.values())
    for event in AuditEvent.objects.all():
        assert secret not in json.dumps(event.data) and secret not in event.target_label
    assert not Notification.objects.filter(body__contains=secret).exists()
    assert secret not in owner_client.get(create_url(org)).content.decode()


def test_download_json_is_a_data_url_of_the_credentials_document(owner_client, org):
    response = post(owner_client, org, "review")
    app = OAuthApp.objects.get()
    html = response.content.decode()
    match = re.search(
        r'href="data:application/json;base64,([A-Za-z0-9+/=]+)" download="([^"]+)"',
        html,
    )
    assert match
    assert match.group(2) == "billing-sync-credentials.json"
    document = json.loads(base64.b64decode(match.group(1)))
    assert document == {
        "type": "server_to_server",
        "name": "Billing Sync",
        "description": "Nightly export of invoices.",
        "client_id": app.client_id,
        "client_secret": secret_in(response),
        "org_id": str(org.pk),
        "issuer": document["issuer"],
        "token_endpoint": f"{document['issuer']}/oauth/token",
        "scopes": ["org:member", "svc:compute:viewer"],
        "access_token_ttl_minutes": 45,
        "created_at": app.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "client_secret_expires_at": None,  # the org has no secret expiry policy
    }


def test_htmx_create_returns_the_fragment_and_pushes_the_app_page_url(
    owner_client, org
):
    response = post(owner_client, org, "review", htmx=True)
    app = OAuthApp.objects.get()
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="wizard"')
    assert '<dialog id="credentials-dialog"' in html
    assert response.headers["HX-Push-Url"] == reverse(
        "oauthapps:app_detail", args=[org.pk, app.pk]
    )


def test_a_double_submitted_create_makes_one_app_and_no_second_secret(
    owner_client, org
):
    first = post(owner_client, org, "review")
    secret = secret_in(first)
    second = post(owner_client, org, "review")
    assert OAuthApp.objects.count() == 1
    assert second.status_code == 200
    assert shown_step(second) == "register"
    assert form_errors(second)["name"] == [
        "An app named “Billing Sync” already exists in Acme Corp. Choose another name."
    ]
    html = second.content.decode()
    assert secret not in html and "credentials-dialog" not in html
    assert AuditEvent.objects.filter(action="app.create").count() == 1


def test_after_create_neither_the_wizard_nor_the_app_page_shows_the_secret(
    owner_client, org
):
    secret = secret_in(post(owner_client, org, "review"))
    app = OAuthApp.objects.get()
    again = owner_client.get(create_url(org))
    assert shown_step(again) == "type" and secret not in again.content.decode()
    page = owner_client.get(reverse("oauthapps:app_detail", args=[org.pk, app.pk]))
    assert page.status_code == 200
    assert secret not in page.content.decode()
    assert app.client_id in page.content.decode()


def test_owners_continue_to_add_to_organization(owner_client, org):
    response = post(owner_client, org, "review")
    app = OAuthApp.objects.get()
    add_url = reverse("oauthapps:app_add_to_org", args=[org.pk, app.pk])
    assert f'href="{add_url}?wizard=1"' in response.content.decode()


@pytest.mark.parametrize("persona", ["administrator", "developer"])
def test_others_continue_to_the_app_page_and_are_told_an_owner_can_add_it(
    client_as, org, persona, request
):
    client = client_as(request.getfixturevalue(persona))
    response = post(client, org, "review")
    app = OAuthApp.objects.get()
    html = response.content.decode()
    app_url = reverse("oauthapps:app_detail", args=[org.pk, app.pk])
    assert f'data-confirm-close-href="{app_url}"' in html
    assert "An Owner of the organization can add it later" in html
    assert "add-to-organization" not in html


def test_an_unconfirmed_address_cannot_create_an_app(client_as, org):
    person = UserFactory(email="unconfirmed@example.com", verified_email=False)
    MembershipFactory(organization=org, user=person, role="owner")
    client = client_as(person)
    for response in (client.get(create_url(org)), post(client, org, "review")):
        assert response.status_code == 200
        assert "Confirm your email address first" in response.content.decode()
    assert OAuthApp.objects.count() == 0
