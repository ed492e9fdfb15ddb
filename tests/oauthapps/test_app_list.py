"""Organization › OAuth Apps: the list of the org's apps."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import dateformat

from oauthapps import services
from tests.factories import OrganizationFactory


def list_url(org) -> str:
    return reverse("oauthapps:app_list", args=[org.pk])


def make_app(org, user, name: str, **kwargs):
    app, _ = services.oauth_app_create(
        organization=org,
        created_by=user,
        name=name,
        access_token_ttl_minutes=kwargs.pop("ttl", 30),
        scopes=kwargs.pop("scopes", ["org:member"]),
        **kwargs,
    )
    return app


def test_empty_state_points_creators_to_create(client_as, org, owner):
    html = client_as(owner).get(list_url(org)).content.decode()
    assert "No OAuth apps yet" in html
    assert reverse("oauthapps:app_create", args=[org.pk]) in html


def test_empty_state_tells_plain_members_who_can_create(client_as, org, member):
    html = client_as(member).get(list_url(org)).content.decode()
    assert "No OAuth apps yet" in html
    assert "Owners, Administrators and Developers of Acme Corp can create" in html
    assert reverse("oauthapps:app_create", args=[org.pk]) not in html


def test_lists_name_client_id_ttl_scopes_orgs_and_created(client_as, org, owner):
    app = make_app(
        org,
        owner,
        "Billing Sync",
        ttl=45,
        scopes=["org:member", "svc:compute:viewer", "svc:compute:operator"],
        description="Nightly export.",
    )
    services.oauth_app_add_to_org(app=app, org=org, added_by=owner)
    response = client_as(owner).get(list_url(org))
    html = response.content.decode()
    row = html[html.index('data-app="Billing Sync"') :]
    row = row[: row.index("</tr>")]
    assert reverse("oauthapps:app_detail", args=[org.pk, app.pk]) in row
    assert app.client_id in row
    assert "45 min" in row
    assert "Org: Member" in row
    assert "Compute: Viewer, Operator" in row
    assert "Acme Corp" in row
    assert "by owner@example.com" in row
    assert dateformat.format(app.created, "N j, Y") in row
    assert "No OAuth apps yet" not in html


def test_shows_apps_not_yet_added_anywhere(client_as, org, owner):
    make_app(org, owner, "Lonely")
    html = client_as(owner).get(list_url(org)).content.decode()
    assert "Not added yet" in html


def test_lists_only_this_orgs_apps_in_name_order(client_as, org, owner, outsider):
    make_app(outsider.memberships.get().organization, outsider, "Elsewhere")
    make_app(org, owner, "Zeta")
    make_app(org, owner, "Alpha")
    response = client_as(owner).get(list_url(org))
    assert [app.name for app, _ in response.context["rows"]] == ["Alpha", "Zeta"]
    assert "Elsewhere" not in response.content.decode()


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_the_list_runs_a_fixed_number_of_queries(client_as, org, owner):
    """Session, user, membership, switcher, bell (5); the scope catalog with the org's services
    (3); the list's count, its page's keys, the page's apps, their grants with their orgs (4)."""
    client = client_as(owner)
    others = [OrganizationFactory() for _ in range(2)]
    first = make_app(org, owner, "App 0", scopes=["org:member", "svc:compute:viewer"])
    services.oauth_app_add_to_org(app=first, org=org, added_by=owner)
    client.get(
        list_url(org)
    )  # the first visit also stores the active org in the session
    baseline = _count_queries(client, list_url(org))
    for index in range(1, 30):
        app = make_app(
            org, owner, f"App {index}", scopes=["org:admin", "svc:billing:admin"]
        )
        for other in others:
            services.oauth_app_add_to_org(app=app, org=other, added_by=owner)
        foreign = make_app(others[index % 2], owner, f"Foreign {index}")
        services.oauth_app_add_to_org(app=foreign, org=org, added_by=owner)
    assert _count_queries(client, list_url(org)) == baseline
    assert baseline == 12
