"""Secret expiry under the organization's policy: new, regenerated and rotated secrets get
`secret_expires_at` (in the credentials JSON, on the app page, in Django admin), and the daily
`notify_expiring_secrets` command tells the owning organization's Owners 14 and 3 days before,
each notice once."""

import base64
import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from oauthapps import services
from oauthapps.models import OAuthApp, SecretExpiryNotice
from oauthapps.services import secret_expiry_notices_send
from orgs.models import AuditEvent, Membership, Notification
from tests.factories import MembershipFactory
from tests.oauthapps.effects import shown_secret, token_response


def url(name: str, org, app) -> str:
    return reverse(f"oauthapps:{name}", args=[org.pk, app.pk])


@pytest.fixture
def policy_org(org):
    org.secret_expiry_days = 90
    org.save(update_fields=["secret_expiry_days"])
    return org


@pytest.fixture
def creds(policy_org, make_app):
    return make_app(
        policy_org, name="Billing Sync", scopes=["org:member"], add_to=[policy_org]
    )


def app_of(creds) -> OAuthApp:
    return OAuthApp.objects.select_related("organization").get(pk=creds.app.pk)


def expires_in(creds, delta: timedelta, *, now=None) -> OAuthApp:
    now = now or timezone.now()
    OAuthApp.objects.filter(pk=creds.app.pk).update(secret_expires_at=now + delta)
    return app_of(creds)


def document_in(response) -> dict:
    match = re.search(
        r'href="data:application/json;base64,([A-Za-z0-9+/=]+)"',
        response.content.decode(),
    )
    return json.loads(base64.b64decode(match.group(1)))


# New secrets get the policy's expiry --------------------------------------------------------


def test_without_a_policy_secrets_never_expire(org, make_app):
    creds = make_app(org, scopes=["org:member"])
    assert app_of(creds).secret_expires_at is None


def test_a_new_secret_expires_after_the_policys_days_and_the_audit_says_when(creds):
    app = app_of(creds)
    assert app.secret_expires_at == app.secret_created_at + timedelta(days=90)
    event = AuditEvent.objects.get(action="app.create")
    assert event.data["secret_expires_at"] == app.secret_expires_at.isoformat()


def test_regenerating_gives_a_fresh_expiry_shown_in_the_pop_up_and_the_json(
    client_as, policy_org, owner, creds
):
    before = expires_in(creds, timedelta(days=2))
    response = client_as(owner).post(
        url("app_regenerate_secret", policy_org, before),
        {"fingerprint": services.secret_fingerprint(before)},
    )
    app = app_of(creds)
    assert app.secret_expires_at - timezone.now() > timedelta(days=89)
    html = response.content.decode()
    assert "This secret expires on" in html
    document = document_in(response)
    assert document["client_secret"] == shown_secret(response)
    assert document["client_secret_expires_at"] == app.secret_expires_at.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_rotating_gives_the_new_secret_a_fresh_expiry(
    client_as, policy_org, owner, creds
):
    before = expires_in(creds, timedelta(days=10))
    response = client_as(owner).post(
        url("app_rotate_secret", policy_org, before),
        {"fingerprint": services.secret_fingerprint(before), "overlap_hours": "48"},
    )
    app = app_of(creds)
    assert app.secret_expires_at - timezone.now() > timedelta(days=89)
    # The previous secret keeps the 48 hours of overlap (its own expiry is later).
    assert app.previous_secret_expires_at < before.secret_expires_at
    assert document_in(response)["client_secret_expires_at"] is not None
    assert (
        token_response(
            client_as(None), app.client_id, shown_secret(response)
        ).status_code
        == 200
    )


def test_a_policy_change_leaves_existing_secrets_as_they_are(policy_org, creds, owner):
    made = app_of(creds).secret_expires_at
    policy_org.secret_expiry_days = None
    policy_org.save(update_fields=["secret_expiry_days"])
    assert app_of(creds).secret_expires_at == made
    app, _ = services.oauth_app_regenerate_secret(
        app=app_of(creds), regenerated_by=owner
    )
    assert app.secret_expires_at is None


def test_the_app_page_shows_the_expiry_and_warns_before_and_after(
    client_as, policy_org, owner, creds
):
    page = url("app_detail", policy_org, creds.app)
    html = client_as(owner).get(page).content.decode()
    assert 'data-testid="secret-expires"' in html
    assert "secret-expiring" not in html

    expires_in(creds, timedelta(days=5))
    html = client_as(owner).get(page).content.decode()
    assert 'data-testid="secret-expiring"' in html
    assert "This secret expires in 5" in html or "This secret expires in 4" in html

    expires_in(creds, -timedelta(minutes=1))
    html = client_as(owner).get(page).content.decode()
    assert 'data-testid="secret-expired"' in html
    assert "the token endpoint refuses it" in html


def test_django_admin_shows_the_secrets_expiry(client_as, creds, db):
    from tests.factories import UserFactory

    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    response = client_as(staff).get(
        reverse("admin:oauthapps_oauthapp_change", args=[creds.app.pk])
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Secret expires at" in html
    assert app_of(creds).secret_expires_at.strftime("%Y") in html
    assert "Any address" in html  # the IP allowlist, read-only there


# The daily notice ---------------------------------------------------------------------------


@pytest.fixture
def owners(policy_org, owner):
    second = MembershipFactory(
        organization=policy_org,
        role=Membership.Role.OWNER,
        user__email="o2@example.com",
    ).user
    return [owner, second]


def notices_for(user) -> list[Notification]:
    """The user's secret expiry notifications (adding the app to its org made another)."""
    return list(
        Notification.objects.filter(
            user=user, title__startswith="The client secret of"
        ).order_by("id")
    )


def test_owners_are_told_fourteen_days_before_once_however_often_it_runs(
    creds, owners, administrator, developer
):
    now = timezone.now()
    app = expires_in(creds, timedelta(days=13, hours=20), now=now)
    assert secret_expiry_notices_send(now=now) == 1
    assert secret_expiry_notices_send(now=now) == 0
    assert secret_expiry_notices_send(now=now + timedelta(days=1)) == 0

    for owner in owners:
        [notice] = notices_for(owner)
        assert notice.level == "warning"
        assert notice.title == "The client secret of Billing Sync expires in 14 days"
        assert app.client_id in notice.body
        assert "Rotate it with an overlap" in notice.body
        assert notice.link == url("app_detail", app.organization, app)
        assert notice.organization_id == app.organization_id
    # Owners only.
    assert notices_for(administrator) == [] and notices_for(developer) == []


def test_and_again_three_days_before(creds, owners):
    now = timezone.now()
    expires_in(creds, timedelta(days=10), now=now)
    assert secret_expiry_notices_send(now=now) == 1
    assert secret_expiry_notices_send(now=now + timedelta(days=6)) == 0  # 4 days left
    assert secret_expiry_notices_send(now=now + timedelta(days=7)) == 1  # 3 days left
    assert secret_expiry_notices_send(now=now + timedelta(days=8)) == 0
    titles = [n.title for n in notices_for(owners[0])]
    assert titles == [
        "The client secret of Billing Sync expires in 10 days",
        "The client secret of Billing Sync expires in 3 days",
    ]
    assert sorted(SecretExpiryNotice.objects.values_list("days_before", flat=True)) == [
        3,
        14,
    ]


def test_nothing_is_sent_outside_the_windows(creds, owners):
    now = timezone.now()
    expires_in(creds, timedelta(days=14, minutes=1), now=now)
    assert secret_expiry_notices_send(now=now) == 0
    expires_in(creds, -timedelta(minutes=1), now=now)  # already expired
    assert secret_expiry_notices_send(now=now) == 0
    assert notices_for(owners[0]) == []


def test_a_late_run_sends_only_the_notice_of_the_window_it_is_in(creds, owners):
    now = timezone.now()
    expires_in(creds, timedelta(days=2), now=now)
    assert secret_expiry_notices_send(now=now) == 1
    assert [n.title for n in notices_for(owners[0])] == [
        "The client secret of Billing Sync expires in 2 days"
    ]
    assert secret_expiry_notices_send(now=now) == 0


def test_a_new_secret_is_told_about_again(creds, owners, owner):
    now = timezone.now()
    expires_in(creds, timedelta(days=5), now=now)
    assert secret_expiry_notices_send(now=now) == 1
    services.oauth_app_regenerate_secret(app=app_of(creds), regenerated_by=owner)
    expires_in(creds, timedelta(days=5), now=now)  # (as if the policy were short)
    assert secret_expiry_notices_send(now=now) == 1
    assert len(notices_for(owners[0])) == 2


def test_the_management_command_runs_it_and_says_how_many(creds, owners):
    expires_in(creds, timedelta(days=12))
    out = StringIO()
    call_command("notify_expiring_secrets", stdout=out)
    assert out.getvalue().strip() == "Sent 1 secret expiry notice(s)."
    out = StringIO()
    call_command("notify_expiring_secrets", stdout=out)
    assert out.getvalue().strip() == "Sent 0 secret expiry notice(s)."
    assert len(notices_for(owners[0])) == 1
