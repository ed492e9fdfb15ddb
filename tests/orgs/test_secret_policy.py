"""The organization setting "Client secrets expire after N days": off by default, 30 to 730,
changed by Owners only (orgs/permissions.py: security.manage), audited like other org settings."""

import pytest
from django.urls import reverse

from orgs.models import AuditEvent, Organization
from orgs.services import org_secret_expiry_set


def policy_url(org) -> str:
    return reverse("orgs:org_secret_policy", args=[org.pk])


def days_of(org) -> int | None:
    return Organization.objects.get(pk=org.pk).secret_expiry_days


def test_off_by_default_and_shown_on_the_overview(client_as, org, owner, member):
    assert org.secret_expiry_days is None
    html = client_as(owner).get(reverse("orgs:org_overview", args=[org.pk])).content
    assert (
        b"Client secrets of this organization\xe2\x80\x99s apps never expire." in html
    )
    assert b'name="secret_expiry_days"' in html
    # Members see the policy, not the form.
    html = client_as(member).get(reverse("orgs:org_overview", args=[org.pk])).content
    assert b"never expire" in html
    assert b'name="secret_expiry_days"' not in html


def test_an_owner_sets_it_and_it_is_audited(client_as, org, owner):
    response = client_as(owner).post(
        policy_url(org), {"secret_expiry_days": "90"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("orgs:org_overview", args=[org.pk])
    assert days_of(org) == 90
    assert "expire after 90 days" in response.content.decode()
    event = AuditEvent.objects.get(action="org.secret_expiry")
    assert event.actor == owner
    assert event.data == {"from_days": None, "to_days": 90}


def test_an_empty_value_turns_it_off(client_as, org, owner):
    org_secret_expiry_set(org=org, secret_expiry_days=365, changed_by=owner)
    client_as(owner).post(policy_url(org), {"secret_expiry_days": ""})
    assert days_of(org) is None
    assert list(
        AuditEvent.objects.filter(action="org.secret_expiry")
        .order_by("id")
        .values_list("data", flat=True)
    ) == [{"from_days": None, "to_days": 365}, {"from_days": 365, "to_days": None}]


def test_saving_the_same_value_records_nothing(org, owner):
    org_secret_expiry_set(org=org, secret_expiry_days=30, changed_by=owner)
    org_secret_expiry_set(org=org, secret_expiry_days=30, changed_by=owner)
    assert AuditEvent.objects.filter(action="org.secret_expiry").count() == 1


@pytest.mark.parametrize("value", ["30", "730", " 120 "])
def test_the_bounds_are_accepted(client_as, org, owner, value):
    client_as(owner).post(policy_url(org), {"secret_expiry_days": value})
    assert days_of(org) == int(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("29", "Client secrets must expire after 30 to 730 days (2 years)."),
        ("731", "Client secrets must expire after 30 to 730 days (2 years)."),
        ("0", "Client secrets must expire after 30 to 730 days (2 years)."),
        ("abc", "Enter a whole number of days from 30 to 730"),
        ("1.5", "Enter a whole number of days from 30 to 730"),
        ("-90", "Enter a whole number of days from 30 to 730"),
        ("9" * 40, "Enter a whole number of days from 30 to 730"),
    ],
)
def test_anything_else_is_a_clear_field_error_and_nothing_is_saved(
    client_as, org, owner, value, message
):
    response = client_as(owner).post(policy_url(org), {"secret_expiry_days": value})
    assert response.status_code == 200
    form = response.context["secret_policy_form"]
    [error] = form.errors["secret_expiry_days"]
    assert error.startswith(message)
    html = response.content.decode()
    assert "Please check the highlighted field" in html
    assert f'value="{value.strip()}"' in html or value == "9" * 40
    assert days_of(org) is None
    assert not AuditEvent.objects.filter(action="org.secret_expiry").exists()


@pytest.mark.parametrize("persona", ["administrator", "developer", "member"])
def test_only_owners_may_change_it(client_as, org, persona, request):
    user = request.getfixturevalue(persona)
    response = client_as(user).post(policy_url(org), {"secret_expiry_days": "90"})
    assert response.status_code == 403
    assert days_of(org) is None


def test_other_organizations_owners_get_404(client_as, org, outsider):
    response = client_as(outsider).post(policy_url(org), {"secret_expiry_days": "90"})
    assert response.status_code == 404
    assert days_of(org) is None


def test_it_is_changed_by_post_only(client_as, org, owner):
    assert client_as(owner).get(policy_url(org)).status_code == 405


def test_the_audit_log_names_the_change(client_as, org, owner):
    org_secret_expiry_set(org=org, secret_expiry_days=90, changed_by=owner)
    html = client_as(owner).get(reverse("oauthapps:audit_log", args=[org.pk])).content
    assert b"Changed secret expiry policy" in html
