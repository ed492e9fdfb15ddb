"""The four lists that grow with an organization (apps, members, audit log, notifications):
search, filters, sort and pages through GET parameters, the same with and without htmx, and bad
input that never breaks the page."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from oauthapps import lists as audit_lists
from oauthapps.models import AppGrant, OAuthApp
from orgs import services as org_services
from orgs.models import AuditEvent, Membership, Notification
from tests.factories import OrganizationFactory
from tests.tokens.fixtures import catalog  # noqa: F401

HTMX = {"HX-Request": "true"}


@pytest.fixture
def world(org, owner, request):
    """Acme Corp with 30 members, 30 apps of its own (app-03 disabled, app-07 described, odd ones
    asking for Compute), one app from Partner Corp, an audit event per app and 60 notifications
    for the Owner. Built in bulk: dozens of tests share this shape."""
    users = User.objects.bulk_create(
        User(username=f"person{n:02d}@example.com", email=f"person{n:02d}@example.com")
        for n in range(29)
    )
    Membership.objects.bulk_create(
        Membership(
            organization=org,
            user=user,
            role=Membership.Role.ADMIN if n % 10 == 0 else Membership.Role.MEMBER,
            is_developer=n % 3 == 0,
        )
        for n, user in enumerate(users)
    )
    partner = OrganizationFactory(name="Partner Corp")
    apps = OAuthApp.objects.bulk_create(
        OAuthApp(
            organization=partner if n == 30 else org,
            name="partner-bot" if n == 30 else f"app-{n:02d}",
            description="Nightly billing export" if n == 7 else "",
            scopes=["org:member", "svc:compute:viewer"] if n % 2 else ["org:member"],
            is_disabled=n == 3,
            client_secret=f"secret-{n}",
            created_by=owner,
        )
        for n in range(31)
    )
    theirs = apps.pop()
    AppGrant.objects.create(app=theirs, organization=org, scopes=theirs.scopes)
    AuditEvent.objects.bulk_create(
        AuditEvent(
            organization=org,
            actor=owner,
            actor_label=owner.email,
            action="app.create",
            target_type="oauthapp",
            target_id=str(app.pk),
            target_label=app.name,
        )
        for app in apps
    )
    Notification.objects.bulk_create(
        Notification(
            user=owner,
            title=f"Note {n:02d}",
            level="warning" if n % 5 == 0 else "info",
        )
        for n in range(60)
    )
    # Distinct times, oldest first (bulk_create stamps them all "now").
    now = timezone.now()
    for model, rows in ((Notification, Notification.objects.filter(user=owner)),):
        for n, pk in enumerate(rows.order_by("id").values_list("pk", flat=True)):
            model.objects.filter(pk=pk).update(
                created_at=now - timedelta(minutes=60 - n)
            )
    return {"org": org, "apps": apps, "theirs": theirs}


def url(name: str, org=None) -> str:
    if name == "notifications":
        return reverse("orgs:notification_list")
    return {
        "apps": reverse("oauthapps:app_list", args=[org.pk]),
        "members": reverse("orgs:member_list", args=[org.pk]),
        "audit": reverse("oauthapps:audit_log", args=[org.pk]),
    }[name]


def names(response) -> list[str]:
    """What identifies each row: app names, member emails, event targets, notification titles."""
    shown = {
        OAuthApp: lambda app: app.name,
        Membership: lambda membership: membership.user.email,
        AuditEvent: lambda event: event.target_label,
        Notification: lambda notification: notification.title,
    }
    return [shown[type(row)](row) for row, _ in response.context["rows"]]


LISTS = ["apps", "members", "audit", "notifications"]
BAD_INPUT = [
    ({"page": "abc"}, "not a number", 1),
    ({"page": "99999"}, "There is no page 99,999", "last"),
    ({"page": "0"}, "Pages start at 1", 1),
    ({"per_page": "7"}, "per page", 1),
    ({"sort": "unknown"}, "sort order is unknown", 1),
    ({"q": "x" * 10_000}, "longer than 200 characters", 1),
]


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize(("params", "note", "page"), BAD_INPUT)
def test_bad_input_gives_a_sensible_page_and_says_why(
    client_as, world, owner, list_name, params, note, page, htmx
):
    response = client_as(owner).get(
        url(list_name, world["org"]), params, headers=HTMX if htmx else {}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert note in html
    listing = response.context["listing"]
    expected = listing.page.paginator.num_pages if page == "last" else page
    assert listing.page.number == expected
    assert listing.rows  # the fallback still shows rows
    assert ("<html" in html) is not htmx
    assert 'id="results"' in html
    assert response["Vary"].count("HX-Request") == 1


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_an_unreadable_date_is_left_out_with_a_hint(client_as, world, owner, htmx):
    response = client_as(owner).get(
        url("audit", world["org"]),
        {"date_from": "27/11/2026", "date_to": "yesterday"},
        headers=HTMX if htmx else {},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("Use a date like 2026-11-27.") == 2
    assert (
        response.context["listing"].count
        == AuditEvent.objects.filter(organization=world["org"]).count()
    )


def test_htmx_gets_only_the_results_and_links_keep_the_query(client_as, world, owner):
    client = client_as(owner)
    full = client.get(url("apps", world["org"]), {"q": "app-", "sort": "-name"})
    fragment = client.get(
        url("apps", world["org"]), {"q": "app-", "sort": "-name"}, headers=HTMX
    )
    assert names(full) == names(fragment)
    body = fragment.content.decode()
    assert body.lstrip().startswith('<div id="results"')
    assert "list-form" in body and '<form id="list-form"' not in body
    # The sort travels with the search form; the pages keep search and sort.
    assert 'name="sort" value="-name" form="list-form"' in body
    assert "?q=app-&amp;sort=-name&amp;page=2" in body
    # The address htmx shows is the query as applied, without empty or unusable values.
    assert fragment["HX-Push-Url"] == url("apps", world["org"]) + "?q=app-&sort=-name"
    odd = client.get(
        url("apps", world["org"]),
        {"q": "", "kind": "", "per_page": "7", "page": "2"},
        headers=HTMX,
    )
    assert odd["HX-Push-Url"] == url("apps", world["org"]) + "?page=2"


def test_a_history_restore_gets_the_whole_page(client_as, world, owner):
    response = client_as(owner).get(
        url("members", world["org"]),
        headers={**HTMX, "HX-History-Restore-Request": "true"},
    )
    assert "<html" in response.content.decode()


# --- OAuth Apps -----------------------------------------------------------------------------------


def test_apps_search_name_description_and_client_id(client_as, world, owner):
    client = client_as(owner)
    org, apps = world["org"], world["apps"]
    assert names(client.get(url("apps", org), {"q": "app-1"})) == [
        f"app-{n}" for n in range(10, 20)
    ]
    assert names(client.get(url("apps", org), {"q": "BILLING export"})) == ["app-07"]
    client_id = apps[12].client_id
    assert names(client.get(url("apps", org), {"q": client_id})) == ["app-12"]


def test_apps_filter_owned_added_disabled_and_service(client_as, world, owner):
    client = client_as(owner)
    org = world["org"]
    assert names(client.get(url("apps", org), {"kind": "added"})) == ["partner-bot"]
    owned = client.get(url("apps", org), {"kind": "owned", "per_page": 100})
    assert len(names(owned)) == 30 and "partner-bot" not in names(owned)
    assert names(client.get(url("apps", org), {"kind": "disabled"})) == ["app-03"]
    compute = names(
        client.get(url("apps", org), {"service": "compute", "per_page": 50})
    )
    assert compute == [f"app-{n:02d}" for n in range(1, 30, 2)]


def test_apps_sort_by_column_both_ways(client_as, world, owner):
    client = client_as(owner)
    org = world["org"]
    by_name = client.get(url("apps", org), {"per_page": 50})
    assert names(by_name) == sorted(names(by_name))
    assert names(
        client.get(url("apps", org), {"sort": "-name", "per_page": 50})
    ) == sorted(names(by_name), reverse=True)
    newest = names(client.get(url("apps", org), {"sort": "-created"}))
    assert newest[0] == "partner-bot"
    html = by_name.content.decode()
    assert 'aria-sort="ascending"' in html and "?per_page=50&amp;sort=-name" in html


def test_apps_pages_of_25_50_100_and_the_last_page(client_as, world, owner):
    client = client_as(owner)
    org = world["org"]
    first = client.get(url("apps", org))
    assert len(first.context["rows"]) == 25
    assert "Page 1 of 2 · 31 apps" in first.content.decode()
    last = client.get(url("apps", org), {"page": "last"})
    assert last.context["listing"].page.number == 2 and len(last.context["rows"]) == 6
    assert len(client.get(url("apps", org), {"per_page": 50}).context["rows"]) == 31


def test_apps_no_match_says_so_and_offers_to_clear(client_as, world, owner):
    html = client_as(owner).get(url("apps", world["org"]), {"q": "nothing-like-this"})
    html = html.content.decode()
    assert "No apps match" in html
    assert f'href="{url("apps", world["org"])}" data-testid="clear-filters"' in html
    assert "No OAuth apps yet" not in html


def test_apps_client_ids_are_not_wrapped(client_as, world, owner):
    html = client_as(owner).get(url("apps", world["org"])).content.decode()
    assert (
        f'<code class="client-id" title="Client ID">{world["apps"][0].client_id}</code>'
        in html
    )


# --- Members --------------------------------------------------------------------------------------


def test_members_search_filter_and_sort(client_as, world, owner):
    client = client_as(owner)
    org = world["org"]
    found = names(client.get(url("members", org), {"q": "PERSON2", "sort": "email"}))
    assert found == [f"person2{n}@example.com" for n in range(9)]
    admins = names(client.get(url("members", org), {"member_role": "admins"}))
    assert admins == [
        "person00@example.com",
        "person10@example.com",
        "person20@example.com",
    ]
    owners = names(client.get(url("members", org), {"member_role": "owners"}))
    assert owners == ["owner@example.com"]
    developers = names(
        client.get(url("members", org), {"developer": "yes", "per_page": 50})
    )
    assert developers == [f"person{n:02d}@example.com" for n in range(0, 29, 3)]
    by_email = names(client.get(url("members", org), {"sort": "-email"}))
    assert by_email[0] == "person28@example.com"
    first_joined = names(client.get(url("members", org), {"sort": "joined"}))[0]
    assert first_joined == "owner@example.com"


def test_members_default_order_is_owners_then_administrators(client_as, world, owner):
    found = names(client_as(owner).get(url("members", world["org"])))
    assert found[:4] == [
        "owner@example.com",
        "person00@example.com",
        "person10@example.com",
        "person20@example.com",
    ]


def test_members_no_match(client_as, world, owner):
    html = client_as(owner).get(url("members", world["org"]), {"q": "zzz"}).content
    assert "No members match" in html.decode()


# --- Notifications --------------------------------------------------------------------------------


def test_notifications_search_filter_sort_and_pages(client_as, world, owner):
    client = client_as(owner)
    first = client.get(url("notifications"))
    assert names(first)[0] == "Note 59" and len(names(first)) == 50
    assert names(client.get(url("notifications"), {"sort": "created"}))[0] == "Note 00"
    # Every word must match, anywhere in the title or text.
    assert names(client.get(url("notifications"), {"q": "NOTE 4"})) == [
        f"Note {n:02d}" for n in range(59, -1, -1) if "4" in f"{n:02d}"
    ]
    warnings = names(client.get(url("notifications"), {"level": "warning"}))
    assert len(warnings) == 12
    Notification.objects.filter(title="Note 01").update(read_at=timezone.now())
    read = names(client.get(url("notifications"), {"state": "read"}))
    assert read == ["Note 01"]
    assert len(names(client.get(url("notifications"), {"page": "2"}))) == 10
    assert (
        "No notifications match"
        in client.get(url("notifications"), {"q": "zzz"}).content.decode()
    )


# --- Audit log ------------------------------------------------------------------------------------


def test_audit_search_action_and_date_range(client_as, world, owner):
    client = client_as(owner)
    org = world["org"]
    found = names(client.get(url("audit", org), {"q": "app-07"}))
    assert set(found) == {"app-07"}
    created = client.get(url("audit", org), {"action": "app.create", "per_page": 100})
    assert len(names(created)) == 30
    assert (
        client.get(url("audit", org), {"action": "app.delete"}).context["listing"].count
        == 0
    )
    AuditEvent.objects.filter(target_label="app-05").update(
        created_at=timezone.now() - timedelta(days=40)
    )
    old_day = (timezone.now() - timedelta(days=40)).date()
    ranged = client.get(
        url("audit", org),
        {"date_from": old_day.isoformat(), "date_to": old_day.isoformat()},
    )
    assert set(names(ranged)) == {"app-05"}
    # A range given backwards is read the right way round.
    backwards = client.get(
        url("audit", org),
        {
            "date_from": timezone.now().date().isoformat(),
            "date_to": old_day.isoformat(),
        },
    )
    assert backwards.context["listing"].count == 30


def test_audit_shows_times_with_their_zone_and_readable_member_changes(
    client_as, org, owner, member
):
    membership = Membership.objects.get(user=member, organization=org)
    org_services.membership_change(
        membership=membership, changed_by=owner, role="admin", is_developer=True
    )
    html = client_as(owner).get(url("audit", org)).content.decode()
    assert "is_developer" not in html and "False" not in html
    assert "Member → Administrator, Developer" in html
    assert " UTC</time>" in html


def test_a_log_too_long_to_count_says_so_and_still_reaches_the_oldest(
    client_as, world, owner, monkeypatch
):
    monkeypatch.setattr(audit_lists, "AUDIT_COUNT_LIMIT", 10)
    client = client_as(owner)
    first = client.get(url("audit", world["org"]), {"per_page": 25})
    html = first.content.decode()
    assert "Page 1 of 1+ · more than 10 events" in html
    assert len(names(first)) == 25 and names(first)[0] == "app-29"
    last = client.get(url("audit", world["org"]), {"per_page": 25, "page": "last"})
    assert "Last page · more than 10 events" in last.content.decode()
    assert len(names(last)) == 25 and names(last)[-1] == "app-00"
    far = client.get(url("audit", world["org"]), {"per_page": 25, "page": "999"})
    assert "further than this list counts" in far.content.decode()
    assert names(far) == names(last)


def test_audit_csv_export_streams_the_current_filter_safely(client_as, world, owner):
    org = world["org"]
    AuditEvent.objects.create(
        organization=org, action="app.edit", target_label='=HYPERLINK("http://x")'
    )
    response = client_as(owner).get(
        reverse("oauthapps:audit_log_export", args=[org.pk]), {"action": "app.edit"}
    )
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["time (UTC)", "who", "action"]
    assert [row[2] for row in rows[1:]] == ["Edited app"]
    assert rows[1][4] == '\'=HYPERLINK("http://x")'
    assert rows[1][0].endswith("+00:00")


def test_audit_csv_export_is_for_those_who_may_read_the_log(client_as, world, member):
    export = reverse("oauthapps:audit_log_export", args=[world["org"].pk])
    assert client_as(member).get(export).status_code == 403
