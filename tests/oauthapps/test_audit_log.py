"""Organization › Audit log: who did what to which app or member, filterable and paginated."""

import json

import pytest
from django.urls import reverse

from oauthapps import services
from orgs import services as org_services
from orgs.models import AuditEvent, Membership
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.oauthapps.effects import shown_secret


def log_url(org) -> str:
    return reverse("oauthapps:audit_log", args=[org.pk])


@pytest.fixture
def history(org, owner, administrator, make_app):
    """A few things that happened in Acme Corp, by two people, to two apps and a member."""
    first = make_app(org, name="Billing Sync", scopes=["org:member"], created_by=owner)
    second = make_app(
        org, name="Deploy Bot", scopes=["org:member"], created_by=administrator
    )
    services.oauth_app_add_to_org(app=first.app, org=org, added_by=owner)
    services.oauth_app_regenerate_secret(app=second.app, regenerated_by=administrator)
    newcomer = UserFactory(email="new@example.com")
    org_services.membership_add(
        org=org, user=newcomer, role="member", is_developer=False, added_by=owner
    )
    AuditEvent.objects.create(organization=OrganizationFactory(), action="app.create")
    return first.app, second.app


def rows(response) -> list[str]:
    return [event.action for event, _ in response.context["rows"]]


def test_owners_and_administrators_read_the_log_others_do_not(
    client_as, org, owner, administrator, developer, member, history
):
    for person in (owner, administrator):
        assert client_as(person).get(log_url(org)).status_code == 200
    for person in (developer, member):
        assert client_as(person).get(log_url(org)).status_code == 403


def test_the_left_nav_links_the_log_for_roles_that_may_read_it(
    client_as, org, owner, administrator, member
):
    apps_url = reverse("oauthapps:app_list", args=[org.pk])
    for person, shown in ((owner, True), (administrator, True), (member, False)):
        html = client_as(person).get(apps_url).content.decode()
        assert (f'href="{log_url(org)}"' in html) is shown


def test_it_lists_the_orgs_events_newest_first_with_readable_details(
    client_as, org, owner, history
):
    response = client_as(owner).get(log_url(org))
    assert rows(response) == [
        "member.add",
        "app.regenerate_secret",
        "app.add_to_org",
        "app.create",
        "app.create",
    ]
    html = response.content.decode()
    assert "Regenerated secret" in html and "Added member" in html
    assert "administrator@example.com" in html
    assert "OAuth app" in html and "Member" in html
    assert "scopes: org:member" in html


def test_filters_by_action_app_and_actor(client_as, org, owner, administrator, history):
    first, second = history
    client = client_as(owner)
    assert (
        rows(client.get(log_url(org), {"action": "app.create"})) == ["app.create"] * 2
    )
    assert rows(client.get(log_url(org), {"app": str(first.pk)})) == [
        "app.add_to_org",
        "app.create",
    ]
    assert rows(client.get(log_url(org), {"actor": str(administrator.pk)})) == [
        "app.regenerate_secret",
        "app.create",
    ]
    assert rows(
        client.get(log_url(org), {"action": "app.create", "actor": str(owner.pk)})
    ) == ["app.create"]
    form = client.get(log_url(org)).context["form"]
    assert ("app.regenerate_secret", "Regenerated secret") in form.fields[
        "action"
    ].choices
    # An app or a person is chosen by a link (their id) and named in a removable chip.
    chosen = client.get(log_url(org), {"app": str(second.pk)}).content.decode()
    assert "App: Deploy Bot" in chosen


def test_an_unknown_filter_value_is_an_error_and_is_left_out(
    client_as, org, owner, history
):
    response = client_as(owner).get(log_url(org), {"action": "nope", "actor": "999999"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"action", "actor"}
    assert len(rows(response)) == 5


def test_deleted_apps_stay_filterable_by_their_last_name(
    client_as, org, owner, history
):
    first, _ = history
    app_id = str(first.pk)
    services.oauth_app_delete(app=first, deleted_by=owner)
    response = client_as(owner).get(log_url(org), {"app": app_id})
    assert rows(response)[0] == "app.delete"
    assert "App: Billing Sync" in response.content.decode()


def test_it_is_paginated_and_keeps_the_filters(client_as, org, owner):
    for n in range(120):
        AuditEvent.objects.create(
            organization=org, action="app.edit", target_label=f"E{n}"
        )
    AuditEvent.objects.create(organization=org, action="member.add")
    client = client_as(owner)
    first = client.get(log_url(org), {"action": "app.edit"})
    assert len(rows(first)) == 50
    html = first.content.decode()
    assert "Page 1 of 3" in html and "120 events" in html
    assert "?action=app.edit&amp;page=2" in html
    last = client.get(log_url(org), {"action": "app.edit", "page": "3"})
    assert len(rows(last)) == 20
    assert client.get(log_url(org), {"page": "nope"}).status_code == 200


def test_the_log_never_shows_a_secret(client_as, org, owner, make_app):
    creds = make_app(org, name="Billing Sync", scopes=["org:member"])
    client = client_as(owner)
    app = creds.app
    response = client.post(
        reverse("oauthapps:app_regenerate_secret", args=[org.pk, app.pk]),
        {"fingerprint": services.secret_fingerprint(app)},
    )
    secret = shown_secret(response)
    html = client.get(log_url(org)).content.decode()
    for value in (secret, creds.client_secret):
        assert value not in html
        assert not any(value in json.dumps(e.data) for e in AuditEvent.objects.all())


def test_members_of_another_org_see_nothing_of_it(client_as, org, history):
    stranger = MembershipFactory(role=Membership.Role.OWNER).user
    assert client_as(stranger).get(log_url(org)).status_code == 404
