"""Every form of the console, fed hostile input through its real view (hypothesis): never a 5xx,
never markup echoed unescaped, and all or nothing — a refused submission changes no row, an
accepted one changes exactly what it should."""

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from console.accounts.models import Invitation
from oauthapps.models import OAuthApp
from oauthapps.services import secret_fingerprint
from orgs.models import Membership, Organization
from tests.factories import UserFactory
from tests.property.state import changed, count, snapshot
from tests.property.strategies import (
    FORM_SETTINGS,
    MARKUP_PROBE,
    checkbox,
    emails,
    form,
    text,
)

ROLES = st.one_of(st.sampled_from(["owner", "admin", "member"]), text)


def post(client: Client, url: str, data: dict, **headers: str):
    return client.post(url, form(data), headers=headers)


def assert_safe(response, data: dict) -> None:
    assert response.status_code < 500
    if MARKUP_PROBE in repr(data):
        assert MARKUP_PROBE not in response.content.decode(errors="replace")


@pytest.fixture
def app(org, owner, make_app, contains) -> OAuthApp:
    contains(org, "compute")
    return make_app(org, scopes=["org:member", "svc:compute:viewer"], add_to=[org]).app


@pytest.fixture
def newcomer(db):
    return UserFactory(email="newcomer@example.com")


@pytest.fixture
def signup_target(db):
    UserFactory(email="taken@example.com")


@FORM_SETTINGS
@given(data=st.fixed_dictionaries({"email": emails, "password1": text}))
def test_signup(signup_target, data):
    before, users = snapshot(), count("auth.User")
    response = post(Client(), reverse("signup"), data)
    assert_safe(response, data)
    if response.status_code == 302:
        # A new address gets an account waiting for confirmation; a taken one the same answer
        # and no account (allauth's enumeration prevention).
        assert count("auth.User") in (users, users + 1)
        assert response["Location"] == reverse("account_email_verification_sent")
    elif (
        response.status_code == 429
    ):  # allauth's sign-up rate limit, after many examples
        assert int(response["Retry-After"]) > 0
        assert not changed(before, snapshot())
    else:
        assert response.status_code == 200
        assert (
            'role="alert"' in response.content.decode()
            or "errorlist" in response.content.decode()
        )
        assert not changed(before, snapshot())


@FORM_SETTINGS
@given(
    data=st.fixed_dictionaries(
        {"login": emails, "password": text, "next": st.one_of(st.none(), text)}
    )
)
def test_sign_in(owner, data):
    before = snapshot()
    response = post(Client(), reverse("login"), data)
    assert_safe(response, data)
    assert response.status_code in (200, 429)  # refused, or locked out after repeats
    assert not changed(before, snapshot())


@FORM_SETTINGS
@given(data=st.fixed_dictionaries({"name": text}))
def test_org_create(owner, data):
    client = Client()
    client.force_login(owner)
    before, orgs = snapshot(), count("orgs.Organization")
    response = post(client, reverse("orgs:org_create"), data)
    assert_safe(response, data)
    if response.status_code == 302:
        assert count("orgs.Organization") == orgs + 1
        created = Organization.objects.latest("created_at")
        assert created.name == data["name"].strip() and created.name
        assert created.memberships.get().role == Membership.Role.OWNER
    else:
        assert response.status_code == 200
        assert not changed(before, snapshot())


@FORM_SETTINGS
@given(
    data=st.fixed_dictionaries(
        {
            "email": st.one_of(st.just("newcomer@example.com"), emails),
            "role": ROLES,
            "is_developer": checkbox,
        }  # fmt: skip
    ),
    as_admin=st.booleans(),
)
def test_member_invite(org, owner, administrator, newcomer, data, as_admin):
    client = Client()
    client.force_login(administrator if as_admin else owner)
    before, invitations = snapshot(), count("accounts.Invitation")
    response = post(client, reverse("accounts:invitation_create", args=[org.pk]), data)
    assert_safe(response, data)
    if response.status_code == 302:
        assert count("accounts.Invitation") == invitations + 1
        invited = Invitation.objects.latest("created_at")
        assert invited.role == data["role"]
        assert not (as_admin and invited.role == Membership.Role.OWNER)
        invited.delete()  # the next example may invite the same address again
    else:
        assert response.status_code == 200
        assert not changed(before, snapshot())


@FORM_SETTINGS
@given(
    data=st.fixed_dictionaries({"role": ROLES, "is_developer": checkbox}),
    target_owner=st.booleans(),
)
def test_member_change(org, owner, member, data, target_owner):
    target = Membership.objects.get(
        organization=org, user=owner if target_owner else member
    )
    client = Client()
    client.force_login(owner)
    before = snapshot()
    response = post(
        client, reverse("orgs:member_change", args=[org.pk, target.pk]), data
    )
    assert_safe(response, data)
    if response.status_code == 200:
        assert not changed(before, snapshot())
    else:
        assert response.status_code == 302
        target.refresh_from_db()
        if target.role != data["role"]:  # refused by the service (e.g. the last Owner)
            assert not changed(before, snapshot())
    # Whatever happened, the org keeps an Owner.
    assert Membership.objects.filter(organization=org, role="owner").exists()


WIZARD_FIELDS = {
    "step": st.one_of(st.sampled_from(["type", "register", "ttl", "scopes", "review"]), text),
    "nav": st.one_of(st.sampled_from(["next", "back"]), text),
    "type-app_type": st.one_of(st.just("server_to_server"), text),
    "register-name": st.one_of(st.sampled_from(["Billing sync", "billing SYNC"]), text),
    "register-description": st.one_of(st.none(), text),
    "ttl-access_token_ttl_minutes": st.one_of(
        st.sampled_from(["30", "1", "300", "0", "301", "abc", "1.5", "٣٠", "9" * 400]), text
    ),
    "scopes-scopes": st.lists(
        st.one_of(st.sampled_from(["org:member", "org:owner", "svc:compute:viewer",
                                   "svc:billing:admin"]), text), max_size=4),  # fmt: skip
    "scopes-select_all": st.lists(st.one_of(st.sampled_from(["org", "svc:compute"]), text), max_size=2),
}  # fmt: skip


@FORM_SETTINGS
@given(data=st.fixed_dictionaries(WIZARD_FIELDS), htmx=st.booleans())
def test_wizard_steps(org, owner, catalog, data, htmx):
    client = Client()
    client.force_login(owner)
    before, apps = snapshot(), count("oauthapps.OAuthApp")
    headers = {"HX-Request": "true"} if htmx else {}
    response = post(
        client, reverse("oauthapps:app_create", args=[org.pk]), data, **headers
    )
    assert_safe(response, data)
    assert response.status_code == 200
    if "OAuth app created" in response.content.decode():
        assert count("oauthapps.OAuthApp") == apps + 1
        created = OAuthApp.objects.latest("created")
        assert 1 <= created.access_token_ttl_minutes <= 300
        assert created.scopes
        created.delete()  # free the name for the next example
    else:
        assert not changed(before, snapshot())


@FORM_SETTINGS
@given(
    data=st.fixed_dictionaries(
        {k: v for k, v in WIZARD_FIELDS.items() if k.split("-")[0] in ("register", "ttl", "scopes")}
    )
)  # fmt: skip
def test_app_edit(org, owner, app, data):
    client = Client()
    client.force_login(owner)
    before = snapshot()
    response = post(client, reverse("oauthapps:app_edit", args=[org.pk, app.pk]), data)
    assert_safe(response, data)
    if response.status_code == 302:
        app.refresh_from_db()
        assert app.name == data["register-name"].strip()
        assert 1 <= app.access_token_ttl_minutes <= 300
        assert app.scopes
    else:
        assert response.status_code == 200
        assert not changed(before, snapshot())


@FORM_SETTINGS
@given(
    overlap=st.one_of(
        st.sampled_from(["1", "48", "168", "0", "169", "-1", "4.5"]), text
    ),
    real_fingerprint=st.booleans(),
    fingerprint=text,
)
def test_rotate_secret(org, owner, app, overlap, real_fingerprint, fingerprint):
    app.refresh_from_db()
    data = {
        "overlap_hours": overlap,
        "fingerprint": secret_fingerprint(app) if real_fingerprint else fingerprint,
    }
    client = Client()
    client.force_login(owner)
    before = snapshot()
    response = post(
        client, reverse("oauthapps:app_rotate_secret", args=[org.pk, app.pk]), data
    )
    assert_safe(response, data)
    assert response.status_code == 200
    if "New client secret" in response.content.decode():
        assert 1 <= int(overlap) <= 168
        app.refresh_from_db()
        assert app.previous_client_secret
        app.previous_client_secret, app.previous_secret_expires_at = "", None
        app.save()  # end the overlap so the next example may rotate again
    else:
        assert not changed(before, snapshot())


@FORM_SETTINGS
@given(
    confirm=st.one_of(
        text, st.sampled_from(["app 1", "App  1", "App 1.", "App\u00a01"])
    )
)
def test_delete_confirmation(org, owner, app, confirm):
    client = Client()
    client.force_login(owner)
    before = snapshot()
    response = post(
        client,
        reverse("oauthapps:app_delete", args=[org.pk, app.pk]),
        {"confirm_name": confirm},
    )
    assert_safe(response, {"confirm_name": confirm})
    # Only the exact name deletes (and this app must survive for the next example).
    assert confirm.strip() != app.name
    assert response.status_code == 200
    assert not changed(before, snapshot())


@FORM_SETTINGS
@given(client_id=st.one_of(text, st.just("")))
def test_add_by_client_id(org, owner, app, client_id):
    client = Client()
    client.force_login(owner)
    before = snapshot()
    response = post(
        client,
        reverse("oauthapps:app_add_by_client_id", args=[org.pk]),
        {"client_id": client_id},
    )
    assert_safe(response, {"client_id": client_id})
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert not changed(before, snapshot())


@FORM_SETTINGS
@given(
    query=st.dictionaries(
        st.sampled_from(["action", "app", "actor", "page", "x"]), text, max_size=4
    )
)
def test_audit_log_filters(org, owner, query):
    client = Client()
    client.force_login(owner)
    response = client.get(reverse("oauthapps:audit_log", args=[org.pk]), query)
    assert_safe(response, query)
    assert response.status_code == 200
