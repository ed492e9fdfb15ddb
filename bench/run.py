#!/usr/bin/env python3
"""`make bench`: the token endpoint and the resource API against a no-op ceiling, in one run.

For each signing algorithm asked for (`--alg RS256,ES256`, the default), sets up a throwaway
PostgreSQL database, provisions an org and an app with `manage.py create_oauth_app`, starts
gunicorn with the production configuration on loopback, and drives it with wrk: GET /healthz (the
no-op ceiling), POST /oauth/token, GET /api/v1/orgs/{org_id}, and POST /bench/ceiling (claims, one
signature and the answer: the most any token endpoint signing with that algorithm could do here;
bench/ceiling.py, the only difference from the production settings). `--baseline PATH` adds the
same servers from another checkout (say, an older commit in a git worktree), for an A/B in the
same minutes. Every measurement is repeated, all servers interleaved, and the median reported.
Loopback only; bounded in time.
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


def run(
    cmd: list[str], env: dict[str, str], root: Path = ROOT, **kwargs
) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, cwd=root, check=True, text=True, **kwargs)


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


def provision(
    env: dict[str, str], database_url: str, workdir: Path, root: Path = ROOT
) -> dict:
    """A fresh database with an org and an app added to it, set up by the checkout at `root`;
    returns the app's credentials JSON."""
    admin_url, db_name = _admin_url(database_url)
    print(f"== throwaway database {db_name}")
    drop_database(env, database_url)
    run(["psql", admin_url, "-qc", f"CREATE DATABASE {db_name}"], env)
    run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env, root)
    creds_path = workdir / f"{db_name}.json"
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
        root,
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


def signature_ms(algorithm: str, samples: int = 2000) -> float:
    """CPU milliseconds of one signature of `algorithm`, as the token endpoint makes it (PyJWT,
    a key of the console's kind), on this machine."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    key = {
        "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "EdDSA": ed25519.Ed25519PrivateKey.generate,
    }[algorithm]()
    claims = {"sub": "x" * 40, "scope": "org:member svc:compute:viewer", "exp": 2**31}
    started = time.process_time()
    for _ in range(samples):
        jwt.encode(claims, key, algorithm=algorithm, headers={"kid": "k" * 43})
    return (time.process_time() - started) * 1000 / samples


def print_bounds(
    *, algorithm: str, noop_cpu_ms: float, tokens_per_s: float, conns: int
) -> None:
    """What no implementation could beat here, to read the RESULT line against.

    - A token request does at least what the no-op request does, plus one signature: the best
      possible ratio is noop / (noop + signature), in CPU per request.
    - At `conns` connections each waiting for its answer, the mean latency is conns / throughput
      (Little's law), and the p99 cannot be below the mean.
    """
    signing = signature_ms(algorithm)
    best_ratio = noop_cpu_ms / (noop_cpu_ms + signing)
    print(
        f"Bounds on this machine: no-op request {noop_cpu_ms:.2f} ms CPU (gunicorn + wrk), "
        f"{algorithm} signature {signing:.3f} ms CPU -> best possible ratio {best_ratio:.2f} "
        f"(if a token request cost nothing beyond the no-op's work and its signature); "
        f"at {conns} connections the mean latency is {conns} / throughput = "
        f"{1000 * conns / max(tokens_per_s, 1):.1f} ms at the measured token rate, and a p99 "
        f"under 25 ms needs more than {conns / 0.025:.0f} tokens/s."
    )


class Server:
    """One gunicorn serving one checkout with one signing algorithm, on its own database."""

    def __init__(self, *, label, root, algorithm, port, database_url, args) -> None:
        self.label, self.root, self.algorithm = label, Path(root), algorithm
        self.base = f"http://127.0.0.1:{port}"
        self.database_url = database_url
        self.env = {
            **bench_env(
                self.base,
                database_url,
                rate_limits=args.rate_limits == "on",
                redis_url=args.redis_url,
            ),
            "CONSOLE_TOKEN_SIGNING_ALG": algorithm,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_ACCESS_LOG": "",
            "WEB_CONCURRENCY": str(args.workers),
            "GUNICORN_THREADS": str(args.threads),
        }
        self.process: subprocess.Popen | None = None

    def start(self, workdir: Path) -> None:
        print(f"== {self.label}: {self.base}")
        creds = provision(self.env, self.database_url, workdir, self.root)
        self.basic = base64.b64encode(
            f"{creds['client_id']}:{creds['client_secret']}".encode()
        ).decode()
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "--config",
                "console/gunicorn.conf.py",
                "console.wsgi",
            ],
            env=self.env,
            cwd=self.root,
            start_new_session=True,
        )
        wait_until_up(f"{self.base}/healthz")
        request = urllib.request.Request(
            f"{self.base}/oauth/token",
            data=b"grant_type=client_credentials",
            headers={"Authorization": f"Basic {self.basic}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            self.token = json.load(response)["access_token"]
        self.wrk_env = {
            **self.env,
            "BENCH_BASIC": self.basic,
            "BENCH_TOKEN": self.token,
        }
        self.targets = {
            "noop": (f"{self.base}/healthz", None),
            "token": (f"{self.base}/oauth/token", "token.lua"),
            "api": (f"{self.base}/api/v1/orgs/{creds['org_id']}", "api.lua"),
        }
        if (self.root / "bench" / "ceiling.py").read_text().count("bench/ceiling"):
            self.targets["ceiling"] = (f"{self.base}/bench/ceiling", "token.lua")

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        drop_database(self.env, self.database_url)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/console_bench"
        ),
        help="each server's database is this name plus a suffix",
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="the first server's port"
    )
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
        "--alg",
        default="RS256,ES256",
        help="signing algorithms, one server each, of RS256,ES256,EdDSA",
    )
    parser.add_argument(
        "--baseline",
        help="another checkout (e.g. a git worktree of an older commit): a server of it with the "
        "first algorithm, measured in the same rounds, for an A/B",
    )
    parser.add_argument(
        "--targets",
        default="noop,token,api,ceiling",
        help="what to drive, of noop,token,api,ceiling (the ratios need noop and token)",
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

    checkouts = [("", ROOT)]
    if args.baseline:
        checkouts.append(("base ", Path(args.baseline).resolve()))
    servers = []
    port = args.port
    for prefix, root in checkouts:
        # The baseline is measured with the first algorithm (older code may know only RS256).
        for algorithm in args.alg.split(",")[: 1 if prefix else None]:
            suffix = ("_base" if prefix else "") + "_" + algorithm.lower()
            servers.append(
                Server(
                    label=f"{prefix}{algorithm}",
                    root=root,
                    algorithm=algorithm,
                    port=port,
                    database_url=args.database_url + suffix,
                    args=args,
                )
            )
            port += 1
    wanted = args.targets.split(",")
    connections = [int(c) for c in args.connections.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="console-bench-"))
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"== load average before: {load}")
    print(f"== gunicorn: {args.workers} workers × {args.threads} threads per server")
    results: dict[tuple[str, str, int], list[tuple[float, float, int]]] = {}
    cpus: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    try:
        for server in servers:
            server.start(workdir)
        print("== warm-up")
        for server in servers:
            for name, (url, script) in server.targets.items():
                if name in wanted:
                    wrk(
                        url,
                        max(connections),
                        3,
                        script,
                        server.wrk_env,
                        args.wrk_threads,
                    )
        print("  (CPU in cores: gunicorn / PostgreSQL / wrk / other processes / idle)")
        for round_number in range(1, args.repeat + 1):
            for conns in connections:
                for name in wanted:
                    for server in servers:
                        if name not in server.targets:
                            continue
                        url, script = server.targets[name]
                        meter = CpuMeter(
                            server.process.pid, server.database_url.rsplit("/", 1)[1]
                        )
                        meter.start()
                        result = wrk(
                            url,
                            conns,
                            args.seconds,
                            script,
                            server.wrk_env,
                            args.wrk_threads,
                        )
                        cpu = meter.stop()
                        key = (server.label, name, conns)
                        results.setdefault(key, []).append(result)
                        cpus.setdefault(key, []).append(cpu)
                        print(
                            f"  round {round_number}  {server.label:<11} {name:<7} @{conns:<3} {result[0]:8.0f} req/s  "
                            f"p99 {result[1]:7.1f} ms  non-2xx {result[2]}  CPU {cpu['gunicorn']:.2f} / "
                            f"{cpu['postgres']:.2f} / {cpu['wrk']:.2f} / {cpu['other']:.2f} / {cpu['idle']:.2f}"
                        )
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    def median(key: tuple[str, str, int], index: int) -> float:
        return statistics.median(r[index] for r in results[key])

    def cpu(key: tuple[str, str, int], part: str) -> float:
        return statistics.median(c[part] for c in cpus[key])

    def efficiency(key: tuple[str, str, int]) -> float:
        """Requests per CPU-second of gunicorn, PostgreSQL and wrk: what the ratio would be on a
        machine of our own (other processes' share taken out)."""
        return statistics.median(
            rps / max(c["gunicorn"] + c["postgres"] + c["wrk"], 0.01)
            for (rps, _, _), c in zip(results[key], cpus[key], strict=True)
        )

    print()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average at the end: {load}; CPU in cores, medians (2 cores = 2.00)")
    print()
    print(
        f"| server | target | conns | req/s (median of {args.repeat}) | p99 ms | non-2xx | CPU gunicorn | PostgreSQL | wrk | other | idle | req per CPU-s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key, runs in results.items():
        parts = " | ".join(
            f"{cpu(key, part):.2f}"
            for part in ("gunicorn", "postgres", "wrk", "other", "idle")
        )
        print(
            f"| {key[0]} | {key[1]} | {key[2]} | {median(key, 0):.0f} | {median(key, 1):.1f} | "
            f"{sum(r[2] for r in runs)} | {parts} | {efficiency(key):.0f} |"
        )
    top = max(connections)
    if not {"noop", "token"} <= set(wanted):
        return
    print()
    for server in servers:
        label = server.label
        tokens, ceiling = (
            median((label, "token", top), 0),
            median((label, "noop", top), 0),
        )
        api_ratio = (
            median((label, "api", top), 0) / ceiling
            if "api" in wanted
            else float("nan")
        )
        print(
            f"{label}: per CPU-second of our own processes (other processes' share taken out): "
            f"ratio={efficiency((label, 'token', top)) / efficiency((label, 'noop', top)):.2f} "
            + (
                f"api_ratio={efficiency((label, 'api', top)) / efficiency((label, 'noop', top)):.2f}"
                if "api" in wanted
                else ""
            )
        )
        if not label.startswith("base"):
            print_bounds(
                algorithm=server.algorithm,
                noop_cpu_ms=1000 / efficiency((label, "noop", top)),
                tokens_per_s=tokens,
                conns=top,
            )
        if (label, "ceiling", top) in results:
            print(
                f"Measured ceiling of any {server.algorithm} token endpoint here (POST /bench/ceiling: "
                f"claims, one signature and the JSON answer, nothing else; bench/ceiling.py): "
                f"{median((label, 'ceiling', top), 0):.0f}/s, "
                f"ratio={median((label, 'ceiling', top), 0) / ceiling:.2f}, "
                f"p99_ms={median((label, 'ceiling', top), 1):.1f} at {top} connections."
            )
        print(
            f"RESULT server={label.replace(' ', '_')} tokens_per_s={tokens:.0f} ceiling_per_s={ceiling:.0f} "
            f"ratio={tokens / ceiling:.2f} p99_ms={median((label, 'token', top), 1):.1f} "
            f"api_ratio={api_ratio:.2f}"
        )
    if args.baseline:
        print()
        for algorithm in args.alg.split(","):
            for name in ("token", "api"):
                new, old = (algorithm, name, top), (f"base {algorithm}", name, top)
                if new in results and old in results:
                    print(
                        f"A/B {algorithm} {name} @{top}: requests per CPU-second "
                        f"{efficiency(new):.0f} vs {efficiency(old):.0f} (baseline) = "
                        f"{efficiency(new) / efficiency(old):.2f}x; req/s {median(new, 0):.0f} vs "
                        f"{median(old, 0):.0f}"
                    )


if __name__ == "__main__":
    main()
