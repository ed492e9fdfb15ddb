"""Who may create apps, see them and add them to the organization (DESIGN.md §2)."""

import pytest
from django.urls import reverse

from oauthapps import services
from oauthapps.models import AppGrant, OAuthApp
from orgs.models import AuditEvent

CREATE_POST = {
    "step": "review",
    "nav": "next",
    "type-app_type": "server_to_server",
    "register-name": "Deploy Bot",
    "ttl-access_token_ttl_minutes": "30",
    "scopes-scopes": ["org:member"],
}


@pytest.fixture
def app(org, owner) -> OAuthApp:
    app, _ = services.oauth_app_create(
        organization=org,
        created_by=owner,
        name="Deploy Bot",
        access_token_ttl_minutes=30,
        scopes=["org:member", "svc:billing:viewer"],
    )
    return app


def urls(org, app=None) -> dict[str, str]:
    result = {
        "list": reverse("oauthapps:app_list", args=[org.pk]),
        "create": reverse("oauthapps:app_create", args=[org.pk]),
    }
    if app is not None:
        result["detail"] = reverse("oauthapps:app_detail", args=[org.pk, app.pk])
        result["add"] = reverse("oauthapps:app_add_to_org", args=[org.pk, app.pk])
    return result


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("owner", 200),
        ("administrator", 200),
        ("developer", 200),
        ("member", 403),
        ("outsider", 404),
    ],
)
def test_who_may_open_the_wizard(client_as, org, persona, status, request):
    client = client_as(request.getfixturevalue(persona))
    assert client.get(urls(org)["create"]).status_code == status


@pytest.mark.parametrize(
    ("persona", "status", "created"),
    [
        ("owner", 200, 1),
        ("administrator", 200, 1),
        ("developer", 200, 1),
        ("member", 403, 0),
        ("outsider", 404, 0),
    ],
)
def test_who_may_create_an_app(client_as, org, persona, status, created, request):
    client = client_as(request.getfixturevalue(persona))
    response = client.post(urls(org)["create"], CREATE_POST)
    assert response.status_code == status
    assert OAuthApp.objects.count() == created


def test_anonymous_people_are_sent_to_sign_in(client, org):
    for url in urls(org).values():
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_the_wizard_rejects_other_methods(client_as, org, owner):
    assert client_as(owner).put(urls(org)["create"]).status_code == 405


def test_list_and_detail_are_read_only(client_as, org, owner, app):
    client = client_as(owner)
    assert client.post(urls(org)["list"]).status_code == 405
    assert client.post(urls(org, app)["detail"]).status_code == 405


@pytest.mark.parametrize(
    ("persona", "sees_create"),
    [
        ("owner", True),
        ("administrator", True),
        ("developer", True),
        ("member", False),
    ],
)
def test_every_member_sees_the_list_but_only_creators_see_create(
    client_as, org, app, persona, sees_create, request
):
    client = client_as(request.getfixturevalue(persona))
    response = client.get(urls(org)["list"])
    assert response.status_code == 200
    html = response.content.decode()
    assert "Deploy Bot" in html
    assert (urls(org)["create"] in html) is sees_create


def test_outsiders_get_404_for_every_app_page(client_as, org, app, outsider):
    client = client_as(outsider)
    for url in urls(org, app).values():
        assert client.get(url).status_code == 404
    assert client.post(urls(org, app)["add"]).status_code == 404
    assert not AppGrant.objects.exists()


def test_an_app_of_another_org_is_404_under_this_org(client_as, org, owner, outsider):
    other_org = outsider.memberships.get().organization
    foreign, _ = services.oauth_app_create(
        organization=other_org,
        created_by=outsider,
        name="Foreign",
        access_token_ttl_minutes=30,
        scopes=["org:member"],
    )
    client = client_as(owner)
    assert client.get(urls(org, foreign)["detail"]).status_code == 404
    assert client.get(urls(org, foreign)["add"]).status_code == 404
    assert client.post(urls(org, foreign)["add"]).status_code == 404
    assert not AppGrant.objects.exists()


@pytest.mark.parametrize("persona", ["administrator", "developer", "member"])
def test_only_owners_add_an_app_to_the_organization(
    client_as, org, app, persona, request
):
    client = client_as(request.getfixturevalue(persona))
    assert client.get(urls(org, app)["add"]).status_code == 403
    assert client.post(urls(org, app)["add"]).status_code == 403
    assert not AppGrant.objects.exists()


@pytest.mark.parametrize("persona", ["administrator", "developer", "member"])
def test_non_owners_are_told_an_owner_can_add_the_app(
    client_as, org, app, persona, request
):
    client = client_as(request.getfixturevalue(persona))
    html = client.get(urls(org, app)["detail"]).content.decode()
    assert "An Owner of Acme Corp can add it." in html
    assert urls(org, app)["add"] not in html


def test_an_owner_adds_the_app_and_is_warned_about_missing_services(
    client_as, org, owner, app
):
    client = client_as(owner)
    page = client.get(urls(org, app)["add"] + "?wizard=1")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Add Deploy Bot to Acme Corp" in html
    assert "Acme Corp does not contain Billing" in html
    assert ">Skip<" in html and urls(org, app)["detail"] in html
    assert "Add to organization" in html  # the wizard's progress bar

    response = client.post(urls(org, app)["add"], follow=True)
    assert response.redirect_chain == [(urls(org, app)["detail"], 302)]
    grant = AppGrant.objects.get()
    assert (grant.app, grant.organization, grant.granted_by) == (app, org, owner)
    assert grant.scopes == ["org:member", "svc:billing:viewer"]
    html = response.content.decode()
    assert "Deploy Bot was added to Acme Corp." in html
    assert "Acme Corp does not contain Billing, named in this app&#x27;s scopes" in html
    notification = owner.notifications.get()
    assert notification.level == "warning" and "Billing" in notification.body
    assert AuditEvent.objects.filter(action="app.add_to_org", organization=org).exists()
    # The app page now lists the org it was added to, flagged for the missing service.
    assert 'data-grant="Acme Corp"' in html and "Does not contain Billing" in html


def test_adding_twice_keeps_one_grant_and_says_so(client_as, org, owner, app):
    client = client_as(owner)
    client.post(urls(org, app)["add"])
    response = client.post(urls(org, app)["add"], follow=True)
    assert AppGrant.objects.count() == 1
    assert "Deploy Bot was already added to Acme Corp." in response.content.decode()
    assert owner.notifications.count() == 1
    assert (
        "is already added to Acme Corp"
        in client.get(urls(org, app)["add"]).content.decode()
    )


def test_skip_leaves_the_app_unadded(client_as, org, owner, app):
    client = client_as(owner)
    response = client.get(urls(org, app)["detail"])
    html = response.content.decode()
    assert "Deploy Bot is not added to Acme Corp yet" in html
    assert urls(org, app)["add"] in html
    assert not AppGrant.objects.exists()
