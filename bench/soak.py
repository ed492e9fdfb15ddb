#!/usr/bin/env python3
"""`make soak`: drive the token endpoint and the resource API for a few minutes (default 3) under
gunicorn + PostgreSQL (+ Redis when it runs, so the rate limiter is on the path), then report the
tokens issued, errors (must be 0), p50/p99 latency per kind of request, and the resident memory
of every gunicorn worker at the start and at the end (after a warm-up), which must not grow.

Each client thread loops: a token (HTTP Basic), then with it an API call; every tenth round also
introspects a token and revokes one. Loopback only; bounded by --seconds and --max-requests.
Exit status 0 only with no errors and no memory growth beyond --max-rss-growth.
"""

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from liveconsole import (
    DEFAULT_REDIS_URL,
    App,
    Gunicorn,
    HttpClient,
    drop_database,
    ensure_postgres_up,
    fresh_database,
    gunicorns,
    percentile,
    production_env,
    provision,
    redis_flush,
    redis_is_up,
    say,
)


class Soak:
    def __init__(self, port: int, apps: list[App], *, threads: int, max_requests: int):
        self.port, self.apps, self.threads = port, apps, threads
        self.max_requests = max_requests
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.errors: list[str] = []  # the first few, for the report
        self.error_count = 0
        self.requests = 0

    def _count(self, kind: str, answer, expected: int) -> bool:
        with self.lock:
            self.requests += 1
            self.latencies[kind].append(answer.seconds)
            self.statuses[(kind, answer.status)] += 1
            if answer.status != expected:
                self._error(
                    f"{kind}: {answer.status or answer.error} {answer.body[:160]!r}"
                )
            if self.requests >= self.max_requests:
                self.stop.set()
        return answer.status == expected

    def _error(self, what: str) -> None:
        self.error_count += 1
        if len(self.errors) < 50:
            self.errors.append(what)

    def _drive(self, index: int) -> None:
        app = self.apps[index % len(self.apps)]
        client = HttpClient(self.port)
        auth = {"Authorization": app.basic}
        rounds = 0
        while not self.stop.is_set():
            rounds += 1
            answer = client.token(app)
            if not self._count("token", answer, 200):
                continue
            token = answer.json()["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}
            self._count("api", client.get(f"/api/v1/orgs/{app.org_id}", bearer), 200)
            if rounds % 10 == 0:
                introspected = client.post_form(
                    "/oauth/introspect", {"token": token}, auth
                )
                is_answered = self._count("introspect", introspected, 200)
                if is_answered and not introspected.json().get("active"):
                    with self.lock:
                        self._error("introspection said a fresh token is inactive")
                self._count(
                    "revoke",
                    client.post_form("/oauth/revoke", {"token": token}, auth),
                    200,
                )
                self._count(
                    "api-revoked", client.get(f"/api/v1/orgs/{app.org_id}", bearer), 401
                )
        client.close()

    def run(self, seconds: float) -> float:
        workers = [
            threading.Thread(target=self._drive, args=(i,), daemon=True)
            for i in range(self.threads)
        ]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        self.stop.wait(seconds)
        self.stop.set()
        for worker in workers:
            worker.join(timeout=60)
        return time.monotonic() - started


def rss_line(sizes: dict[int, float]) -> str:
    return ", ".join(f"{pid}: {mb:.1f} MB" for pid, mb in sorted(sizes.items()))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 180))
    )
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument(
        "--threads", type=int, default=8, help="client threads (connections)"
    )
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2)
    parser.add_argument("--max-requests", type=int, default=5_000_000)
    parser.add_argument("--max-rss-growth", type=float, default=0.10, help="fraction")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/console_soak"
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    args = parser.parse_args()
    if not args.database_url.startswith("postgres://postgres@127.0.0.1"):
        raise SystemExit("soak.py runs against the local PostgreSQL only")

    ensure_postgres_up()
    extra = {
        # The limiter stays on the path (one Redis round trip per request) with limits far above
        # this load, so every request must succeed.
        "CONSOLE_TOKEN_RATE_PER_CLIENT": "100000000",
        "CONSOLE_TOKEN_RATE_PER_IP": "100000000",
    }
    if redis_is_up():
        extra["REDIS_URL"] = args.redis_url
        redis_flush(args.redis_url)
    env = production_env(args.database_url, **extra)
    workdir = Path(tempfile.mkdtemp(prefix="console-soak-"))
    failed = True
    try:
        say(f"== throwaway database {args.database_url.rsplit('/', 1)[1]}; 4 apps")
        fresh_database(env, args.database_url)
        apps = provision(env, [f"soak-{n}" for n in range(4)], workdir)
        server = Gunicorn(env, args.port, args.workers, workdir / "gunicorn.log")
        with gunicorns(server):
            say(
                f"== gunicorn: {args.workers} workers on 127.0.0.1:{args.port}; "
                f"{'Redis' if 'REDIS_URL' in extra else 'local-memory'} rate limits; "
                f"warm-up {args.warmup:.0f}s"
            )
            Soak(args.port, apps, threads=args.threads, max_requests=10**9).run(
                args.warmup
            )
            rss_start = server.worker_rss_mb()
            pids_start = sorted(rss_start)
            say(f"   RSS at start: {rss_line(rss_start)}")
            soak = Soak(
                args.port, apps, threads=args.threads, max_requests=args.max_requests
            )
            say(f"== soak: {args.threads} client threads for {args.seconds:.0f}s")
            samples = []
            sampler_stop = threading.Event()

            def sample() -> None:
                while not sampler_stop.wait(30):
                    sizes = server.worker_rss_mb()
                    samples.append(sum(sizes.values()))
                    say(
                        f"   {len(samples) * 30:>4}s  {soak.requests:>8} requests  RSS {rss_line(sizes)}"
                    )

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            elapsed = soak.run(args.seconds)
            sampler_stop.set()
            rss_end = server.worker_rss_mb()
            pids_end = sorted(rss_end)
        say(f"   RSS at end:   {rss_line(rss_end)}")
        failed = False
    finally:
        drop_database(env, args.database_url)
        if "REDIS_URL" in extra:
            redis_flush(args.redis_url)

    tokens = soak.statuses[("token", 200)]
    errors = soak.error_count
    say("")
    say("| request | count | p50 ms | p99 ms | max ms |")
    say("|---|---|---|---|---|")
    for kind, values in soak.latencies.items():
        say(
            f"| {kind} | {len(values)} | {statistics.median(values) * 1000:.1f} | "
            f"{percentile(values, 0.99) * 1000:.1f} | {max(values) * 1000:.1f} |"
        )
    for problem in soak.errors[:10]:
        say(f"   error: {problem}")
    start_total, end_total = sum(rss_start.values()), sum(rss_end.values())
    growth = (end_total - start_total) / start_total if start_total else 0.0
    same_workers = pids_start == pids_end
    all_latencies = [v for values in soak.latencies.values() for v in values]
    token_latencies = soak.latencies["token"]
    say("")
    say(
        f"SOAK seconds={elapsed:.0f} requests={soak.requests} tokens={tokens} "
        f"tokens_per_s={tokens / elapsed:.0f} errors={errors} "
        f"token_p50_ms={statistics.median(token_latencies) * 1000:.1f} "
        f"token_p99_ms={percentile(token_latencies, 0.99) * 1000:.1f} "
        f"all_p99_ms={percentile(all_latencies, 0.99) * 1000:.1f} "
        f"rss_start_mb={start_total:.1f} rss_end_mb={end_total:.1f} rss_growth={growth:+.1%} "
        f"same_workers={same_workers}"
    )
    ok = not failed and errors == 0 and growth <= args.max_rss_growth and same_workers
    if ok:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        say(f"(gunicorn log kept in {workdir})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
