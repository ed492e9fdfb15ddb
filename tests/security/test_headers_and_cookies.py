"""Security headers and cookies as a browser receives them: a strict CSP with no inline script or
style needed by any page, no framing, a referrer policy, nosniff, HSTS in production, and session
and CSRF cookies that scripts cannot read and other sites cannot send."""

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(
    r"(href|src|action)\s*=\s*[\"']?\s*javascript:", re.IGNORECASE
)


@pytest.fixture
def app(org, make_app, contains):
    contains(org, "compute")
    return make_app(org, scopes=["org:member", "svc:compute:viewer"], add_to=[org])


def console_pages(org, app) -> list[str]:
    app_args = [org.pk, app.app.pk]
    return [
        reverse("orgs:org_overview", args=[org.pk]),
        reverse("orgs:member_list", args=[org.pk]),
        reverse("orgs:service_list", args=[org.pk]),
        reverse("orgs:org_create"),
        reverse("orgs:notification_list"),
        reverse("oauthapps:app_list", args=[org.pk]),
        reverse("oauthapps:app_create", args=[org.pk]),
        reverse("oauthapps:app_add_by_client_id", args=[org.pk]),
        reverse("oauthapps:app_detail", args=app_args),
        reverse("oauthapps:app_edit", args=app_args),
        reverse("oauthapps:app_delete", args=app_args),
        reverse("oauthapps:app_regenerate_secret", args=app_args),
        reverse("oauthapps:app_rotate_secret", args=app_args),
        reverse("oauthapps:audit_log", args=[org.pk]),
        "/orgs/00000000-0000-0000-0000-000000000000/",  # 404 page
    ]


def assert_no_inline_code(page: str, where: str) -> None:
    for pattern in (INLINE_SCRIPT, INLINE_STYLE, EVENT_HANDLER, JAVASCRIPT_URL):
        match = pattern.search(page)
        assert match is None, f"{where}: {match.group(0) if match else ''}"


def assert_page_headers(response, where: str) -> None:
    csp = response["Content-Security-Policy"]
    directives = dict(
        (part.strip().split(" ", 1) + [""])[:2]
        for part in csp.split(";")
        if part.strip()
    )
    assert directives["default-src"] == "'self'", where
    assert directives["script-src"] == "'self'", where
    assert directives["style-src"] == "'self'", where
    assert directives["frame-ancestors"] == "'none'", where
    assert directives["object-src"] == "'none'", where
    assert directives["base-uri"] == "'none'", where
    assert "unsafe" not in csp, where
    assert response["X-Frame-Options"] == "DENY", where
    assert response["Referrer-Policy"] == "same-origin", where
    assert response["X-Content-Type-Options"] == "nosniff", where
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", where


def test_every_console_page_has_strict_headers_and_no_inline_code(
    client_as, owner, org, app
):
    client = client_as(owner)
    for path in console_pages(org, app):
        response = client.get(path)
        assert response.status_code in (200, 404), path
        assert_page_headers(response, path)
        assert_no_inline_code(response.content.decode(), path)


def test_pages_for_visitors_have_them_too(client, db):
    for path in (reverse("login"), reverse("signup")):
        response = client.get(path)
        assert response.status_code == 200
        assert_page_headers(response, path)
        assert_no_inline_code(response.content.decode(), path)


def test_every_wizard_step_and_the_credentials_pop_up_need_no_inline_code(
    client_as, owner, org, catalog
):
    client = client_as(owner)
    url = reverse("oauthapps:app_create", args=[org.pk])
    data = {
        "type-app_type": "server_to_server",
        "register-name": "Headers app",
        "register-description": "",
        "ttl-access_token_ttl_minutes": "30",
        "scopes-scopes": ["org:member"],
    }
    for step in ("type", "register", "ttl", "scopes", "review"):
        for headers in ({}, {"HX-Request": "true"}):
            response = client.post(
                url, {**data, "step": step, "nav": "next"}, headers=headers
            )
            assert response.status_code == 200
            assert_no_inline_code(response.content.decode(), f"wizard {step} {headers}")
            if step == "review" and not headers:
                assert "OAuth app created" in response.content.decode()
                data["register-name"] = "Headers app 2"


def test_json_endpoints_are_not_sniffed_or_cached(api_client, db):
    for path in ("/oauth/token", "/api/v1/orgs/00000000-0000-0000-0000-000000000000"):
        response = (
            api_client.post(path) if path.startswith("/oauth") else api_client.get(path)
        )
        assert response.status_code in (400, 401)
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Cache-Control"] == "no-store"
        json.loads(response.content)


def test_hsts_is_sent_over_https_in_production(client, db, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    response = client.get(reverse("login"), secure=True)
    assert (
        response["Strict-Transport-Security"]
        == "max-age=31536000; includeSubDomains; preload"
    )
    # Never over plain HTTP (a man in the middle could strip it anyway).
    assert "Strict-Transport-Security" not in client.get(reverse("login"))


def test_production_redirects_http_to_https(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get(reverse("login"))
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    # Load balancers' health checks stay on HTTP.
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    assert client.get("/healthz").status_code == 200


def sign_in(client: Client, email: str) -> None:
    client.get(reverse("login"))
    response = client.post(reverse("login"), {"login": email, "password": PASSWORD})
    assert response.status_code == 302


def test_session_and_csrf_cookies_are_http_only_and_same_site(client, owner):
    sign_in(client, owner.email)
    for name in ("sessionid", "csrftoken"):
        cookie = client.cookies[name]
        assert cookie["httponly"] is True, name
        assert cookie["samesite"] == "Lax", name
        assert cookie["path"] == "/", name
        assert not cookie["domain"], name  # host-only


def test_cookies_are_secure_in_production(client, owner, settings):
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    client.get(reverse("login"), secure=True)
    client.post(
        reverse("login"), {"login": owner.email, "password": PASSWORD}, secure=True
    )
    assert client.cookies["sessionid"]["secure"] is True
    assert client.cookies["csrftoken"]["secure"] is True


def test_the_production_settings_make_cookies_secure_and_send_hsts(tmp_path):
    from tests.test_settings_deploy import production_env, run_manage

    script = (
        "import json; from django.conf import settings as s; print(json.dumps(["
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY,"
        "s.CSRF_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, s.CSRF_COOKIE_SAMESITE,"
        "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.X_FRAME_OPTIONS,"
        "s.SECURE_REFERRER_POLICY, s.SECURE_CSP['frame-ancestors']]))"
    )
    result = run_manage(tmp_path, "shell", "-c", script, **production_env())
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == [
        True, True, True, True, "Lax", "Lax", 31536000, True, "DENY", "same-origin", ["'none'"],
    ]  # fmt: skip


def test_a_page_cannot_be_framed_by_another_site(client, db):
    response = client.get(reverse("login"))
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
