#!/usr/bin/env python3
"""`make faults`: the console under faults, on loopback, against gunicorn + PostgreSQL + Redis.

1. PostgreSQL restarted, then stopped for a few seconds, during a load of token requests, API
   calls and console pages: while it is down the token endpoint and the API answer JSON 503
   (`temporarily_unavailable`) and console pages a friendly 503 page; once it is back every request
   succeeds again, with the same gunicorn workers (no restart).
2. Redis stopped during a token load: tokens keep flowing, rate limiting fails open (and says so
   once in the log); when Redis is back the limits hold again.
3. Two gunicorn instances on different ports, one PostgreSQL and one Redis: a token issued by one
   is introspected and revoked through the other, and the per-client and failed-authentication
   limits hold across both.
4. Malformed HTTP and hostile bodies sent straight to gunicorn: no 5xx, and it keeps serving.

Everything stays on 127.0.0.1 (other loopback addresses stand in for other clients), every loop
is bounded in time and count, and PostgreSQL and Redis are left running whatever happens.
Exit status 0 only if every request was answered cleanly.
"""

import argparse
import random
import shutil
import socket
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from liveconsole import (
    DEFAULT_REDIS_URL,
    LOOPBACK,
    Answer,
    App,
    Gunicorn,
    HttpClient,
    drop_database,
    ensure_postgres_up,
    ensure_redis_up,
    fresh_database,
    gunicorns,
    pg_ctl,
    pg_is_ready,
    production_env,
    provision,
    redis_flush,
    redis_is_up,
    redis_stop,
    say,
)

OUTAGE_GRACE_SECONDS = (
    3.0  # after PostgreSQL answers again, the workers' next request reconnects
)
MAX_REQUESTS_PER_RUN = 200_000


@dataclass
class Tally:
    requests: int = 0
    ok: int = 0
    clean_failures: int = 0
    unclean: list[str] = field(default_factory=list)
    late_failures: list[str] = field(default_factory=list)

    def add(self, other: "Tally") -> None:
        self.requests += other.requests
        self.ok += other.ok
        self.clean_failures += other.clean_failures
        self.unclean += other.unclean
        self.late_failures += other.late_failures


def is_clean_json_failure(answer: Answer) -> bool:
    return (
        answer.status in (500, 503)
        and answer.content_type.startswith("application/json")
        and answer.json().get("error") in ("temporarily_unavailable", "server_error")
    )


def is_friendly_page(answer: Answer) -> bool:
    return (
        answer.status == 503
        and answer.content_type.startswith("text/html")
        and b"temporarily unavailable" in answer.body
    )


class Load:
    """Threads driving tokens, API calls and a console page until stopped (bounded anyway)."""

    def __init__(self, port: int, app: App, *, threads: int, page: bool) -> None:
        self.port, self.app, self.threads, self.page = port, app, threads, page
        self.stop = threading.Event()
        self.records: list[tuple[float, str, Answer]] = []
        self.lock = threading.Lock()

    def _record(self, kind: str, answer: Answer) -> None:
        with self.lock:
            self.records.append((time.monotonic(), kind, answer))

    def _drive(self, index: int) -> None:
        client = HttpClient(self.port, timeout=15)
        token = ""
        console = None
        if self.page and index == 0:
            console = HttpClient(self.port, timeout=15)
            assert console.sign_in(), "could not sign in to the console"
        count = 0
        while not self.stop.is_set() and len(self.records) < MAX_REQUESTS_PER_RUN:
            count += 1
            answer = client.token(self.app)
            self._record("token", answer)
            if answer.status == 200:
                token = answer.json()["access_token"]
            if token and count % 3 == 0:
                api = client.get(
                    f"/api/v1/orgs/{self.app.org_id}",
                    {"Authorization": f"Bearer {token}"},
                )
                self._record("api", api)
            if console is not None and count % 5 == 0:
                self._record("page", console.get(f"/orgs/{self.app.org_id}/"))
            if answer.status != 200:
                time.sleep(0.05)  # do not spin while the database is down

    def __enter__(self) -> "Load":
        self.workers = [
            threading.Thread(target=self._drive, args=(i,), daemon=True)
            for i in range(self.threads)
        ]
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for worker in self.workers:
            worker.join(timeout=60)

    def judge(self, outage: tuple[float, float] | None) -> Tally:
        """Every answer: OK; a clean failure inside the outage window; or a problem."""
        tally = Tally()
        for at, kind, answer in self.records:
            tally.requests += 1
            expected_ok = answer.status == 200
            if expected_ok:
                tally.ok += 1
                continue
            clean = (
                is_friendly_page(answer)
                if kind == "page"
                else is_clean_json_failure(answer)
            )
            inside = outage is not None and outage[0] <= at <= outage[1]
            what = f"{kind} {answer.status or answer.error} {answer.body[:120]!r}"
            if not clean:
                tally.unclean.append(what)
            elif not inside:
                tally.late_failures.append(what)
            else:
                tally.clean_failures += 1
        return tally


def report(name: str, tally: Tally, extra: str = "") -> None:
    say(
        f"   {name}: {tally.requests} requests, {tally.ok} OK, {tally.clean_failures} clean "
        f"failures during the outage, {len(tally.unclean)} unclean, "
        f"{len(tally.late_failures)} failures outside the outage {extra}"
    )
    for problem in (tally.unclean + tally.late_failures)[:10]:
        say(f"     problem: {problem}")


def postgres_fault(
    port: int, app: App, env, log: Path, *, mode: str, down: float
) -> Tally:
    """Restart (or stop for `down` seconds, then start) PostgreSQL under load."""
    with gunicorns(Gunicorn(env, port, 2, log)) as (server,):
        workers_before = server.worker_pids()
        with Load(port, app, threads=4, page=True) as load:
            time.sleep(3)
            started = time.monotonic()
            if mode == "restart":
                pg_ctl("restart")
            else:
                pg_ctl("stop")
                time.sleep(down)
                pg_ctl("start")
            while not pg_is_ready() and time.monotonic() - started < 120:
                time.sleep(0.1)
            ready = time.monotonic()
            time.sleep(OUTAGE_GRACE_SECONDS + 5)
        tally = load.judge((started, ready + OUTAGE_GRACE_SECONDS))
        after = [a for at, _, a in load.records if at > ready + OUTAGE_GRACE_SECONDS]
        same_workers = server.worker_pids() == workers_before
    kinds = Counter((kind, answer.status) for _, kind, answer in load.records)
    say(f"   answers by kind and status: {dict(sorted(kinds.items()))}")
    report(
        f"PostgreSQL {mode}",
        tally,
        f"(down {ready - started:.1f}s; {len(after)} requests after recovery, "
        f"{sum(a.status == 200 for a in after)} OK; same workers: {same_workers})",
    )
    if not after or any(a.status != 200 for a in after):
        tally.late_failures.append("requests failed after PostgreSQL was back")
    if not same_workers:
        tally.unclean.append("gunicorn workers were restarted")
    if tally.clean_failures == 0 and mode != "restart":
        tally.unclean.append("the outage was not observed (no 503 while it was down)")
    return tally


def failures_until_429(port: int, app: App, source: str, attempts: int) -> list[int]:
    client = HttpClient(port, source=source)
    wrong = App(app.client_id, "wrong-" + app.client_secret[:10], app.org_id)
    return [client.token(wrong).status for _ in range(attempts)]


def redis_fault(port: int, app: App, env, log: Path, retry_seconds: int) -> Tally:
    """Stop Redis under a token load; rate limiting fails open, then holds again."""
    problems: list[str] = []
    with gunicorns(Gunicorn(env, port, 2, log)) as (server,):
        with Load(port, app, threads=3, page=False) as load:
            time.sleep(2)
            before = failures_until_429(port, app, "127.0.0.2", 6)
            if before != [401] * 5 + [429]:
                problems.append(f"limits with Redis up: {before}")
            redis_stop()
            down_since = time.monotonic()
            while redis_is_up() and time.monotonic() - down_since < 10:
                time.sleep(0.1)
            time.sleep(1)
            during = failures_until_429(port, app, "127.0.0.3", 10)
            if during != [401] * 10:
                problems.append(f"limits with Redis down (should fail open): {during}")
            time.sleep(3)
            ensure_redis_up()
            time.sleep(retry_seconds + 1)
            after = failures_until_429(port, app, "127.0.0.4", 6)
            if after != [401] * 5 + [429]:
                problems.append(f"limits after Redis came back: {after}")
            time.sleep(2)
        tally = load.judge(None)
        text = server.log_text()
    warned = text.count("Rate limiting is OFF")
    back = text.count("Rate limiting is back on")
    if warned < 1 or back < 1:
        problems.append(f"log lines: {warned} 'OFF', {back} 'back on'")
    report(
        "Redis stopped and restarted",
        tally,
        f"(failed auths per address: up {before.count(401)}→429, down {during.count(401)} "
        f"all served, back {after.count(401)}→429; log: {warned} 'OFF', {back} 'back on')",
    )
    tally.unclean += problems
    return tally


def two_instances(port: int, apps: list[App], env, workdir: Path) -> Tally:
    """Two gunicorns, one database and Redis: tokens and limits are shared."""
    tally, problems = Tally(), []
    first = Gunicorn(env, port, 2, workdir / "gunicorn-a.log")
    second = Gunicorn(env, port + 1, 2, workdir / "gunicorn-b.log")
    with gunicorns(first, second):
        a, b = HttpClient(first.port), HttpClient(second.port)
        app, limited = apps[0], apps[1]

        def call(answer: Answer, expected: int, what: str) -> Answer:
            tally.requests += 1
            if answer.status == expected:
                tally.ok += 1
            else:
                problems.append(f"{what}: {answer.status} {answer.body[:120]!r}")
            return answer

        token = call(a.token(app), 200, "token from A").json().get("access_token", "")
        auth = {"Authorization": app.basic}
        introspected = call(
            b.post_form("/oauth/introspect", {"token": token}, auth),
            200,
            "introspect at B",
        ).json()
        if introspected.get("active") is not True:
            problems.append(f"B does not see A's token as active: {introspected}")
        bearer = {"Authorization": f"Bearer {token}"}
        call(b.get(f"/api/v1/orgs/{app.org_id}", bearer), 200, "API at B")
        call(b.post_form("/oauth/revoke", {"token": token}, auth), 200, "revoke at B")
        after = call(
            a.post_form("/oauth/introspect", {"token": token}, auth),
            200,
            "introspect at A",
        ).json()
        if after.get("active") is not False:
            problems.append(f"A still sees the token revoked at B as active: {after}")
        call(
            a.get(f"/api/v1/orgs/{app.org_id}", bearer), 401, "revoked token at A's API"
        )

        # The per-client limit (CONSOLE_TOKEN_RATE_PER_CLIENT=20) across both instances.
        statuses = []
        for index in range(30):
            answer = (a if index % 2 else b).token(limited)
            tally.requests += 1
            statuses.append(answer.status)
        granted = statuses.count(200)
        if granted != 20 or set(statuses[20:]) != {429}:
            problems.append(f"per-client limit across instances: {statuses}")
        else:
            tally.ok += 30
        # Failed authentications from one address across both (limit 5).
        fails = []
        wrong = App(app.client_id, "nope", app.org_id)
        for index in range(8):
            client = HttpClient(
                (first if index % 2 else second).port, source="127.0.0.9"
            )
            fails.append(client.token(wrong).status)
            client.close()
        tally.requests += 8
        if fails != [401] * 5 + [429] * 3:
            problems.append(f"failure limit across instances: {fails}")
        else:
            tally.ok += 8
    say(
        f"   two instances: token from A active at B, revoked at B and inactive at A; "
        f"per-client limit 20 → {granted} granted over A+B then 429; failed auths {fails}"
    )
    tally.unclean += problems
    for problem in problems:
        say(f"     problem: {problem}")
    return tally


BAD_REQUESTS: list[bytes] = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET /\x00\xff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 70000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-H: 1\r\n" * 300 + b"\r\n",
    b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n",
    b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
    b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n",
    b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 9\r\n\r\nabcde",
    b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n",
    b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
    b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type",
    b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-16\r\nContent-Length: 4\r\n\r\n\xff\xfe\x00\x00",
    b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic \xff\xfe\r\nContent-Length: 0\r\n\r\n",
    b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic Og==\r\nContent-Length: 0\r\n\r\n",
    b"POST /oauth/introspect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 20\r\n\r\n--x\r\n--x--\r\n\r\n\r\n",
    b"GET /api/v1/orgs/%ff%fe HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \x00\r\n\r\n",
    b"GET /api/v1/orgs/00000000-0000-0000-0000-000000000000 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer a.b.c\r\n\r\n",
    b"TRACE /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64),  # a TLS ClientHello
]


def send_raw(port: int, payload: bytes, *, half_close: bool) -> int:
    """Send bytes, read the status code (0: the server closed without one)."""
    with socket.create_connection((LOOPBACK, port), timeout=5) as sock:
        try:
            sock.sendall(payload)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            data = sock.recv(64)
        except OSError:
            return 0
    if data.startswith(b"HTTP/1."):
        try:
            return int(data.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return -1
    return 0


def bad_input(port: int, app: App, env, log: Path, rounds: int) -> Tally:
    tally = Tally()
    statuses: Counter[int] = Counter()
    rng = random.Random(7)
    with gunicorns(Gunicorn(env, port, 2, log)):
        payloads = list(BAD_REQUESTS)
        for _ in range(rounds):
            body = rng.randbytes(rng.randint(0, 3000))
            path = rng.choice([b"/oauth/token", b"/oauth/introspect", b"/oauth/revoke"])
            content_type = rng.choice(
                [
                    b"application/x-www-form-urlencoded",
                    b"application/json",
                    b"text/plain",
                    b"",
                ]
            )
            payloads.append(
                b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                + content_type + b"\r\nAuthorization: " + app.basic.encode()
                + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )  # fmt: skip
        for index, payload in enumerate(payloads):
            status = send_raw(port, payload, half_close=index % 2 == 1)
            statuses[status] += 1
            tally.requests += 1
            if status >= 500 or status < 0:
                tally.unclean.append(
                    f"bad input #{index} answered {status}: {payload[:80]!r}"
                )
            else:
                tally.ok += 1
        health = HttpClient(port).get("/healthz").status
        token = HttpClient(port).token(app).status
    if health != 200 or token != 200:
        tally.unclean.append(f"after the bad input: healthz {health}, token {token}")
    say(
        f"   bad input: {tally.requests} malformed requests and hostile bodies; answers "
        f"{dict(sorted(statuses.items()))} (0 = connection closed); healthz {health}, token {token}"
    )
    for problem in tally.unclean[:10]:
        say(f"     problem: {problem}")
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/console_faults"
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--port", type=int, default=8781)
    parser.add_argument(
        "--down-seconds",
        type=float,
        default=3.0,
        help="how long PostgreSQL stays stopped",
    )
    parser.add_argument("--bad-input-rounds", type=int, default=300)
    args = parser.parse_args()
    if not args.database_url.startswith("postgres://postgres@127.0.0.1"):
        raise SystemExit("faults.py runs against the local PostgreSQL only")

    workdir = Path(tempfile.mkdtemp(prefix="console-faults-"))
    ensure_postgres_up()
    ensure_redis_up()
    redis_flush(args.redis_url)
    base_env = production_env(
        args.database_url,
        REDIS_URL=args.redis_url,
        CONSOLE_RATELIMIT_RETRY_SECONDS="2",
        # The load itself stays under the limits; the failure limit is what the checks probe.
        CONSOLE_TOKEN_RATE_PER_CLIENT="1000000",
        CONSOLE_TOKEN_RATE_PER_IP="1000000",
        CONSOLE_TOKEN_FAIL_RATE_PER_IP="5",
        CONSOLE_TOKEN_FAIL_WINDOW="300",
    )
    total = Tally()
    faults = 0
    started = time.monotonic()
    try:
        say(f"== throwaway database and apps ({args.database_url.rsplit('/', 1)[1]})")
        fresh_database(base_env, args.database_url)
        apps = provision(base_env, ["faults-load", "faults-limited"], workdir)

        say("== 1. PostgreSQL restarted during a load (tokens, API, console pages)")
        for mode in ("restart", "stop-start"):
            tally = postgres_fault(
                args.port, apps[0], base_env, workdir / f"gunicorn-pg-{mode}.log",
                mode=mode, down=args.down_seconds,
            )  # fmt: skip
            total.add(tally)
            faults += not (tally.unclean or tally.late_failures)
            redis_flush(args.redis_url)

        say("== 2. Redis stopped during a token load")
        tally = redis_fault(
            args.port, apps[0], base_env, workdir / "gunicorn-redis.log", 2
        )
        total.add(tally)
        faults += not (tally.unclean or tally.late_failures)
        redis_flush(args.redis_url)

        say("== 3. Two gunicorn instances, one PostgreSQL and Redis")
        shared_env = {**base_env, "CONSOLE_TOKEN_RATE_PER_CLIENT": "20"}
        tally = two_instances(args.port, apps, shared_env, workdir)
        total.add(tally)
        faults += not tally.unclean
        redis_flush(args.redis_url)

        say("== 4. Malformed HTTP and hostile bodies straight to gunicorn")
        open_env = {**base_env, "CONSOLE_TOKEN_FAIL_RATE_PER_IP": "0"}
        bad = bad_input(
            args.port,
            apps[0],
            open_env,
            workdir / "gunicorn-bad.log",
            args.bad_input_rounds,
        )
        total.add(bad)
    finally:
        ensure_postgres_up()
        ensure_redis_up()
        redis_flush(args.redis_url)
        drop_database(base_env, args.database_url)

    problems = len(total.unclean) + len(total.late_failures)
    say("")
    say(
        f"FAULTS requests={total.requests} ok={total.ok} clean_outage_failures="
        f"{total.clean_failures} faults_survived={faults}/4 bad_inputs={bad.requests} "
        f"errors={problems} seconds={time.monotonic() - started:.0f}"
    )
    if problems:
        say(f"(gunicorn logs kept in {workdir})")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
