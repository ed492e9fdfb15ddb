"""Bodies Django cannot parse, sent to the console's HTML pages with a `csrftoken` cookie (as any
browser that visited once has): never a 500. A page that exists answers the plain 400 page, an
unknown URL the 404 page; the error handlers never read the body again (console/errors.py).

Without the cookie the CSRF check refuses before reading the body; with it, the check reads the
form first, so these bodies reach the error handlers — which used to hand over to Django's stock
views, whose CSRF decorator read the body again, inside the handler.
"""

import pytest
from django.test import Client
from django.urls import reverse

from orgs.models import AuditEvent, Organization

COOKIE = "a" * 32
FORM = "application/x-www-form-urlencoded"
BAD_BODIES = {
    "utf-16 form": (f"{FORM}; charset=utf-16", "name=Acme".encode("utf-16")),
    "cp1252 form": (f"{FORM}; charset=cp1252", "name=Caf\xe9 Co".encode("cp1252")),
    "1,001 fields": (FORM, "&".join(f"f{i}=1" for i in range(1001)).encode()),
    "multipart with 1,001 parts": (
        "multipart/form-data; boundary=XyZ",
        b"".join(
            b'--XyZ\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n1\r\n' % i
            for i in range(1001)
        )
        + b"--XyZ--\r\n",
    ),
    "multipart without a boundary": ("multipart/form-data", b"name=Acme"),
    "multipart with a bad boundary": ("multipart/form-data; boundary=\x00", b"--\x00"),
}


def html_paths(org: Organization) -> dict[str, int]:
    """HTML paths, with what they answer such a body."""
    return {
        reverse("login"): 400,
        reverse("signup"): 400,
        reverse("logout"): 400,
        reverse("orgs:org_create"): 400,
        reverse("accounts:invitation_create", args=[org.pk]): 400,
        reverse("oauthapps:app_create", args=[org.pk]): 400,
        "/admin/login/": 400,
        "/no-such-page/": 404,
    }


@pytest.fixture
def cookie_client():
    def make(user=None) -> Client:
        client = Client(enforce_csrf_checks=True, raise_request_exception=False)
        client.cookies["csrftoken"] = COOKIE
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.mark.parametrize("body", BAD_BODIES, ids=list(BAD_BODIES))
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed in"])
def test_an_unparsable_body_is_never_a_500(cookie_client, org, owner, body, signed_in):
    client = cookie_client(owner if signed_in else None)
    content_type, data = BAD_BODIES[body]
    events = AuditEvent.objects.count()
    for path, status in html_paths(org).items():
        response = client.generic("POST", path, data, content_type=content_type)
        assert response.status_code == status, (path, response.content[:300])
        assert response["Content-Type"].startswith("text/html")
        if status == 400:
            assert b"could not be read" in response.content
    assert AuditEvent.objects.count() == events
    assert Organization.objects.count() == 1


def test_the_400_page_is_plain_and_asks_for_nothing_more(cookie_client):
    content_type, data = BAD_BODIES["1,001 fields"]
    response = cookie_client().generic(
        "POST", reverse("login"), data, content_type=content_type
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "<h1>Bad request</h1>" in html
    assert 'href="/"' in html  # a way back into the console
