"""A client assertion is single-use across instances: two gunicorn instances with the production
settings share the test's PostgreSQL database (and no cache: each keeps its own in memory), as
two instances behind a load balancer do. An assertion accepted by one is refused by the other,
and of two sent to both at once, exactly one gets a token."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.db import connection

from tests.tokens.assertions import assertion, assertion_form, key_pair

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    settings = connection.settings_dict
    user = settings["USER"] or "postgres"
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    host = settings["HOST"] or "127.0.0.1"
    port = settings["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def _start(port: int, issuer: str, log: Path) -> subprocess.Popen:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CONSOLE_", "GUNICORN_", "REDIS_URL"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_SECURE_COOKIES": "false",
            "DJANGO_LOG_LEVEL": "WARNING",
            "DATABASE_URL": _database_url(),
            "CONSOLE_ISSUER": issuer,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_ACCESS_LOG": "",
        }
    )
    with log.open("ab") as output:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "console/gunicorn.conf.py",
                "console.wsgi",
            ],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_until_up(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited:\n{log.read_text()[-2000:]}")
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn at {base} did not come up:\n{log.read_text()[-2000:]}")


@pytest.fixture
def instances(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("two instances share a PostgreSQL database (CI runs this on it)")
    ports = [_free_port(), _free_port()]
    issuer = f"http://127.0.0.1:{ports[0]}"  # one public URL, as behind a load balancer
    processes = []
    try:
        for number, port in enumerate(ports):
            log = tmp_path / f"gunicorn-{number}.log"
            processes.append((_start(port, issuer, log), log))
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base, (process, log) in zip(bases, processes, strict=True):
            _wait_until_up(base, process, log)
        yield issuer, bases
    finally:
        for process, _ in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


def test_an_assertion_used_on_one_instance_is_refused_on_another(
    org, make_key_app, instances
):
    issuer, (first, second) = instances
    key = key_pair("ES256")
    app = make_key_app(org, key, scopes=["org:member"], add_to=[org])
    signed = assertion(key, app.client_id, f"{issuer}/oauth/token")

    accepted = requests.post(
        f"{first}/oauth/token", data=assertion_form(signed), timeout=30
    )
    assert accepted.status_code == 200, accepted.text

    replayed = requests.post(
        f"{second}/oauth/token", data=assertion_form(signed), timeout=30
    )
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "invalid_client"
    assert "already used" in replayed.json()["error_description"]

    # Sent to both at once: one token, one refusal.
    for _ in range(3):
        signed = assertion(key, app.client_id, f"{issuer}/oauth/token")

        def post(base: str, signed: str = signed) -> int:
            return requests.post(
                f"{base}/oauth/token", data=assertion_form(signed), timeout=30
            ).status_code

        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = sorted(pool.map(post, [first, second]))
        assert statuses == [200, 401]
