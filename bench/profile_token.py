#!/usr/bin/env python3
"""`make profile-token`: where one token request (or API call) spends its time.

Sets up the same throwaway PostgreSQL database as `make bench`, then, in this one process, sends
requests straight to the production WSGI application (no gunicorn, no sockets): warms up, times
`--requests` of them, counts their SQL statements and profiles them with pyinstrument (installed
with the test extras, or `pip install pyinstrument`). The profile of many identical requests is
the profile of one, with enough samples to be read.

    .venv/bin/python bench/profile_token.py --target token --requests 2000 [--html profile.html]
"""

import argparse
import base64
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, add_environment_arguments, bench_env, drop_database, provision  # noqa: E402


def environ_for(method: str, path: str, headers: dict[str, str], body: bytes) -> dict:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8765",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        "HTTP_HOST": "127.0.0.1:8765",
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    return environ


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process on this machine (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "PROFILE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/console_profile"
        ),
    )
    parser.add_argument("--target", choices=["token", "api", "noop"], default="token")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--html", help="also write pyinstrument's HTML report here")
    parser.add_argument(
        "--cprofile",
        action="store_true",
        help="also print cProfile's functions, by CPU time",
    )
    parser.add_argument(
        "--sort",
        choices=["tottime", "cumtime"],
        default="tottime",
        help="cProfile's order",
    )
    parser.add_argument(
        "--depth", type=int, default=40, help="lines of the text profile to print"
    )
    add_environment_arguments(parser)
    args = parser.parse_args()
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        raise SystemExit(
            "pyinstrument is not installed: .venv/bin/pip install pyinstrument"
        ) from None

    env = bench_env(
        "http://127.0.0.1:8765",
        args.database_url,
        rate_limits=args.rate_limits == "on",
        redis_url=args.redis_url,
    )
    workdir = Path(tempfile.mkdtemp(prefix="console-profile-"))
    try:
        creds = provision(env, args.database_url, workdir)
        os.environ.update(env)
        os.chdir(ROOT)
        sys.path.insert(0, str(ROOT))
        profile(creds, args)
    finally:
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()
        drop_database(env, args.database_url)
        shutil.rmtree(workdir, ignore_errors=True)


def profile(creds: dict, args: argparse.Namespace) -> None:
    import json

    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from pyinstrument import Profiler

    application = get_wsgi_application()
    basic = base64.b64encode(
        f"{creds['client_id']}:{creds['client_secret']}".encode()
    ).decode()
    token_body = b"grant_type=client_credentials"
    token_headers = {
        "Authorization": f"Basic {basic}",
        "Content-Type": "application/x-www-form-urlencoded",
    }

    def call(
        method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[str, bytes]:
        environ = environ_for(method, path, headers, body)
        environ["wsgi.input"] = io.BytesIO(body)
        status: list[str] = []
        chunks = application(environ, lambda s, h, exc_info=None: status.append(s))
        try:
            content = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return status[0], content

    status, content = call("POST", "/oauth/token", token_headers, token_body)
    assert status.startswith("200"), (status, content)
    access_token = json.loads(content)["access_token"]
    requests = {
        "token": ("POST", "/oauth/token", token_headers, token_body),
        "api": (
            "GET",
            f"/api/v1/orgs/{creds['org_id']}",
            {"Authorization": f"Bearer {access_token}"},
            b"",
        ),
        "noop": ("GET", "/healthz", {}, b""),
    }
    method, path, headers, body = requests[args.target]

    def once() -> None:
        status, content = call(method, path, headers, body)
        if not status.startswith("200"):
            raise SystemExit(f"{path}: {status} {content[:200]!r}")

    for _ in range(200):  # warm-up: keys parsed, SQL built, connection open
        once()
    with CaptureQueriesContext(connection) as captured:
        once()
    print(
        f"== {args.target}: {len(captured.captured_queries)} SQL statements per request"
    )
    for query in captured.captured_queries:
        print(f"   {query['sql'][:110]}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend_pid = cursor.fetchone()[0]
    started, cpu_started, db_started = (
        time.perf_counter(),
        time.process_time(),
        process_cpu_seconds(backend_pid),
    )
    for _ in range(args.requests):
        once()
    elapsed, cpu, db_cpu = (
        time.perf_counter() - started,
        time.process_time() - cpu_started,
        process_cpu_seconds(backend_pid) - db_started,
    )
    per = 1e6 / args.requests
    print(
        f"== {args.requests} requests in one thread: {elapsed * per:.0f} µs each ({args.requests / elapsed:.0f}/s); "
        f"CPU per request: Python {cpu * per:.0f} µs, PostgreSQL backend {db_cpu * per:.0f} µs"
    )

    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(args.requests):
        once()
    profiler.stop()
    text = profiler.output_text(
        unicode=True, color=False, show_all=False, short_mode=False
    )
    lines = text.splitlines()
    print("\n".join(lines[: args.depth]))
    if len(lines) > args.depth:
        print(f"   … {len(lines) - args.depth} more lines (--depth)")
    if args.cprofile:
        import cProfile
        import pstats

        profiler = cProfile.Profile(
            time.process_time
        )  # CPU time, not time waiting for PostgreSQL
        profiler.enable()
        for _ in range(args.requests):
            once()
        profiler.disable()
        print(f"== cProfile, {args.requests} requests, by {args.sort}")
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.depth)
    if args.html:
        Path(args.html).write_text(profiler.output_html())
        print(f"== HTML profile written to {args.html}")


if __name__ == "__main__":
    main()
