from django.urls import reverse


def test_owner_sees_overview(client_as, org, owner):
    response = client_as(owner).get(reverse("orgs:org_overview", args=[org.pk]))
    assert response.status_code == 200
    assert b"Acme Corp" in response.content


def test_outsider_gets_404(client_as, org, outsider):
    assert (
        client_as(outsider).get(reverse("orgs:org_overview", args=[org.pk])).status_code
        == 404
    )
