"""Every page the benchmark measures (bench/console.py) runs as many SQL statements with a few rows
as with many more: no statement per row, whatever the size. The wall-clock goals live in
`make bench-console`; the statement counts are asserted here, at two sizes."""

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.console import GOAL_SQL, pages
from orgs.management.commands.seed_scale import ORG_NAME, OWNER_EMAIL, Command
from orgs.models import Organization

SMALL = {
    "members": 4,
    "apps": 4,
    "foreign_apps": 2,
    "partner_orgs": 2,
    "events": 8,
    "notifications": 3,
    "tokens": 5,
}
MORE = {
    "members": 70,
    "apps": 70,
    "foreign_apps": 30,
    "partner_orgs": 3,
    "events": 220,
    "notifications": 120,
    "tokens": 150,
}


def statement_counts(client) -> dict[str, int]:
    counts = {}
    for label, url, data in pages():
        with CaptureQueriesContext(connection) as queries:
            response = request(client, url, data)
        assert response.status_code == 200, label
        counts[label] = len(queries)
    return counts


def request(client, url: str, data: dict):
    return client.post(url, data) if data else client.get(url)


@pytest.mark.django_db
def test_every_page_runs_the_same_statements_at_any_size(client):
    call_command("seed_scale", force=True, **SMALL)
    owner = User.objects.get(email=OWNER_EMAIL)
    client.force_login(owner)
    org = Organization.objects.get(name=ORG_NAME)
    client.get(
        f"/orgs/{org.pk}/"
    )  # the first visit stores the active org in the session
    small = statement_counts(client)
    Command().grow(org, owner, **MORE)
    assert statement_counts(client) == small
    assert max(small.values()) <= GOAL_SQL, small


@pytest.mark.django_db
def test_seed_scale_refuses_to_run_twice_and_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(Exception, match="DJANGO_DEBUG"):
        call_command("seed_scale", **SMALL)
    call_command("seed_scale", force=True, **SMALL)
    org = Organization.objects.get(name=ORG_NAME)
    assert org.memberships.count() == SMALL["members"]
    assert org.owned_apps.count() == SMALL["apps"]
    assert (
        org.app_grants.exclude(app__organization=org).count() == SMALL["foreign_apps"]
    )
    assert org.audit_events.count() == SMALL["events"]
    with pytest.raises(Exception, match="already exists"):
        call_command("seed_scale", force=True, **SMALL)
