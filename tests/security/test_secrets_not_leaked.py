"""Secrets never reach logs, error pages, admin list pages or audit data.

One realistic session is replayed with every log record captured (root at DEBUG, the production
LOGGING otherwise): sign-in with a wrong then the right password, the wizard's Create, adding the
app to the org, an invitation signed up from and accepted, tokens by Basic and by form, a wrong
secret, introspection, an API call, revocation, Regenerate and Rotate, and a crash inside the
token endpoint. Then every secret seen on the way — passwords, client secrets, their stored
hashes, access tokens, the invitation's key and its hash — is looked for in the captured logs, in
the crash's response, in every admin changelist and in the audit trail.
"""

import base64
import json
import logging
import re
from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse

from console.accounts.models import Invitation
from oauthapps.models import OAuthApp
from oauthapps.services import secret_fingerprint
from orgs.models import AuditEvent, Notification
from tests.accounts.conftest import link_in
from tests.factories import PASSWORD

SECRET_IN_PAGE = re.compile(r'id="credentials-client-secret"[^>]*>([^<]+)<')
WRONG_PASSWORD = "Tr0ub4dor&3-wrong"
FORM = "application/x-www-form-urlencoded"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def secret_on(response) -> str:
    match = SECRET_IN_PAGE.search(response.content.decode())
    assert match, "the credentials pop-up shows the secret"
    return match.group(1).strip()


class Session:
    """Everything secret the replay saw, to look for afterwards."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}

    def keep(self, name: str, value: str) -> str:
        assert value and len(value) >= 8, name
        self.secrets[name] = value
        return value


@pytest.fixture
def replay(org, owner, catalog, contains, caplog, capsys, monkeypatch):
    contains(org, "compute")
    caplog.set_level(logging.DEBUG)
    seen = Session()
    seen.keep("password", PASSWORD)
    seen.keep("wrong password", WRONG_PASSWORD)
    browser, script = Client(), Client()

    # Sign in: a wrong password, then the right one.
    login = reverse("login")
    browser.post(login, {"login": owner.email, "password": WRONG_PASSWORD})
    assert (
        browser.post(login, {"login": owner.email, "password": PASSWORD}).status_code
        == 302
    )

    # The wizard's Create, then add the app to the org.
    wizard = reverse("oauthapps:app_create", args=[org.pk])
    created = browser.post(
        wizard,
        {
            "step": "review",
            "nav": "next",
            "type-app_type": "server_to_server",
            "register-name": "Leak check",
            "ttl-access_token_ttl_minutes": "30",
            "scopes-scopes": ["org:member", "svc:compute:viewer"],
        },
    )
    secret = seen.keep("client secret", secret_on(created))
    app = OAuthApp.objects.get(name="Leak check")
    seen.keep("secret hash", app.client_secret)
    app_args = [org.pk, app.pk]
    browser.post(reverse("oauthapps:app_add_to_org", args=app_args))

    # Tokens: Basic, form, a wrong secret, then introspection, the API and revocation.
    grant = urlencode({"grant_type": "client_credentials"})
    token = json.loads(
        script.post("/oauth/token", grant, content_type=FORM,
                    headers={"Authorization": basic(app.client_id, secret)}).content
    )["access_token"]  # fmt: skip
    seen.keep("access token", token)
    form = {"grant_type": "client_credentials", "client_id": app.client_id,
            "client_secret": secret}  # fmt: skip
    seen.keep(
        "access token (form)",
        json.loads(
            script.post("/oauth/token", urlencode(form), content_type=FORM).content
        )["access_token"],
    )
    near_miss = seen.keep("near-miss secret", secret[:-4] + "XXXX")
    assert script.post("/oauth/token", grant, content_type=FORM,
                       headers={"Authorization": basic(app.client_id, near_miss)}).status_code == 401  # fmt: skip
    auth = {"Authorization": basic(app.client_id, secret)}
    assert script.post("/oauth/introspect", urlencode({"token": token}), content_type=FORM,
                       headers=auth).status_code == 200  # fmt: skip
    assert script.get(f"/api/v1/orgs/{org.pk}",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200  # fmt: skip
    assert script.post("/oauth/revoke", urlencode({"token": token}), content_type=FORM,
                       headers=auth).status_code == 200  # fmt: skip
    # A revoked token used anyway (logged as a 401).
    assert script.get(f"/api/v1/orgs/{org.pk}",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 401  # fmt: skip

    # An invitation: the link's key travels only in the email; the newcomer signs up from it
    # and accepts.
    browser.post(
        reverse("accounts:invitation_create", args=[org.pk]),
        {"email": "invitee@example.com", "role": "member"},
    )
    link = link_in(mail.outbox[-1], "/invitations/")
    seen.keep("invitation key", link.strip("/").rsplit("/", 1)[1])
    seen.keep("invitation key hash", Invitation.objects.get().key_hash)
    newcomer = Client()
    assert newcomer.get(link).status_code == 200
    newcomer.post(
        reverse("account_signup"),
        {"email": "invitee@example.com", "password1": PASSWORD, "next": link},
    )
    assert newcomer.post(link).status_code == 302

    # Regenerate, then Rotate.
    regenerated = browser.post(
        reverse("oauthapps:app_regenerate_secret", args=app_args),
        {"fingerprint": secret_fingerprint(app)},
    )
    seen.keep("regenerated secret", secret_on(regenerated))
    app.refresh_from_db()
    seen.keep("regenerated hash", app.client_secret)
    rotated = browser.post(
        reverse("oauthapps:app_rotate_secret", args=app_args),
        {"fingerprint": secret_fingerprint(app), "overlap_hours": "24"},
    )
    seen.keep("rotated secret", secret_on(rotated))
    app.refresh_from_db()
    seen.keep("rotated hash", app.client_secret)

    # A crash inside the token endpoint, with a secret in the body.
    from oauthapps.tokens import views as token_views

    def explode(*args, **kwargs):
        raise RuntimeError("simulated failure in the token endpoint")

    monkeypatch.setattr(token_views.oauthlib_core(), "create_token_response", explode)
    crashing = Client(raise_request_exception=False)
    crash = crashing.post("/oauth/token", urlencode(form), content_type=FORM)
    assert crash.status_code == 500
    seen.crash = crash
    seen.app = app
    seen.logs = caplog.text + "\n".join(
        f"{record.getMessage()} {record.args} {getattr(record, 'request', '')}"
        for record in caplog.records
    )
    captured = capsys.readouterr()
    seen.logs += captured.out + captured.err
    return seen


def assert_free_of_secrets(text: str, seen: Session, where: str) -> None:
    for name, value in seen.secrets.items():
        assert value not in text, f"the {name} appears in {where}"


def test_logs_hold_no_secret(replay):
    assert "Unauthorized: /oauth/token" in replay.logs  # the capture saw the session
    assert "simulated failure in the token endpoint" in replay.logs
    assert_free_of_secrets(replay.logs, replay, "the logs")


def test_a_crash_answers_json_without_the_request(replay):
    assert replay.crash["Content-Type"] == "application/json"
    assert json.loads(replay.crash.content)["error"] == "server_error"
    assert_free_of_secrets(replay.crash.content.decode(), replay, "the error response")


def test_audit_events_and_notifications_hold_no_secret(replay):
    audit = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert "app.regenerate_secret" in audit and "app.rotate_secret" in audit
    assert "invitation.accept" in audit
    assert_free_of_secrets(audit, replay, "the audit trail")
    notes = json.dumps(list(Notification.objects.values()), default=str)
    assert_free_of_secrets(notes, replay, "notifications")


def test_admin_list_pages_hold_no_secret(replay, client_as):
    staff = client_as(
        User.objects.create_superuser("root@example.com", "root@example.com", "x")
    )
    pages = 0
    for model in admin.site._registry:
        url = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
        )
        response = staff.get(url)
        assert response.status_code == 200, url
        assert_free_of_secrets(response.content.decode(), replay, url)
        pages += 1
    assert pages >= 8


def test_the_app_page_never_shows_the_secret_again(replay, client_as, owner, org):
    page = client_as(owner).get(
        reverse("oauthapps:app_detail", args=[org.pk, replay.app.pk])
    )
    assert page.status_code == 200
    assert_free_of_secrets(page.content.decode(), replay, "the app page")
