#!/usr/bin/env python3
"""`make bench`: the token endpoint and the resource API against a no-op ceiling, in one run.

Sets up a throwaway PostgreSQL database, provisions an org and an app with
`manage.py create_oauth_app`, starts gunicorn with the production configuration on loopback, and
drives it with wrk: GET /healthz (the no-op ceiling), POST /oauth/token, GET /api/v1/orgs/{org_id},
and POST /bench/rs256 (the most any RS256 token endpoint could do here: bench/ceiling.py, the only
difference from the production settings). Each measurement is repeated (interleaved) and the
median reported. Loopback only; bounded in time.
"""

import argparse
import base64
import json
import os
import re
import resource
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


def bench_env(
    base: str, database_url: str, *, rate_limits: bool = True, redis_url: str = ""
) -> dict[str, str]:
    """The production settings, on loopback, against the throwaway database.

    One client from one address: the rate limits stay on (their cost is measured) but so high they
    never refuse; `rate_limits=False` turns them off, to measure what they cost. With `redis_url`,
    the cache and the rate limits use Redis, as in production with several instances.
    """
    limit = "1000000000" if rate_limits else "0"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.ceiling_settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "CONSOLE_ISSUER": base,
        "CONSOLE_TOKEN_RATE_PER_CLIENT": limit,
        "CONSOLE_TOKEN_RATE_PER_IP": limit,
        "CONSOLE_TOKEN_FAIL_RATE_PER_IP": limit,
        "REDIS_URL": redis_url,
    }


def add_environment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rate-limits",
        choices=["on", "off"],
        default="on",
        help="the token endpoint's rate limits (on: counted, never refusing)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", ""),
        help="cache and rate limits in Redis (default: none, process memory)",
    )


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


class CpuMeter:
    """Where the machine's CPU went during a measurement: gunicorn, PostgreSQL (the backends of the
    benchmark's database), wrk, anything else (other people's work on a shared machine), idle. In
    cores, from /proc (Linux)."""

    def __init__(self, gunicorn_pgid: int, database: str) -> None:
        self.gunicorn_pgid = gunicorn_pgid
        self.database = database
        self.ticks = os.sysconf("SC_CLK_TCK")

    def _processes(self) -> dict[str, tuple[str, float]]:
        """pid -> (gunicorn | postgres | other, CPU seconds so far)."""
        found = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat.rsplit(")", 1)[1].split()
            used = (int(fields[11]) + int(fields[12])) / self.ticks
            if int(fields[2]) == self.gunicorn_pgid:
                found[pid] = ("gunicorn", used)
            elif name == "postgres" and self._serves_our_database(pid):
                found[pid] = ("postgres", used)
        return found

    def _serves_our_database(self, pid: str) -> bool:
        """A backend's title is "postgres: user database host(port) state"."""
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            return False
        return f" {self.database} ".encode() in title

    def _machine(self) -> tuple[float, float]:
        values = [
            int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        ]
        return sum(values[:8]) / self.ticks, (values[3] + values[4]) / self.ticks

    def start(self) -> None:
        self.started = (
            time.monotonic(),
            self._processes(),
            self._machine(),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )

    def stop(self) -> dict[str, float]:
        wall0, processes0, (total0, idle0), children0 = self.started
        wall, processes, (total, idle) = (
            time.monotonic() - wall0,
            self._processes(),
            self._machine(),
        )
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = {"gunicorn": 0.0, "postgres": 0.0}
        for pid, (
            kind,
            seconds,
        ) in processes.items():  # one that ended meanwhile is lost
            used[kind] += (seconds - processes0.get(pid, (kind, 0.0))[1]) / wall
        used["wrk"] = (
            children.ru_utime
            + children.ru_stime
            - children0.ru_utime
            - children0.ru_stime
        ) / wall
        used["idle"] = (idle - idle0) / wall
        busy = (total - total0 - (idle - idle0)) / wall
        used["other"] = max(
            0.0, busy - used["gunicorn"] - used["postgres"] - used["wrk"]
        )
        return used


def wrk(
    url: str,
    connections: int,
    seconds: int,
    script: str | None,
    env: dict[str, str],
    threads: int = 1,
) -> tuple[float, float, int]:
    cmd = [
        "wrk",
        f"-t{threads}",
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


def rs256_signature_ms(samples: int = 2000) -> float:
    """CPU milliseconds of one RS256 signature (2048-bit key, PKCS#1 v1.5), as the token endpoint
    makes it, on this machine."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b"x" * 700  # a token's header and claims, base64url-encoded
    started = time.process_time()
    for _ in range(samples):
        key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return (time.process_time() - started) * 1000 / samples


def print_bounds(*, noop_cpu_ms: float, tokens_per_s: float, conns: int) -> None:
    """What no implementation could beat here, to read the RESULT line against.

    - A token request does at least what the no-op request does, plus one RS256 signature: the
      best possible ratio is noop / (noop + signature), in CPU per request.
    - At `conns` connections each waiting for its answer, the mean latency is conns / throughput
      (Little's law), and the p99 cannot be below the mean.
    """
    signature_ms = rs256_signature_ms()
    best_ratio = noop_cpu_ms / (noop_cpu_ms + signature_ms)
    print(
        f"Bounds on this machine: no-op request {noop_cpu_ms:.2f} ms CPU (gunicorn + wrk), "
        f"RS256 signature {signature_ms:.2f} ms CPU -> best possible ratio {best_ratio:.2f} "
        f"(if a token request cost nothing beyond the no-op's work and its signature); "
        f"at {conns} connections the mean latency is {conns} / throughput = "
        f"{1000 * conns / max(tokens_per_s, 1):.1f} ms at the measured token rate, and a p99 "
        f"under 25 ms needs more than {conns / 0.025:.0f} tokens/s."
    )


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
    parser.add_argument(
        "--targets",
        default="noop,token,api,rs256",
        help="what to drive, of noop,token,api,rs256 (the ratios need noop and token)",
    )
    parser.add_argument(
        "--wrk-threads",
        type=int,
        default=1,
        help="wrk's threads (it shares the machine with gunicorn and PostgreSQL)",
    )
    add_environment_arguments(parser)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    base = f"http://127.0.0.1:{args.port}"
    env = {
        **bench_env(
            base,
            args.database_url,
            rate_limits=args.rate_limits == "on",
            redis_url=args.redis_url,
        ),
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

    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"== load average before: {load}")
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
            "rs256": (f"{base}/bench/rs256", "token.lua"),
        }
        targets = {
            name: target
            for name, target in targets.items()
            if name in args.targets.split(",")
        }
        connections = [int(c) for c in args.connections.split(",")]
        print("== warm-up")
        for url, script in targets.values():
            wrk(url, max(connections), 3, script, wrk_env, args.wrk_threads)
        results: dict[tuple[str, int], list[tuple[float, float, int]]] = {}
        cpus: dict[tuple[str, int], list[dict[str, float]]] = {}
        meter = CpuMeter(server.pid, args.database_url.rsplit("/", 1)[1])
        print("  (CPU in cores: gunicorn / PostgreSQL / wrk / other processes / idle)")
        for round_number in range(1, args.repeat + 1):
            for conns in connections:
                for name, (url, script) in targets.items():
                    meter.start()
                    result = wrk(
                        url, conns, args.seconds, script, wrk_env, args.wrk_threads
                    )
                    cpu = meter.stop()
                    results.setdefault((name, conns), []).append(result)
                    cpus.setdefault((name, conns), []).append(cpu)
                    print(
                        f"  round {round_number}  {name:<5} @{conns:<3} {result[0]:8.0f} req/s  p99 {result[1]:7.1f} ms  "
                        f"non-2xx {result[2]}  CPU {cpu['gunicorn']:.2f} / {cpu['postgres']:.2f} / {cpu['wrk']:.2f} / "
                        f"{cpu['other']:.2f} / {cpu['idle']:.2f}"
                    )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        drop_database(env, args.database_url)
        shutil.rmtree(workdir, ignore_errors=True)

    def median(name: str, conns: int, index: int) -> float:
        return statistics.median(r[index] for r in results[(name, conns)])

    def cpu(name: str, conns: int, part: str) -> float:
        return statistics.median(c[part] for c in cpus[(name, conns)])

    def efficiency(name: str, conns: int) -> float:
        """Requests per CPU-second of gunicorn, PostgreSQL and wrk: what the ratio would be on a
        machine of our own (other processes' share taken out)."""
        return statistics.median(
            rps / max(c["gunicorn"] + c["postgres"] + c["wrk"], 0.01)
            for (rps, _, _), c in zip(
                results[(name, conns)], cpus[(name, conns)], strict=True
            )
        )

    print()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average at the end: {load}; CPU in cores, medians (2 cores = 2.00)")
    print()
    print(
        f"| target | conns | req/s (median of {args.repeat}) | p99 ms | non-2xx | CPU gunicorn | PostgreSQL | wrk | other | idle | req per CPU-s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (name, conns), runs in results.items():
        parts = " | ".join(
            f"{cpu(name, conns, part):.2f}"
            for part in ("gunicorn", "postgres", "wrk", "other", "idle")
        )
        print(
            f"| {name} | {conns} | {median(name, conns, 0):.0f} | {median(name, conns, 1):.1f} | {sum(r[2] for r in runs)} | {parts} | "
            f"{efficiency(name, conns):.0f} |"
        )
    top = max(connections)
    if not {"noop", "token"} <= targets.keys():
        return
    tokens, ceiling = median("token", top, 0), median("noop", top, 0)
    api = median("api", top, 0) if "api" in targets else float("nan")
    api_efficiency = efficiency("api", top) if "api" in targets else float("nan")
    print()
    print(
        f"Per CPU-second of our own processes (other processes' share taken out): "
        f"ratio={efficiency('token', top) / efficiency('noop', top):.2f} "
        f"api_ratio={api_efficiency / efficiency('noop', top):.2f}"
    )
    print_bounds(
        noop_cpu_ms=1000 / efficiency("noop", top), tokens_per_s=tokens, conns=top
    )
    if "rs256" in targets:
        print(
            f"Measured ceiling of any RS256 token endpoint here (POST /bench/rs256: claims, one "
            f"signature and the JSON answer, nothing else; bench/ceiling.py): "
            f"{median('rs256', top, 0):.0f}/s, ratio={median('rs256', top, 0) / ceiling:.2f}, "
            f"p99_ms={median('rs256', top, 1):.1f} at {top} connections."
        )
    print(
        f"RESULT tokens_per_s={tokens:.0f} ceiling_per_s={ceiling:.0f} ratio={tokens / ceiling:.2f} "
        f"p99_ms={median('token', top, 1):.1f} api_ratio={api / ceiling:.2f}"
    )


if __name__ == "__main__":
    main()
