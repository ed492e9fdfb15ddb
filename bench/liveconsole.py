"""A live console for the fault and soak scripts: a throwaway PostgreSQL database, apps provisioned
with `manage.py create_oauth_app`, gunicorn instances with the production settings on loopback, and
a small keep-alive HTTP client that times every request and never raises.

Loopback only: every URL this module builds is http://127.0.0.1:<port>.
"""

import base64
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LOOPBACK = "127.0.0.1"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/console_faults"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
OWNER_EMAIL = "owner@bench.example"
OWNER_PASSWORD = "Faults-and-soak-" + secrets.token_urlsafe(8)
PG_VERSION = (
    os.listdir("/etc/postgresql")[0] if os.path.isdir("/etc/postgresql") else "15"
)
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


def say(message: str) -> None:
    print(message, flush=True)


def production_env(database_url: str, **extra: str) -> dict[str, str]:
    """The production settings (DEBUG off), on loopback, over plain HTTP."""
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
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_SECURE_COOKIES": "false",
            "DJANGO_LOG_LEVEL": "WARNING",
            "DATABASE_URL": database_url,
            "CONSOLE_ISSUER": f"http://{LOOPBACK}:8000",
            "GUNICORN_ACCESS_LOG": "",
        }
    )
    env.update(extra)
    return env


def _admin(database_url: str) -> tuple[str, str]:
    base, name = database_url.rsplit("/", 1)
    return base + "/postgres", name


def run(cmd: list[str], env: dict[str, str], **kwargs) -> str:
    return subprocess.run(
        cmd, env=env, cwd=ROOT, check=True, text=True, capture_output=True, **kwargs
    ).stdout


def fresh_database(env: dict[str, str], database_url: str) -> None:
    admin_url, name = _admin(database_url)
    run(["psql", admin_url, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], env)
    run(["psql", admin_url, "-qc", f"CREATE DATABASE {name}"], env)
    run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env)
    # Production serves hashed static files (whitenoise's manifest): the pages need it.
    run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], env)


def drop_database(env: dict[str, str], database_url: str) -> None:
    admin_url, name = _admin(database_url)
    subprocess.run(
        ["psql", admin_url, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
        env=env, cwd=ROOT, capture_output=True, timeout=60,
    )  # fmt: skip


@dataclass
class App:
    client_id: str
    client_secret: str
    org_id: str

    @property
    def basic(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def provision(env: dict[str, str], names: list[str], workdir: Path) -> list[App]:
    """Apps (one org, added to it, org:member + svc:compute:viewer), and the org's Owner with a
    known password for console pages."""
    apps = []
    for index, name in enumerate(names):
        out = workdir / f"{name}.json"
        run(
            [PYTHON, "manage.py", "create_oauth_app", "--org=Faults Org",
             *(["--create-org"] if index == 0 else []), f"--created-by={OWNER_EMAIL}",
             f"--name={name}", "--ttl=30", "--scope=org:member", "--scope=svc:compute:viewer",
             "--add-to-org", f"--output={out}"],
            env,
        )  # fmt: skip
        data = json.loads(out.read_text())
        apps.append(App(data["client_id"], data["client_secret"], data["org_id"]))
    script = (
        "from django.contrib.auth.models import User;"
        f"u = User.objects.get(email={OWNER_EMAIL!r}); u.set_password({OWNER_PASSWORD!r}); u.save()"
    )
    run([PYTHON, "manage.py", "shell", "-c", script], env)
    return apps


class Gunicorn:
    """One gunicorn instance (the Procfile's configuration) on 127.0.0.1:<port>."""

    def __init__(self, env: dict[str, str], port: int, workers: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.env = {
            **env,
            "GUNICORN_BIND": f"{LOOPBACK}:{port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_THREADS": "1",
        }
        self.process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> "Gunicorn":
        self.log_file = self.log.open("ab")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "--config", "console/gunicorn.conf.py", "console.wsgi"],
            env=self.env, cwd=ROOT, stdout=self.log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        client = HttpClient(self.port)
        while time.monotonic() < deadline:
            if client.get("/healthz").status == 200:
                client.close()
                return self
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {self.log}")
            time.sleep(0.2)
        raise SystemExit(
            f"gunicorn on port {self.port} did not come up; see {self.log}"
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if getattr(self, "log_file", None):
            self.log_file.close()

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)],
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        return sorted(int(pid) for pid in out.split())

    def worker_rss_mb(self) -> dict[int, float]:
        sizes = {}
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                continue
            match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
            if match:
                sizes[pid] = int(match.group(1)) / 1024
        return sizes

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def gunicorns(*instances: Gunicorn):
    try:
        for instance in instances:
            instance.start()
        yield instances
    finally:
        for instance in instances:
            instance.stop()


@dataclass
class Answer:
    status: int  # 0: no HTTP answer (connection refused/reset, timeout)
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> dict:
        try:
            return json.loads(self.body)
        except ValueError:
            return {}


class HttpClient:
    """A keep-alive HTTP/1.1 connection to 127.0.0.1:<port> that reconnects after any error."""

    def __init__(self, port: int, *, source: str = "", timeout: float = 10.0) -> None:
        self.port = port
        self.source = source
        self.timeout = timeout
        self.connection: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict | None = None,
    ) -> Answer:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    LOOPBACK, self.port, timeout=self.timeout,
                    source_address=(self.source, 0) if self.source else None,
                )  # fmt: skip
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
            answer = Answer(
                response.status,
                data,
                {k.lower(): v for k, v in response.getheaders()},
                time.perf_counter() - started,
            )
            for value in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            if response.will_close:
                self.close()
            return answer
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Answer(
                0, seconds=time.perf_counter() - started, error=type(exc).__name__
            )

    def get(self, path: str, headers: dict | None = None) -> Answer:
        return self.request("GET", path, headers=headers)

    def post_form(self, path: str, data: dict, headers: dict | None = None) -> Answer:
        return self.request(
            "POST",
            path,
            urllib.parse.urlencode(data).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        )

    def token(self, app: App) -> Answer:
        return self.post_form(
            "/oauth/token",
            {"grant_type": "client_credentials"},
            {"Authorization": app.basic},
        )

    def sign_in(self, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD) -> bool:
        page = self.get("/accounts/login/")
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
        if not match:
            return False
        answer = self.post_form(
            "/accounts/login/",
            {"csrfmiddlewaretoken": match.group(1).decode(), "login": email,
             "password": password},
        )  # fmt: skip
        return answer.status == 302 and "sessionid" in self.cookies


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def pg_is_ready() -> bool:
    return (
        subprocess.run(
            ["pg_isready", "-q", "-h", LOOPBACK, "-p", "5432"], capture_output=True
        ).returncode
        == 0
    )


def pg_ctl(action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main", action],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def ensure_postgres_up() -> None:
    """Whatever happened, leave PostgreSQL running."""
    if pg_is_ready():
        return
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main", "start"],
        capture_output=True, timeout=120,
    )  # fmt: skip
    for _ in range(60):
        if pg_is_ready():
            return
        time.sleep(0.5)
    raise SystemExit("PostgreSQL did not come back: start it by hand")


def redis_is_up() -> bool:
    try:
        with socket.create_connection((LOOPBACK, 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_stop() -> None:
    subprocess.run(
        ["redis-cli", "-h", LOOPBACK, "shutdown", "nosave"], capture_output=True
    )


def ensure_redis_up() -> None:
    """Whatever happened, leave Redis running (with CI's command line)."""
    if redis_is_up():
        return
    os.makedirs("/var/lib/redis", exist_ok=True)
    os.makedirs("/var/log/redis", exist_ok=True)
    subprocess.run(REDIS_START, capture_output=True, timeout=30)
    for _ in range(50):
        if redis_is_up():
            return
        time.sleep(0.1)
    raise SystemExit("Redis did not come back: start it by hand")


def redis_flush(url: str) -> None:
    db = urllib.parse.urlparse(url).path.lstrip("/") or "0"
    subprocess.run(
        ["redis-cli", "-h", LOOPBACK, "-n", db, "flushdb"], capture_output=True
    )
