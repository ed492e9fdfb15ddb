"""Search in the OAuth Apps list and the audit log: every word is a case-insensitive substring of one
of the searched columns (apps: name, description, client ID; audit: who, and the app or member
acted on), with `%` and `_` taken literally, the same on SQLite and PostgreSQL. On PostgreSQL,
trigram indexes on those columns serve the search (the 0005 migrations of orgs and oauthapps)."""

import pytest
from django.db import connection
from django.db.models import Q
from django.urls import reverse

from oauthapps.models import OAuthApp
from orgs.models import AuditEvent

APPS = [
    # name, description, client id
    ("Billing Export", "Sends invoices every night.", "Qz7XkP2mWcA9"),
    ("deploy-bot", "", "hT4vLr8NbEy1"),
    ("Report_50%", "Half of the reports.", "uW3sJd6GpFo5"),
    ("Ledger", "Reconciles the billing ledger.", "mK1aZx9QvRt2"),
]
EVENTS = [
    # who, what
    ("Ada.Lovelace@Example.com", "Billing Export"),
    ("Ada.Lovelace@Example.com", "deploy-bot"),
    ("grace@example.com", "Report_50%"),
    ("grace@example.com", "Ledger"),
]


@pytest.fixture
def searchable(org, owner):
    OAuthApp.objects.bulk_create(
        OAuthApp(
            organization=org,
            name=name,
            description=description,
            client_id=client_id,
            client_secret=f"secret-{client_id}",
            created_by=owner,
        )
        for name, description, client_id in APPS
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(
            organization=org,
            actor_label=who,
            action="app.edit",
            target_type="oauthapp",
            target_label=what,
        )
        for who, what in EVENTS
    )
    return org


def app_names(client, org, q: str) -> set[str]:
    response = client.get(reverse("oauthapps:app_list", args=[org.pk]), {"q": q})
    return {app.name for app, _ in response.context["rows"]}


def event_targets(client, org, q: str) -> set[str]:
    response = client.get(reverse("oauthapps:audit_log", args=[org.pk]), {"q": q})
    return {event.target_label for event, _ in response.context["rows"]}


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("billing", {"Billing Export", "Ledger"}),  # a name, a description
        ("BILLING export", {"Billing Export"}),  # every word, in any case
        ("INVOICES", {"Billing Export"}),
        ("7xkp2", {"Billing Export"}),  # the middle of a client ID, in another case
        ("HT4VLR8NBEY1", {"deploy-bot"}),  # a whole client ID
        ("x", {"Billing Export", "Ledger"}),  # one letter (the second in a client ID)
        ("_", {"Report_50%"}),  # LIKE's wildcards, literally
        ("50%", {"Report_50%"}),
        ("t_5", {"Report_50%"}),
        ("invoice ledger", set()),
    ],
)
def test_apps_search_finds_substrings_of_name_description_and_client_id(
    client_as, owner, searchable, q, found
):
    assert app_names(client_as(owner), searchable, q) == found


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("ada.LOVELACE@example", {"Billing Export", "deploy-bot"}),  # who
        ("EXPORT", {"Billing Export"}),  # what
        ("example.com ledger", {"Ledger"}),
        ("e", {"Billing Export", "deploy-bot", "Report_50%", "Ledger"}),
        ("%", {"Report_50%"}),
        ("r_", set()),
    ],
)
def test_audit_search_finds_substrings_of_who_and_what(
    client_as, owner, searchable, q, found
):
    assert event_targets(client_as(owner), searchable, q) == found


def index_names(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


def test_the_trigram_indexes_exist_on_postgresql_only(db):
    trigram = {
        "oauthapps_oauthapp": {
            "oauthapp_name_trgm",
            "oauthapp_description_trgm",
            "oauthapp_client_id_trgm",
        },
        "orgs_auditevent": {"auditevent_actor_trgm", "auditevent_target_trgm"},
    }
    for table, names in trigram.items():
        present = index_names(table) & names
        assert present == (names if connection.vendor == "postgresql" else set())
    assert "oauthapp_name_id" in index_names("oauthapps_oauthapp")  # everywhere


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL only")
@pytest.mark.parametrize(
    ("model", "columns"),
    [
        (
            OAuthApp,
            {
                "name": "oauthapp_name_trgm",
                "description": "oauthapp_description_trgm",
                "client_id": "oauthapp_client_id_trgm",
            },
        ),
        (
            AuditEvent,
            {
                "actor_label": "auditevent_actor_trgm",
                "target_label": "auditevent_target_trgm",
            },
        ),
    ],
)
def test_postgresql_can_answer_the_search_from_the_trigram_indexes(
    searchable, model, columns
):
    """The search's lookups, planned with every other way to read the table ruled out: they read
    the indexes. (They could not if `icontains` stopped comparing UPPER(column), as indexed.)"""
    with connection.cursor() as cursor:
        for scan in ("seqscan", "indexscan", "indexonlyscan"):  # left: bitmap scans
            cursor.execute(f"SET LOCAL enable_{scan} = off")
    search = Q()
    for column in columns:
        search |= Q(**{f"{column}__icontains": "billing"})
    plan = model.objects.filter(search).explain()
    for index in columns.values():
        assert f"Bitmap Index Scan on {index}" in plan, plan
