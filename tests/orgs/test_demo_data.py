import pytest
from django.core.management import CommandError, call_command

from orgs.management.commands.demo_data import DEMO_PASSWORD, OWNER_EMAIL
from orgs.models import (
    AuditEvent,
    Membership,
    Notification,
    Organization,
    OrganizationService,
)


def snapshot() -> dict[str, list]:
    return {
        "orgs": sorted(Organization.objects.values_list("name", flat=True)),
        "memberships": sorted(
            Membership.objects.values_list(
                "organization__name", "user__email", "role", "is_developer"
            )
        ),
        "services": sorted(
            OrganizationService.objects.values_list(
                "organization__name", "service__slug"
            )
        ),
        "notifications": Notification.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def test_demo_data_loads_two_orgs_with_people_and_services(db, settings, capsys):
    settings.DEBUG = True
    call_command("demo_data")
    data = snapshot()
    assert data["orgs"] == ["Acme Production", "Acme Sandbox"]
    roles = {(org, email): role for org, email, role, _ in data["memberships"]}
    assert roles[("Acme Production", OWNER_EMAIL)] == "owner"
    assert roles[("Acme Sandbox", "admin@demo.example")] == "admin"
    assert ("Acme Production", "dev@demo.example", "member", True) in data[
        "memberships"
    ]
    assert ("Acme Production", "compute") in data["services"]
    assert data["notifications"] == 1
    output = capsys.readouterr().out
    assert OWNER_EMAIL in output and DEMO_PASSWORD in output


def test_demo_data_is_idempotent(db, settings):
    settings.DEBUG = True
    call_command("demo_data")
    first = snapshot()
    call_command("demo_data")
    assert snapshot() == first


def test_demo_owner_can_sign_in_with_the_printed_password(client, db, settings):
    settings.DEBUG = True
    call_command("demo_data")
    assert client.login(username=OWNER_EMAIL, password=DEMO_PASSWORD)


def test_demo_data_refuses_to_run_with_debug_off(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=true"):
        call_command("demo_data")
    assert not Organization.objects.exists()


def test_demo_data_prints_the_url_actually_served(db, settings, capsys):
    settings.DEBUG = True
    call_command("demo_data", "--url", "http://127.0.0.1:8765/")
    output = capsys.readouterr().out
    assert f"Sign in at http://127.0.0.1:8765/ as {OWNER_EMAIL}" in output
    assert "8000" not in output
