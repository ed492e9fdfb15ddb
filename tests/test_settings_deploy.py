"""Production settings: `check --deploy` is clean, misconfiguration fails loudly, CSP is strict.

Settings are read once per process, so anything about the production environment runs
`manage.py` in a subprocess with a clean, explicit environment.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from console.settings import env_bool, env_list

BASE_DIR = Path(__file__).resolve().parent.parent


def run_manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "CONSOLE_"))
    }
    clean |= {
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "CONSOLE_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env() -> dict[str, str]:
    return {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "console.example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://console.example.com",
        "CONSOLE_ISSUER": "https://console.example.com",
    }


def test_production_mode_passes_check_deploy_without_warnings(tmp_path):
    result = run_manage(
        tmp_path, "check", "--deploy", "--fail-level", "WARNING", **production_env()
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stderr


def test_production_mode_turns_on_https_hardening(tmp_path):
    script = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'debug': s.DEBUG, 'ssl_redirect': s.SECURE_SSL_REDIRECT, 'hsts': s.SECURE_HSTS_SECONDS,"
        "'session_secure': s.SESSION_COOKIE_SECURE, 'csrf_secure': s.CSRF_COOKIE_SECURE,"
        "'hosts': s.ALLOWED_HOSTS}))"
    )
    env = production_env()
    del env["DJANGO_DEBUG"]  # DEBUG is off unless asked
    result = run_manage(tmp_path, "shell", "-c", script, **env)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "debug": False,
        "ssl_redirect": True,
        "hsts": 31536000,
        "session_secure": True,
        "csrf_secure": True,
        "hosts": ["console.example.com"],
    }


def test_missing_secret_key_with_debug_off_fails_loudly(tmp_path):
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = run_manage(tmp_path, "check", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_missing_issuer_with_debug_off_fails_loudly_at_start(tmp_path):
    env = production_env()
    del env["CONSOLE_ISSUER"]
    result = run_manage(tmp_path, "check", **env)
    assert result.returncode != 0
    assert (
        "django.core.exceptions.ImproperlyConfigured: CONSOLE_ISSUER is required when "
        "DJANGO_DEBUG is off: the console's public URL, e.g. https://console.example.com"
    ) in result.stderr
    junk = run_manage(
        tmp_path, "check", **{**env, "CONSOLE_ISSUER": "console.example.com"}
    )
    assert "CONSOLE_ISSUER must be the console's URL" in junk.stderr


def test_debug_mode_generates_a_dev_secret_key_once(tmp_path):
    env = {"DJANGO_DEBUG": "true"}
    first = run_manage(tmp_path, "check", **env)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "var" / "dev-secret-key"
    key = key_file.read_text()
    assert len(key) >= 50
    assert run_manage(tmp_path, "check", **env).returncode == 0
    assert key_file.read_text() == key


def test_junk_debug_value_stops_the_process(tmp_path):
    result = run_manage(
        tmp_path, "check", **{**production_env(), "DJANGO_DEBUG": "yes"}
    )
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be one of true/false/1/0" in result.stderr


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("false", False),
        ("0", False),
        ("", True),
    ],
)
def test_env_bool_accepts_only_true_false_1_0(monkeypatch, raw, expected):
    monkeypatch.setenv("CONSOLE_TEST_FLAG", raw)
    assert env_bool("CONSOLE_TEST_FLAG", default=True) is expected


@pytest.mark.parametrize("junk", ["yes", "no", "on", "2", "tru", " true"])
def test_env_bool_rejects_junk(monkeypatch, junk):
    monkeypatch.setenv("CONSOLE_TEST_FLAG", junk)
    with pytest.raises(ImproperlyConfigured, match="CONSOLE_TEST_FLAG"):
        env_bool("CONSOLE_TEST_FLAG", default=False)


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("CONSOLE_TEST_LIST", " a.example.com, ,b.example.com,")
    assert env_list("CONSOLE_TEST_LIST") == ["a.example.com", "b.example.com"]


def _csp(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    directives = (part.strip().split(" ", 1) for part in header.split(";"))
    return dict(directives)


@pytest.mark.parametrize("url_name", ["login", "signup"])
def test_public_pages_send_a_strict_csp(client, db, url_name):
    policy = _csp(client.get(reverse(url_name)))
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in str(policy)
    assert "unsafe-eval" not in str(policy)


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=|<style", re.IGNORECASE)


@pytest.mark.parametrize(
    "url_name",
    [
        "orgs:org_overview",
        "orgs:member_list",
        "orgs:service_list",
        "oauthapps:app_list",
    ],
)
def test_console_pages_have_csp_and_no_inline_code(client_as, org, owner, url_name):
    response = client_as(owner).get(reverse(url_name, args=[org.pk]))
    assert response.status_code == 200
    assert _csp(response)["script-src"] == "'self'"
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html)
    assert not EVENT_HANDLER.search(html)
    assert not STYLE_ATTRIBUTE.search(html)
