"""No secret in the access log a real gunicorn writes: no query strings (a client_secret sent in
the URL is refused, and must not be kept either) and no one-time keys from invitation,
email-confirmation and password-reset links."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from console.access_log import redacted_path, redacted_url

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-do-not-log"


def test_redaction_rules():
    assert redacted_path(f"/oauth/token?client_secret={SECRET}") == "/oauth/token"
    assert redacted_path(f"/invitations/{SECRET}/") == "/invitations/[key]/"
    assert (
        redacted_path(f"/accounts/password/reset/key/1-{SECRET}/")
        == "/accounts/password/reset/key/[key]/"
    )
    assert (
        redacted_url(f"https://console.example/accounts/confirm-email/{SECRET}/?a=b")
        == "https://console.example/accounts/confirm-email/[key]/"
    )
    assert redacted_url("-") == "-"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(tmp_path):
    """A real gunicorn with the production configuration, on a throwaway SQLite database."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "console.settings",
    }
    env.pop("REDIS_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True
    )
    port = _free_port()
    log = tmp_path / "access.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "console/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            str(log),
            "console.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{base}/healthz", timeout=10)
            break
        except (
            requests.RequestException
        ):  # not listening yet, or still booting its worker
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("gunicorn did not start") from None
            time.sleep(0.1)
    yield base, log
    process.terminate()
    process.wait(timeout=30)


def test_gunicorn_access_log_keeps_no_secret(gunicorn):
    base, log = gunicorn
    refused = requests.post(
        f"{base}/oauth/token?client_id=abc&client_secret={SECRET}",
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    assert refused.status_code == 400
    for path in (
        f"/invitations/{SECRET}/",
        f"/accounts/confirm-email/{SECRET}/",
        f"/accounts/password/reset/key/1-{SECRET}/",
    ):
        requests.get(
            f"{base}{path}",
            headers={"Referer": f"{base}/oauth/token?client_secret={SECRET}"},
            allow_redirects=False,
            timeout=10,
        )
    # gunicorn writes each line after the response is sent: wait for all four.
    deadline = time.monotonic() + 10
    while len(log.read_text().splitlines()) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    written = log.read_text()
    assert len(written.splitlines()) >= 5
    assert "/oauth/token" in written and "/invitations/[key]/" in written
    assert SECRET not in written
