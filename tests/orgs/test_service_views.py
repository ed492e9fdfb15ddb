import pytest
from django.urls import reverse

from orgs.models import OrganizationService, Service


def services_url(org) -> str:
    return reverse("orgs:service_list", args=[org.pk])


def action_url(org, name: str, slug: str = "compute") -> str:
    return reverse(f"orgs:service_{name}", args=[org.pk, slug])


def contained(org) -> set[str]:
    return set(org.services.values_list("slug", flat=True))


def test_everyone_in_the_org_sees_the_catalog_and_what_it_contains(
    client_as, org, owner, member
):
    client_as(owner).post(action_url(org, "add"))
    response = client_as(member).get(services_url(org))
    assert response.status_code == 200
    rows = {service.slug: is_in for service, is_in in response.context["rows"]}
    assert rows["compute"] is True
    assert rows["billing"] is False
    assert len(rows) == Service.objects.count()
    html = response.content.decode()
    assert "contains 1 of" in html
    assert "Add service" not in html
    assert "Only Owners can add or remove services." in html


def test_owner_sees_add_and_remove_buttons(client_as, org, owner):
    client_as(owner).post(action_url(org, "add"))
    html = client_as(owner).get(services_url(org)).content.decode()
    assert "Add service" in html
    assert "Remove Compute from Acme Corp?" in html  # the confirmation dialog


def test_service_list_rejects_post(client_as, org, owner):
    assert client_as(owner).post(services_url(org)).status_code == 405


def test_service_list_is_404_for_outsiders(client_as, org, owner, outsider):
    assert client_as(outsider).get(services_url(org)).status_code == 404


def test_owner_adds_a_service(client_as, org, owner):
    response = client_as(owner).post(action_url(org, "add"), follow=True)
    assert response.redirect_chain == [(services_url(org), 302)]
    assert "Compute added to Acme Corp." in response.content.decode()
    assert contained(org) == {"compute"}
    link = OrganizationService.objects.get()
    assert link.added_by == owner


def test_owner_removes_a_service(client_as, org, owner):
    client = client_as(owner)
    client.post(action_url(org, "add"))
    response = client.post(action_url(org, "remove"), follow=True)
    assert "Compute removed from Acme Corp." in response.content.decode()
    assert contained(org) == set()


@pytest.mark.parametrize("action", ["add", "remove"])
def test_service_actions_reject_get(client_as, org, owner, action):
    assert client_as(owner).get(action_url(org, action)).status_code == 405


@pytest.mark.parametrize("action", ["add", "remove"])
def test_service_actions_are_404_for_outsiders(client_as, org, owner, outsider, action):
    assert client_as(outsider).post(action_url(org, action)).status_code == 404


@pytest.mark.parametrize("persona", ["administrator", "developer", "member"])
def test_only_owners_change_the_services(request, client_as, org, owner, persona):
    client = client_as(request.getfixturevalue(persona))
    assert client.post(action_url(org, "add")).status_code == 403
    assert contained(org) == set()
    client_as(owner).post(action_url(org, "add"))
    assert client.post(action_url(org, "remove")).status_code == 403
    assert contained(org) == {"compute"}


def test_unknown_service_is_404(client_as, org, owner):
    assert client_as(owner).post(action_url(org, "add", "teleport")).status_code == 404
    assert contained(org) == set()
