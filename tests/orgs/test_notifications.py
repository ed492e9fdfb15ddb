import pytest
from django.urls import reverse

from orgs import services
from orgs.models import Notification
from tests.factories import NotificationFactory


def read_url(notification) -> str:
    return reverse("orgs:notification_read", args=[notification.pk])


def list_url() -> str:
    return reverse("orgs:notification_list")


def read_all_url() -> str:
    return reverse("orgs:notifications_read_all")


def test_bell_shows_the_unread_count_on_every_page(client_as, org, owner):
    for n in range(3):
        services.notification_send(user=owner, title=f"Note {n}")
    services.notification_mark_read(notification=Notification.objects.first())
    NotificationFactory()  # someone else's
    html = (
        client_as(owner)
        .get(reverse("orgs:member_list", args=[org.pk]))
        .content.decode()
    )
    assert '<span class="badge" data-testid="unread-count">2</span>' in html
    assert 'aria-label="Notifications, 2 unread"' in html


def test_no_badge_without_unread_notifications(client_as, org, owner):
    html = (
        client_as(owner)
        .get(reverse("orgs:org_overview", args=[org.pk]))
        .content.decode()
    )
    assert 'data-testid="unread-count"' not in html


def test_list_shows_own_notifications_newest_first(client_as, org, owner):
    services.notification_send(user=owner, title="Older", org=org)
    services.notification_send(
        user=owner, title="Newer", body="Line one\nLine two", level="warning"
    )
    NotificationFactory(title="Not yours")
    response = client_as(owner).get(list_url())
    assert response.status_code == 200
    assert [n.title for n, _ in response.context["rows"]] == ["Newer", "Older"]
    html = response.content.decode()
    assert "Not yours" not in html
    assert "Line one<br>Line two" in html
    assert "Warning" in html
    assert "2 unread" in html


def test_empty_notification_center_says_what_it_is_for(client_as, owner):
    html = client_as(owner).get(list_url()).content.decode()
    assert "No notifications" in html
    assert "Mark all as read" not in html


def test_notification_list_rejects_post(client_as, owner):
    assert client_as(owner).post(list_url()).status_code == 405


def test_notification_list_requires_sign_in(client, db):
    response = client.get(list_url())
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_list_pages_after_fifty(client_as, owner):
    for n in range(55):
        services.notification_send(user=owner, title=f"Note {n}")
    client = client_as(owner)
    first = client.get(list_url())
    assert len(first.context["rows"]) == 50
    assert "Page 1 of 2" in first.content.decode()
    second = client.get(list_url(), {"page": 2})
    assert len(second.context["rows"]) == 5
    assert client.get(list_url(), {"page": "junk"}).status_code == 200


def test_mark_one_read(client_as, owner):
    notification = services.notification_send(user=owner, title="Hello")
    response = client_as(owner).post(read_url(notification))
    assert response.url == list_url()
    notification.refresh_from_db()
    assert notification.is_read


def test_mark_read_rejects_get(client_as, owner):
    notification = services.notification_send(user=owner, title="Hello")
    assert client_as(owner).get(read_url(notification)).status_code == 405
    notification.refresh_from_db()
    assert not notification.is_read


def test_cannot_touch_another_users_notification(client_as, owner, member):
    theirs = services.notification_send(user=member, title="Private")
    response = client_as(owner).post(read_url(theirs), {"follow": "1"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert not theirs.is_read


def test_mark_all_read(client_as, owner, member):
    for _ in range(3):
        services.notification_send(user=owner, title="Hello")
    theirs = services.notification_send(user=member, title="Private")
    response = client_as(owner).post(read_all_url(), follow=True)
    assert "Marked 3 notifications as read." in response.content.decode()
    assert not Notification.objects.filter(user=owner, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert not theirs.is_read


def test_mark_all_read_rejects_get(client_as, owner):
    assert client_as(owner).get(read_all_url()).status_code == 405


def test_open_follows_a_console_link_and_marks_read(client_as, org, owner):
    link = reverse("orgs:service_list", args=[org.pk])
    notification = services.notification_send(user=owner, title="Look", link=link)
    client = client_as(owner)
    assert 'name="follow"' in client.get(list_url()).content.decode()
    response = client.post(read_url(notification), {"follow": "1"})
    assert response.url == link
    notification.refresh_from_db()
    assert notification.is_read


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ],
)
def test_open_never_leaves_the_console(client_as, owner, link):
    # Staff can type anything in admin; the console still only follows its own paths.
    notification = NotificationFactory(user=owner, link=link)
    client = client_as(owner)
    assert 'name="follow"' not in client.get(list_url()).content.decode()
    response = client.post(read_url(notification), {"follow": "1"})
    assert response.url == list_url()
