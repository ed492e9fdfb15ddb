#!/usr/bin/env python3
"""`make bench-console`: every console page at scale, in-process, on PostgreSQL.

Creates a throwaway PostgreSQL database (BENCH_CONSOLE_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/console_bench_pages), migrates it, runs `manage.py seed_scale`
(10,000 members, 10,000 apps + 2,000 from other orgs, 200,000 audit events, 2,000
notifications, issued tokens), then renders each page through Django's test client with the
production settings (DEBUG off) as the big org's Owner: SQL statements per request, server time
p50/p95 over --repeat requests after a warm-up, and the HTML's size, each beside its goal
(<= 20 statements, p50 < 50 ms, < 150 KB). Drops the database at the end unless --keep.
"""

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/console_bench_pages"
GOAL_SQL, GOAL_P50_MS, GOAL_BYTES = 20, 50.0, 150 * 1024


def psql(admin_url: str, sql: str) -> None:
    subprocess.run(["psql", admin_url, "-qc", sql], check=True)


def configure(database_url: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "CONSOLE_ISSUER": "http://testserver",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_LOG_LEVEL": "WARNING",
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
        }
    )
    import django

    django.setup()


def seed(sizes: dict[str, int]) -> None:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("seed_scale", force=True, **sizes)
    print(f"seed_scale took {time.perf_counter() - started:.1f} s", flush=True)


def wizard_steps(org_id: str) -> list[tuple[str, str, dict]]:
    """The wizard's steps as a user reaches them: GET the first, POST Next to each later one."""
    url = f"/orgs/{org_id}/oauth-apps/new/"
    data = {
        "type-app_type": "server_to_server",
        "register-name": "bench wizard app",
        "register-description": "Made by the benchmark.",
        "ttl-access_token_ttl_minutes": "30",
        "scopes-scopes": ["org:member", "svc:compute:viewer"],
        "nav": "next",
    }
    return [
        ("wizard: 1 type", url, {}),
        ("wizard: 2 register", url, {**data, "step": "type"}),
        ("wizard: 3 TTL", url, {**data, "step": "register"}),
        ("wizard: 4 scopes", url, {**data, "step": "ttl"}),
        ("wizard: 5 review", url, {**data, "step": "scopes"}),
    ]


def pages() -> list[tuple[str, str, dict]]:
    from oauthapps.models import OAuthApp
    from orgs.management.commands.seed_scale import ORG_NAME
    from orgs.models import Organization

    org = Organization.objects.get(name=ORG_NAME)
    base = f"/orgs/{org.pk}"
    owned = OAuthApp.objects.filter(organization=org).order_by("pk").first()
    foreign = OAuthApp.objects.exclude(organization=org).order_by("pk").first()
    return [
        ("org overview", f"{base}/", {}),
        ("members", f"{base}/members/", {}),
        ("members: search", f"{base}/members/?q=person0999", {}),
        ("members: last page", f"{base}/members/?page=last", {}),
        ("services", f"{base}/services/", {}),
        ("OAuth apps", f"{base}/oauth-apps/", {}),
        ("OAuth apps: search", f"{base}/oauth-apps/?q=billing", {}),
        ("OAuth apps: last page", f"{base}/oauth-apps/?page=last", {}),
        ("app page (owned)", f"{base}/oauth-apps/{owned.pk}/", {}),
        ("app page (added)", f"{base}/oauth-apps/{foreign.pk}/", {}),
        ("audit log", f"{base}/audit-log/", {}),
        ("audit log: search", f"{base}/audit-log/?q=app-0", {}),
        ("audit log: filtered", f"{base}/audit-log/?action=app.edit&q=app-0", {}),
        ("audit log: last page", f"{base}/audit-log/?page=last", {}),
        ("notifications", "/notifications/", {}),
        ("notifications: last page", "/notifications/?page=last", {}),
        *wizard_steps(str(org.pk)),
        (
            "wizard: add to org",
            f"{base}/oauth-apps/{owned.pk}/add-to-organization/",
            {},
        ),
        ("admin: apps", "/admin/oauthapps/oauthapp/", {}),
        ("admin: issued tokens", "/admin/tokens/issuedtoken/", {}),
        ("admin: memberships", "/admin/orgs/membership/", {}),
        ("admin: audit events", "/admin/orgs/auditevent/", {}),
    ]


def measure(
    client, url: str, data: dict, repeat: int
) -> tuple[int, list[float], int, int]:
    from django.db import connection

    def request():
        return client.post(url, data) if data else client.get(url)

    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    for _ in range(2):  # warm caches (templates, the switcher's session) before timing
        request()
    with connection.execute_wrapper(count):
        response = request()
    times, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        request()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return len(statements), times, cpu, len(response.content), response.status_code


def mark(ok: bool) -> str:
    return "ok" if ok else "OVER"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--reuse", action="store_true", help="use an already seeded database as it is"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="measure only the pages whose name contains TEXT (repeatable)",
    )
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--foreign-apps", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--notifications", type=int, default=2_000)
    parser.add_argument("--tokens", type=int, default=100_000)
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_CONSOLE_DATABASE_URL", DEFAULT_DATABASE_URL)
    admin_url, name = database_url.rsplit("/", 1)
    admin_url += "/postgres"
    if not args.reuse:
        psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        psql(admin_url, f"CREATE DATABASE {name}")
    try:
        configure(database_url)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        if not args.reuse:
            seed(
                {
                    "members": args.members,
                    "apps": args.apps,
                    "foreign_apps": args.foreign_apps,
                    "events": args.events,
                    "notifications": args.notifications,
                    "tokens": args.tokens,
                }
            )
        from django.contrib.auth.models import User
        from django.core.management import call_command
        from django.test import Client

        call_command("collectstatic", interactive=False, verbosity=0)

        from orgs.management.commands.seed_scale import OWNER_EMAIL

        client = Client()
        client.force_login(User.objects.get(email=OWNER_EMAIL))
        rows, failures = [], 0
        chosen = [
            page
            for page in pages()
            if not args.only or any(text in page[0] for text in args.only)
        ]
        for label, url, data in chosen:
            count, times, cpu, size, status = measure(client, url, data, args.repeat)
            p50 = statistics.median(times)
            p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
            ok = status == 200 and count <= GOAL_SQL and p50 < GOAL_P50_MS
            ok = ok and size < GOAL_BYTES
            failures += not ok
            cpu50 = statistics.median(cpu)
            rows.append((label, status, count, p50, p95, min(times), cpu50, size, ok))
            print(
                f"  {label}: {count} SQL, p50 {p50:.1f} ms, {size / 1024:.1f} KB",
                flush=True,
            )
        print()
        print(
            f"| page | SQL (≤ {GOAL_SQL}) | p50 ms (< {GOAL_P50_MS:.0f}) | p95 ms | min ms | "
            f"Python CPU ms | KB (< {GOAL_BYTES // 1024}) | |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for label, status, count, p50, p95, fastest, cpu50, size, ok in rows:
            state = mark(ok) if status == 200 else f"HTTP {status}"
            print(
                f"| {label} | {count} | {p50:.1f} | {p95:.1f} | {fastest:.1f} | {cpu50:.1f} "
                f"| {size / 1024:.1f} | {state} |"
            )
        load = os.getloadavg()[0]
        print(f"\nload average at the end: {load:.2f} on {os.cpu_count()} cores")
        print(f"\nRESULT pages={len(rows)} over_goal={failures}")
        return 1 if failures else 0
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
