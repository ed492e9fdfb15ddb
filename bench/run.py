#!/usr/bin/env python3
"""`make bench`: the token endpoint and the resource API against a no-op ceiling, in one run.

Sets up a throwaway PostgreSQL database, provisions an org and an app with
`manage.py create_oauth_app`, starts gunicorn with the production configuration on loopback, and
drives it with wrk: GET /healthz (the no-op ceiling), POST /oauth/token, GET /api/v1/orgs/{org_id}.
Each measurement is repeated (interleaved) and the median reported. Loopback only; bounded in time.
"""

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def run(cmd: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, cwd=ROOT, check=True, text=True, **kwargs)


def bench_env(base: str, database_url: str) -> dict[str, str]:
    """The production settings, on loopback, against the throwaway database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "CONSOLE_ISSUER": base,
        # One client from one address: the rate limits stay on (their cost is measured) but high.
        "CONSOLE_TOKEN_RATE_PER_CLIENT": "1000000000",
        "CONSOLE_TOKEN_RATE_PER_IP": "1000000000",
    }


def _admin_url(database_url: str) -> tuple[str, str]:
    return database_url.rsplit("/", 1)[0] + "/postgres", database_url.rsplit("/", 1)[1]


def drop_database(env: dict[str, str], database_url: str) -> None:
    admin_url, db_name = _admin_url(database_url)
    run(["psql", admin_url, "-qc", f"DROP DATABASE IF EXISTS {db_name}"], env)


def provision(env: dict[str, str], database_url: str, workdir: Path) -> dict:
    """A fresh database with an org and an app added to it; returns the app's credentials JSON."""
    admin_url, db_name = _admin_url(database_url)
    print(f"== throwaway database {db_name}")
    drop_database(env, database_url)
    run(["psql", admin_url, "-qc", f"CREATE DATABASE {db_name}"], env)
    run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env)
    creds_path = workdir / "credentials.json"
    run(
        [
            PYTHON,
            "manage.py",
            "create_oauth_app",
            "--org=Bench Org",
            "--create-org",
            "--created-by=bench@example.com",
            "--name=bench",
            "--ttl=30",
            "--scope=org:member",
            "--scope=svc:compute:viewer",
            "--add-to-org",
            f"--output={creds_path}",
        ],
        env,
    )
    return json.loads(creds_path.read_text())


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer {url} within {timeout:.0f}s")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> tuple[float, float, int]:
    """(requests per second, p99 in ms, non-2xx count) from wrk --latency output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    if errors:
        print(f"    wrk: {errors.group(0)}", file=sys.stderr)
    return rps, float(value) * _UNITS[unit], int(bad.group(1)) if bad else 0


def wrk(
    url: str, connections: int, seconds: int, script: str | None, env: dict[str, str]
) -> tuple[float, float, int]:
    cmd = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    if script:
        cmd += ["-s", str(ROOT / "bench" / script)]
    output = subprocess.run(
        [*cmd, url], env=env, check=True, capture_output=True, text=True
    ).stdout
    return parse_wrk(output)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/console_bench"
        ),
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--seconds", type=int, default=10, help="length of one measurement"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", (os.cpu_count() or 1) * 2)),
    )
    parser.add_argument(
        "--threads", type=int, default=int(os.environ.get("GUNICORN_THREADS", "1"))
    )
    parser.add_argument("--connections", default="8,32")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    base = f"http://127.0.0.1:{args.port}"
    env = {
        **bench_env(base, args.database_url),
        "GUNICORN_BIND": f"127.0.0.1:{args.port}",
        "GUNICORN_ACCESS_LOG": "",
        "WEB_CONCURRENCY": str(args.workers),
        "GUNICORN_THREADS": str(args.threads),
    }
    workdir = Path(tempfile.mkdtemp(prefix="console-bench-"))
    creds = provision(env, args.database_url, workdir)
    basic = base64.b64encode(
        f"{creds['client_id']}:{creds['client_secret']}".encode()
    ).decode()

    print(f"== gunicorn: {args.workers} workers × {args.threads} threads on {base}")
    server = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "--config",
            "console/gunicorn.conf.py",
            "console.wsgi",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        wait_until_up(f"{base}/healthz")
        request = urllib.request.Request(
            f"{base}/oauth/token",
            data=b"grant_type=client_credentials",
            headers={"Authorization": f"Basic {basic}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            token = json.load(response)["access_token"]
        wrk_env = {**env, "BENCH_BASIC": basic, "BENCH_TOKEN": token}
        targets = {
            "noop": (f"{base}/healthz", None),
            "token": (f"{base}/oauth/token", "token.lua"),
            "api": (f"{base}/api/v1/orgs/{creds['org_id']}", "api.lua"),
        }
        connections = [int(c) for c in args.connections.split(",")]
        print("== warm-up")
        for url, script in targets.values():
            wrk(url, max(connections), 3, script, wrk_env)
        results: dict[tuple[str, int], list[tuple[float, float, int]]] = {}
        for round_number in range(1, args.repeat + 1):
            for conns in connections:
                for name, (url, script) in targets.items():
                    result = wrk(url, conns, args.seconds, script, wrk_env)
                    results.setdefault((name, conns), []).append(result)
                    print(
                        f"  round {round_number}  {name:<5} @{conns:<3} {result[0]:8.0f} req/s  p99 {result[1]:7.1f} ms  non-2xx {result[2]}"
                    )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        drop_database(env, args.database_url)
        shutil.rmtree(workdir, ignore_errors=True)

    def median(name: str, conns: int, index: int) -> float:
        return statistics.median(r[index] for r in results[(name, conns)])

    print()
    print(f"| target | conns | req/s (median of {args.repeat}) | p99 ms | non-2xx |")
    print("|---|---|---|---|---|")
    for (name, conns), runs in results.items():
        print(
            f"| {name} | {conns} | {median(name, conns, 0):.0f} | {median(name, conns, 1):.1f} | {sum(r[2] for r in runs)} |"
        )
    top = max(connections)
    tokens, ceiling, api = (
        median("token", top, 0),
        median("noop", top, 0),
        median("api", top, 0),
    )
    print()
    print(
        f"RESULT tokens_per_s={tokens:.0f} ceiling_per_s={ceiling:.0f} ratio={tokens / ceiling:.2f} "
        f"p99_ms={median('token', top, 1):.1f} api_ratio={api / ceiling:.2f}"
    )


if __name__ == "__main__":
    main()
