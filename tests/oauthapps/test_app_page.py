"""The app page: every field, usage (last used, tokens per hour), the secret's age and overlap,
the snippets, what an org the app was only added to sees, and a fixed query budget."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from oauthapps import services
from oauthapps.tokens.models import IssuedToken
from orgs.models import Membership
from tests.factories import MembershipFactory, OrganizationFactory
from tests.oauthapps.effects import token


def page_url(org, app) -> str:
    return reverse("oauthapps:app_detail", args=[org.pk, app.pk])


@pytest.fixture
def creds(org, make_app, contains):
    contains(org, "compute")
    return make_app(
        org,
        name="Billing Sync",
        scopes=["org:member", "svc:compute:viewer", "svc:billing:viewer"],
        ttl=45,
        add_to=[org],
    )


@pytest.fixture
def partner(db, owner):
    """Another org, owned by a partner, to which the app is added."""
    partner = OrganizationFactory(name="Partner Corp")
    MembershipFactory(
        organization=partner, role=Membership.Role.OWNER, user__email="p@example.com"
    )
    return partner


def html_of(client, org, app) -> str:
    response = client.get(page_url(org, app))
    assert response.status_code == 200
    return response.content.decode()


def test_shows_every_field_of_the_app(client_as, org, owner, creds):
    services.oauth_app_update(
        app=creds.app,
        updated_by=owner,
        name="Billing Sync",
        description="Nightly export.",
        access_token_ttl_minutes=45,
        scopes=creds.app.scopes,
    )
    html = html_of(client_as(owner), org, creds.app)
    assert "<h1>Billing Sync</h1>" in html
    assert "Nightly export." in html
    assert "Server to server app" in html
    assert f'value="{creds.client_id}"' in html
    assert 'data-copy-target="#app-client-id"' in html
    assert "45 minutes" in html
    assert f'Acme Corp <code class="muted">{org.pk}</code>' in html
    assert "by owner@example.com" in html
    assert creds.app.created.strftime("%b %-d, %Y") in html
    # Scopes grouped by service; Billing, which Acme Corp lacks, is marked.
    scopes = html[html.index('id="scopes-title"') : html.index('id="orgs-title"')]
    assert re.search(
        r"Billing</span>\s*<span[^>]*>Viewer</span>\s*<span class=\"pill pill-warn\">Not in this organization",
        scopes,
    )
    assert "Compute" in scopes and scopes.count("Not in this organization") == 1
    # The orgs it was added to.
    assert 'data-grant="Acme Corp"' in html
    assert "Does not contain Billing" in html
    assert creds.client_secret not in html


def test_last_used_and_tokens_in_the_last_24_hours(
    client_as, org, owner, creds, api_client
):
    html = html_of(client_as(owner), org, creds.app)
    assert re.search(r'data-testid="last-used">Never<', html)
    assert re.search(r'data-testid="tokens-24h">0<', html)
    assert "No tokens were issued in the last 24 hours." in html

    for _ in range(3):
        token(api_client, creds.client_id, creds.client_secret)
    html = html_of(client_as(owner), org, creds.app)
    assert "Just now" in html
    assert re.search(r'data-testid="tokens-24h">3<', html)
    assert 'data-count="3"' in html
    assert "3 tokens issued in the last 24 hours" in html


def test_the_chart_has_one_bar_per_hour_with_the_hour_counts(
    client_as, org, owner, creds
):
    now = timezone.now()
    rows = [
        (0, 2),
        (1, 5),
        (5, 1),
        (23, 4),
        (30, 7),
    ]  # (hours ago, tokens); 30 h is outside
    for hours_ago, count in rows:
        for _ in range(count):
            IssuedToken.objects.create(
                app=creds.app,
                organization=org,
                scope="org:member",
                issued_at=now - timedelta(hours=hours_ago),
                expires_at=now - timedelta(hours=hours_ago) + timedelta(minutes=45),
            )
    html = html_of(client_as(owner), org, creds.app)
    start = html.index('data-testid="usage-chart"')
    chart = html[start : html.index("</svg>", start)]
    assert chart.count('class="chart-slot"') == 24
    assert sorted(int(n) for n in re.findall(r'data-count="(\d+)"', chart)) == [
        1,
        2,
        4,
        5,
    ]
    assert re.search(r'data-testid="tokens-24h">12<', html)
    assert "busiest hour" in html
    # Peak at the top of the scale; the busiest bar is the full plot height.
    assert ">5</text>" in chart
    assert 'height="100" rx="2" data-count="5"' in chart


def test_the_secret_age_warns_after_90_days(client_as, org, owner, creds):
    app = creds.app
    app.secret_created_at = timezone.now() - timedelta(days=89)
    app.save(update_fields=["secret_created_at"])
    html = html_of(client_as(owner), org, app)
    assert "89 days" in html and "secret-age-warning" not in html

    app.secret_created_at = timezone.now() - timedelta(days=91)
    app.save(update_fields=["secret_created_at"])
    html = html_of(client_as(owner), org, app)
    assert "91 days" in html
    assert "This secret is older than 90 days." in html


def test_a_running_overlap_is_shown_with_its_expiry_and_end_now(
    client_as, org, owner, creds
):
    app, _ = services.oauth_app_rotate_secret(
        app=creds.app, rotated_by=owner, overlap_hours=48
    )
    html = html_of(client_as(owner), org, app)
    assert 'data-testid="overlap"' in html
    assert app.previous_secret_expires_at.strftime("%b %-d, %Y, %H:%M") in html
    assert reverse("oauthapps:app_end_secret_overlap", args=[org.pk, app.pk]) in html

    app.previous_secret_expires_at = timezone.now() - timedelta(minutes=1)
    app.save(update_fields=["previous_secret_expires_at"])
    assert 'data-testid="overlap"' not in html_of(client_as(owner), org, app)


def test_the_snippets_use_the_real_endpoints_and_this_org(
    client_as, org, owner, creds, settings
):
    settings.CONSOLE_ISSUER = "https://console.example.com"
    html = html_of(client_as(owner), org, creds.app)
    curl = html[html.index('id="snippet-curl"') : html.index("</pre>")]
    assert "https://console.example.com" + reverse("oauth:token") in curl
    assert f"-d orgId={org.pk}" in curl
    assert f"CLIENT_ID='{creds.client_id}'" in curl
    assert f"https://console.example.com/api/v1/orgs/{org.pk}" in curl
    python = html[html.index('id="snippet-python"') :]
    assert "billing-sync-credentials.json" in python
    assert "examples/get_token.py billing-sync-credentials.json" in html


@pytest.mark.parametrize("persona", ["owner", "administrator", "developer"])
def test_managers_get_every_action(client_as, org, creds, persona, request):
    html = html_of(client_as(request.getfixturevalue(persona)), org, creds.app)
    for name in (
        "app_edit",
        "app_regenerate_secret",
        "app_rotate_secret",
        "app_delete",
    ):
        assert reverse(f"oauthapps:{name}", args=[org.pk, creds.app.pk]) in html
    assert '<dialog id="regenerate-dialog"' in html
    assert '<dialog id="delete-dialog"' in html


def test_plain_members_see_the_app_but_no_actions(client_as, org, creds, member):
    html = html_of(client_as(member), org, creds.app)
    assert "Billing Sync" in html
    for name in (
        "app_edit",
        "app_regenerate_secret",
        "app_rotate_secret",
        "app_delete",
    ):
        assert reverse(f"oauthapps:{name}", args=[org.pk, creds.app.pk]) not in html
    assert "Remove</a>" not in html


def test_an_org_the_app_was_added_to_sees_it_as_from_elsewhere(
    client_as, org, owner, creds, partner, api_client
):
    other = OrganizationFactory(name="Third Org")
    services.oauth_app_add_to_org(app=creds.app, org=partner, added_by=owner)
    services.oauth_app_add_to_org(app=creds.app, org=other, added_by=owner)
    token(
        api_client, creds.client_id, creds.client_secret, org
    )  # used in Acme, not here
    partner_owner = partner.memberships.get().user
    html = html_of(client_as(partner_owner), partner, creds.app)
    assert 'data-testid="from-org">From Acme Corp<' in html
    assert "owned and managed by <strong>Acme Corp</strong>" in html
    # It changes nothing of the app here, and sees only its own org's grant and usage.
    for name in (
        "app_edit",
        "app_regenerate_secret",
        "app_rotate_secret",
        "app_delete",
    ):
        assert reverse(f"oauthapps:{name}", args=[partner.pk, creds.app.pk]) not in html
    assert 'data-grant="Partner Corp"' in html
    assert 'data-grant="Acme Corp"' not in html and "Third Org" not in html
    assert re.search(r'data-testid="last-used">Never<', html)
    assert (
        reverse("oauthapps:app_remove_from_org", args=[partner.pk, creds.app.pk])
        in html
    )


def test_a_pending_scope_change_shows_the_difference_and_re_grant_to_owners_only(
    client_as, org, owner, creds, partner
):
    services.oauth_app_add_to_org(app=creds.app, org=partner, added_by=owner)
    services.oauth_app_update(
        app=creds.app,
        updated_by=owner,
        name="Billing Sync",
        description="",
        access_token_ttl_minutes=45,
        scopes=["org:member", "svc:compute:operator"],
    )
    partner_owner = partner.memberships.get().user
    html = html_of(client_as(partner_owner), partner, creds.app)
    banner = html[html.index('data-testid="scope-change-pending"') :]
    banner = banner[: banner.index("</div>\n", banner.index("</ul>"))]
    assert "+ Compute: Operator" in banner
    # Narrowing applies at once everywhere (DESIGN.md §1 Grant): nothing to re-grant there.
    assert "− Compute: Viewer" not in banner and "− Billing: Viewer" not in banner
    assert "Re-grant in Partner Corp" in banner

    admin = MembershipFactory(organization=partner, role=Membership.Role.ADMIN).user
    html = html_of(client_as(admin), partner, creds.app)
    assert 'data-testid="scope-change-pending"' in html
    assert "Re-grant in Partner Corp" not in html
    # The owning org's page shows the pending state in its grants table.
    html = html_of(client_as(owner), org, creds.app)
    row = html[html.index('data-grant="Partner Corp"') :]
    assert "Scope change pending" in row[: row.index("</tr>")]


def test_an_app_of_an_unrelated_org_is_a_404(client_as, org, owner, creds, partner):
    partner_owner = partner.memberships.get().user
    assert client_as(partner_owner).get(page_url(partner, creds.app)).status_code == 404


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


def test_the_page_runs_a_fixed_number_of_queries(
    client_as, org, owner, creds, api_client
):
    """Session, user, membership, switcher, bell (5); the app (1) with its grants, their orgs,
    their orgs' services and granters (4); the scope catalog seen from the org (3); the orgs the
    viewer may grant in (1); usage per hour and last used (2)."""
    client = client_as(owner)
    url = page_url(org, creds.app)
    client.get(url)  # the first visit stores the active org in the session
    baseline = _queries(client, url)
    for _ in range(12):
        other = OrganizationFactory()
        MembershipFactory(organization=other, user=owner, role=Membership.Role.OWNER)
        services.oauth_app_add_to_org(app=creds.app, org=other, added_by=owner)
    for _ in range(5):
        token(api_client, creds.client_id, creds.client_secret, org)
    assert _queries(client, url) == baseline == 16


def test_the_page_of_an_added_app_runs_a_fixed_number_of_queries(
    client_as, org, owner, creds, partner
):
    services.oauth_app_add_to_org(app=creds.app, org=partner, added_by=owner)
    client = client_as(partner.memberships.get().user)
    url = page_url(partner, creds.app)
    client.get(url)
    baseline = _queries(client, url)
    for _ in range(8):
        services.oauth_app_add_to_org(
            app=creds.app, org=OrganizationFactory(), added_by=owner
        )
    assert _queries(client, url) == baseline == 16
