"""Recommendations under load: /api/v1/me/recommendations/?k=20 against a framework floor.

gunicorn serves a *copy* of a database with a promoted model (default: var/db.sqlite3 and
var/media) on loopback, with movierec.settings_bench and MOVIEREC_BENCH_FLOOR=1, which adds
`/api/bench/floor/`: an authenticated DRF endpoint returning the same JSON shape from memory.
50 clients on keep-alive connections, each request authenticated with the token of one of the
imported users (round robin): wrk (Debian package `wrk`) with a Lua script in the closed loop,
Python client threads when pacing (the writers in a process of their own).

Phases, each `--duration` seconds in total, in the same run:

1. floor: GET /api/bench/floor/?k=20
2. recs: GET /api/v1/me/recommendations/?k=20
   (1 and 2 alternate in `--slice`-second slices, so that the background load of a shared machine
   weighs on both alike; percentiles come from the merged latency histograms of the slices)
3. recs + writes: phase 2's load, plus `--write-clients` clients POSTing a rating to
   /api/v1/me/ratings/ every `--write-delay-ms` (each write drops that user's cached scores, so
   some reads recompute).

`--think-ms 0` (default) is a closed loop: every client sends its next request as soon as the last
one is answered, so the server is saturated, req/s is its capacity and the latencies are mostly
queueing (Little's law: p50 ~ 50 / req/s). `--think-ms 1000` paces each client to about one request a
second (50 users browsing), below capacity: the latencies are then service times.

Before phase 1 every user's recommendations are requested once (warm-up: the bundle is loaded in
every worker and the per-user shortlists are cached, as for returning users). The cache is
Redis (as in compose.yaml) when reachable, under its own key prefix; else per-process locmem.

    apt-get install -y wrk
    .venv/bin/python benchmarks/load_recs.py                          # saturated, 3 x 60 s
    .venv/bin/python benchmarks/load_recs.py --think-ms 1000          # 50 users, ~1 request/s each
    .venv/bin/python benchmarks/load_recs.py --nice -10 --json /tmp/load.json   # on a shared machine

Targets (issue 8): recs p50 <= 1.5 x floor p50, recs p99 <= 50 ms, 0 errors; write p99 <= 30 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import random
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECS_PATH = "/api/v1/me/recommendations/?k=20"
FLOOR_PATH = "/api/bench/floor/?k=20"
WRITE_PATH = "/api/v1/me/ratings/"

LUA = r"""
-- Parameters come from the environment (read in every thread's Lua state).
local path = os.getenv("BENCH_PATH")
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = (tid or 0) * 7919
end

function request()
  counter = counter + 1
  return wrk.format("GET", path, {["Authorization"] = "Token " .. tokens[(counter % #tokens) + 1]})
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
  -- the whole latency histogram (value in us, count), so that slices can be merged exactly
  local parts = {}
  for i = 1, #latency do
    local value, count = latency(i)
    parts[#parts + 1] = string.format("%d:%d", value, count)
  end
  io.write("HIST " .. table.concat(parts, ",") .. "\n")
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def link_or_copy(src: str, dst: str) -> None:
    """Hard links where possible: artifacts are only read, and Django storage never rewrites in place."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def prepare_copy(db: Path, media: Path, work: Path) -> tuple[Path, Path]:
    """A consistent snapshot of the database (sqlite backup API, so a WAL is included) and the media."""
    target = work / "db.sqlite3"
    with sqlite3.connect(db) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    media_copy = work / "media"
    shutil.copytree(media, media_copy, copy_function=link_or_copy)
    return target, media_copy


def bench_env(work: Path, db: Path, media: Path, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MONGODB_", "REDIS_", "CELERY_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="movierec.settings_bench",
        MOVIEREC_BENCH_FLOOR="1",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(40),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_LOG_LEVEL="WARNING",
        SQLITE_PATH=str(db),
        MOVIEREC_VAR_DIR=str(work),
        DJANGO_MEDIA_ROOT=str(media),
        TOKENIZERS_PARALLELISM="false",
    )
    if args.blas_threads:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(args.blas_threads)
    if args.cache == "redis":
        env.update(REDIS_CACHE_URL=args.redis_url, MOVIEREC_BENCH_CACHE_PREFIX=f"movierec-bench-{os.getpid()}")
    return env


def django_setup_tokens(env: dict[str, str], work: Path, users: int) -> tuple[Path, Path]:
    """Activate up to `users` imported users in the copy, give each a token; pick films for writes."""
    code = f"""
import django
django.setup()
from rest_framework.authtoken.models import Token
from accounts.models import User
from catalog.models import Movie
ids = list(User.objects.filter(ratings__isnull=False).distinct().order_by("pk").values_list("pk", flat=True)[:{users}])
User.objects.filter(pk__in=ids).update(is_active=True)
have = set(Token.objects.filter(user_id__in=ids).values_list("user_id", flat=True))
Token.objects.bulk_create([Token(user_id=i, key=Token.generate_key()) for i in ids if i not in have])
keys = dict(Token.objects.filter(user_id__in=ids).values_list("user_id", "key"))
open({str(work / "tokens.txt")!r}, "w").write("\\n".join(keys[i] for i in ids) + "\\n")
films = Movie.objects.order_by("-rating_count").values_list("pk", flat=True)[:2000]
open({str(work / "movies.txt")!r}, "w").write("\\n".join(map(str, films)) + "\\n")
"""
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)
    return work / "tokens.txt", work / "movies.txt"


def wait_ready(port: int, token: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited; see its log")
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}{FLOOR_PATH}", headers={"Authorization": f"Token {token}"})
            with urllib.request.urlopen(req, timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError("gunicorn did not answer")


def start_wrk(
    port: int, path: str, connections: int, threads: int, seconds: float, lua: Path, tokens: Path, **extra: str
) -> subprocess.Popen:
    env = {**os.environ, "BENCH_PATH": path, "BENCH_TOKENS": str(tokens), **extra}
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{int(seconds)}s", "--timeout", "10s", "-s", str(lua)]
    return subprocess.Popen([*cmd, f"http://127.0.0.1:{port}{path}"], env=env, stdout=subprocess.PIPE, text=True)


class Paced(threading.Thread):
    """One client with a think time (uniform 0.5-1.5x) between requests, on a keep-alive connection.

    Used instead of wrk when pacing: wrk's per-request delay() showed ~1 s outliers on this
    machine that a plain client at the same rate never sees.
    """

    def __init__(self, port: int, path: str, seconds: float, think_ms: int, tokens: list[str], index: int, movies: list[int]):
        super().__init__(daemon=True)
        self.port, self.path, self.seconds, self.think = port, path, seconds, think_ms / 1000
        self.tokens, self.index, self.movies = tokens, index, movies
        self.latencies: list[int] = []
        self.errors = 0
        self.rng = random.Random(index)

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        deadline = time.monotonic() + self.seconds
        n = self.index * 7919
        while time.monotonic() < deadline:
            n += 1
            headers = {"Authorization": f"Token {self.tokens[n % len(self.tokens)]}"}
            body = None
            if self.movies:
                headers["Content-Type"] = "application/json"
                body = json.dumps({"movie": self.rng.choice(self.movies), "rating": self.rng.randint(1, 10) / 2})
            start = time.perf_counter()
            try:
                conn.request("POST" if body else "GET", self.path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 300:
                    self.errors += 1
                self.latencies.append(int((time.perf_counter() - start) * 1e6))
            except (OSError, http.client.HTTPException):
                self.errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            time.sleep(self.think * self.rng.uniform(0.5, 1.5))

    def result(self) -> dict[str, Any]:
        hist: dict[int, int] = {}
        for value in self.latencies:
            hist[value] = hist.get(value, 0) + 1
        return {"requests": len(self.latencies), "seconds": self.seconds, "errors": self.errors, "hist": hist}


def start_paced(
    port: int, path: str, clients: int, seconds: float, think_ms: int, tokens: Path, movies: Path | None = None
) -> list[Paced]:
    """Clients started over one think time, so that they do not arrive in a burst."""
    keys = tokens.read_text().split()
    films = [int(x) for x in movies.read_text().split()] if movies else []
    threads = []
    for i in range(clients):
        thread = Paced(port, path, seconds, think_ms, keys, i, films)
        thread.start()
        threads.append(thread)
        time.sleep(think_ms / 1000 / clients)
    return threads


def _paced_in_child(conn: Any, args: tuple) -> None:
    conn.send(finish(start_paced(*args)))
    conn.close()


def start_paced_process(*args: Any) -> tuple[Any, Any]:
    """``start_paced`` in a process of its own, so that the 50 reader threads of this process do not
    hold the client's GIL while a writer's response arrives (that delay would count as server latency).
    Forked before any client thread of this process starts."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_paced_in_child, args=(send, args), daemon=True)
    proc.start()
    return proc, receive


def finish_process(handle: tuple[Any, Any]) -> list[dict[str, Any]]:
    proc, receive = handle
    results = receive.recv()
    proc.join()
    return results


def finish(threads: list[Paced]) -> list[dict[str, Any]]:
    for thread in threads:
        thread.join()
    return [thread.result() for thread in threads]


def run_slice(port: int, path: str, args: argparse.Namespace, seconds: float, lua: Path, tokens: Path) -> list[dict[str, Any]]:
    if args.think_ms:
        return finish(start_paced(port, path, args.connections, seconds, args.think_ms, tokens))
    return [collect(start_wrk(port, path, args.connections, args.wrk_threads, seconds, lua, tokens))]


def collect(proc: subprocess.Popen) -> dict[str, Any]:
    """wrk's counts and latency histogram (us -> requests)."""
    out, _ = proc.communicate()
    lines = out.splitlines()
    line = next((ln for ln in lines if ln.startswith("RESULT ")), None)
    hist_line = next((ln for ln in lines if ln.startswith("HIST")), "HIST ")
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    raw = json.loads(line[len("RESULT ") :])
    hist: dict[int, int] = {}
    for pair in hist_line[4:].strip().split(","):
        if pair:
            value, count = pair.split(":")
            hist[int(value)] = hist.get(int(value), 0) + int(count)
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {"requests": raw["requests"], "seconds": raw["duration_us"] / 1e6, "errors": errors, "hist": hist}


def summarise(parts: list[dict[str, Any]], slices: int = 1) -> dict[str, Any]:
    """Merge wrk runs (`slices` one after the other, maybe several at once in each): mean req/s
    across slices, exact percentiles of the merged histogram."""
    hist: dict[int, int] = {}
    for part in parts:
        for value, count in part["hist"].items():
            hist[value] = hist.get(value, 0) + count
    values = sorted(hist)
    counts = [hist[v] for v in values]
    total = sum(counts)

    def pct(p: float) -> float:
        if not total:
            return float("nan")
        rank, seen = p / 100 * total, 0
        for value, count in zip(values, counts, strict=True):
            seen += count
            if seen >= rank:
                return value / 1000
        return values[-1] / 1000

    return {
        "requests": sum(p["requests"] for p in parts),
        "rps": sum(p["requests"] / p["seconds"] for p in parts if p["seconds"]) / slices,
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "max_ms": values[-1] / 1000 if values else float("nan"),
        "mean_ms": sum(v * c for v, c in zip(values, counts, strict=True)) / total / 1000 if total else float("nan"),
        "errors": sum(p["errors"] for p in parts),
    }


def warm_up(port: int, lua: Path, tokens: Path) -> None:
    """Every user's recommendations once (shortlists cached, as for returning users), then a short
    burst on both endpoints so that every worker has loaded the bundle and its film cards."""
    for token in tokens.read_text().split():
        req = urllib.request.Request(f"http://127.0.0.1:{port}{RECS_PATH}", headers={"Authorization": f"Token {token}"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            resp.read()
    for path, seconds in ((FLOOR_PATH, 5), (RECS_PATH, 15)):  # ~4 passes over the users, across workers
        collect(start_wrk(port, path, 8, 1, seconds, lua, tokens))


def fmt(name: str, r: dict[str, Any]) -> str:
    return (
        f"{name:<22}{r['rps']:>9.0f}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}{r['p99_ms']:>9.1f}"
        f"{r['max_ms']:>9.0f}{r['errors']:>8d}"
    )


def machine() -> dict[str, Any]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")), "?")
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "loadavg": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=ROOT / "var" / "db.sqlite3", help="copied, never written")
    parser.add_argument("--media", type=Path, default=ROOT / "var" / "media", help="copied (hard links), never written")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per phase")
    parser.add_argument("--slice", type=float, default=10.0, help="floor and recs alternate in slices of this length")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (scripts/run.sh: 2)")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker (scripts/run.sh: 4)")
    parser.add_argument("--users", type=int, default=610, help="distinct authenticated users")
    parser.add_argument(
        "--think-ms",
        type=int,
        default=0,
        help="pause between one client's reads (uniform 0.5-1.5x); 0 = closed loop at saturation",
    )
    parser.add_argument("--write-clients", type=int, default=2, help="connections posting ratings in phase 3")
    parser.add_argument("--write-delay-ms", type=int, default=250, help="pause between one client's writes")
    parser.add_argument("--blas-threads", type=int, default=1, help="OPENBLAS/OMP/MKL threads per worker; 0 leaves unset")
    parser.add_argument("--cache", choices=["redis", "locmem"], default="redis")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument(
        "--nice", type=int, default=0, help="run gunicorn and wrk at this niceness (e.g. -10, as root) on a shared machine"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.nice:
        os.nice(args.nice)  # inherited by gunicorn and wrk
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    if args.cache == "redis":
        try:
            import redis

            redis.Redis.from_url(args.redis_url, socket_connect_timeout=1).ping()
        except Exception:
            print("Redis not reachable: falling back to the per-process locmem cache")
            args.cache = "locmem"

    work = Path(tempfile.mkdtemp(prefix="movierec-load-"))
    proc: subprocess.Popen | None = None
    try:
        db, media = prepare_copy(args.db, args.media, work)
        env = bench_env(work, db, media, args)
        tokens, movies = django_setup_tokens(env, work, args.users)
        n_users = len(tokens.read_text().split())
        lua = work / "bench.lua"
        lua.write_text(LUA)
        port = free_port()
        log = open(work / "gunicorn.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "movierec.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                str(args.workers),
                "-k",
                "gthread",
                "--threads",
                str(args.threads),
                "--timeout",
                "120",
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_ready(port, tokens.read_text().split()[0], proc)
        started = machine()
        warm_up(port, lua, tokens)

        results: dict[str, Any] = {"machine": started, "config": {k: str(v) for k, v in vars(args).items()}}
        # Floor and recs alternate in short slices, so a change in the machine's background load
        # (shared machine) hits both alike; each phase still totals --duration seconds.
        rounds = max(1, round(args.duration / args.slice))
        piece = args.duration / rounds
        parts: dict[str, list[dict[str, Any]]] = {"floor": [], "recs": []}
        for _ in range(rounds):
            parts["floor"] += run_slice(port, FLOOR_PATH, args, piece, lua, tokens)
            parts["recs"] += run_slice(port, RECS_PATH, args, piece, lua, tokens)
        results["floor"], results["recs"] = summarise(parts["floor"], rounds), summarise(parts["recs"], rounds)
        # Writers are paced clients in both modes (a rating every --write-delay-ms per client), in a
        # process of their own; started first, before this process has client threads to fork with.
        writers = start_paced_process(port, WRITE_PATH, args.write_clients, args.duration, args.write_delay_ms, tokens, movies)
        if args.think_ms:
            readers = start_paced(port, RECS_PATH, args.connections, args.duration, args.think_ms, tokens)
        else:
            reader = start_wrk(port, RECS_PATH, args.connections, args.wrk_threads, args.duration, lua, tokens)
        results["recs_with_writes"] = summarise(finish(readers) if args.think_ms else [collect(reader)])
        results["writes"] = summarise(finish_process(writers))
        results["machine"]["loadavg_after"] = os.getloadavg()
        report(results, args, n_users)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if args.cache == "redis":
            clear_prefix(args.redis_url, f"movierec-bench-{os.getpid()}")
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def clear_prefix(url: str, prefix: str) -> None:
    try:
        import redis

        client = redis.Redis.from_url(url)
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)
    except Exception:
        pass


def report(results: dict[str, Any], args: argparse.Namespace, n_users: int) -> None:
    m = results["machine"]
    print(f"\nmachine: {m['cpus']} CPUs ({m['cpu']}), Python {m['python']}, load average before {m['loadavg'][0]:.1f}")
    print(
        f"gunicorn {args.workers} workers x {args.threads} gthreads, {args.connections} connections, "
        f"{n_users} users, {args.duration:.0f} s per phase, think time {args.think_ms} ms, cache {args.cache}, "
        f"BLAS threads {args.blas_threads or 'unset'}, floor/recs alternating in {args.slice:.0f} s slices, nice {args.nice}"
    )
    print(f"\n{'phase':<22}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    for name in ("floor", "recs", "recs_with_writes", "writes"):
        print(fmt(name, results[name]))
    floor, recs, writes = results["floor"], results["recs"], results["writes"]
    ratios = {
        "p50": recs["p50_ms"] / floor["p50_ms"],
        "p95": recs["p95_ms"] / floor["p95_ms"],
        "p99": recs["p99_ms"] / floor["p99_ms"],
        "rps": recs["rps"] / floor["rps"],
    }
    results["ratios"] = ratios
    print("\nrecs / floor: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
    errors = floor["errors"] + recs["errors"] + results["recs_with_writes"]["errors"] + writes["errors"]
    checks = [
        ("recs p50 <= 1.5 x floor p50", f"{ratios['p50']:.2f}x", ratios["p50"] <= 1.5),
        ("recs p99 <= 50 ms", f"{recs['p99_ms']:.1f} ms", recs["p99_ms"] <= 50),
        ("0 errors", str(errors), errors == 0),
        ("write p99 <= 30 ms", f"{writes['p99_ms']:.1f} ms", writes["p99_ms"] <= 30),
    ]
    print()
    for label, value, ok in checks:
        print(f"{'met   ' if ok else 'MISSED'} {label:<30} {value}")
    print(f"\nload average after: {m['loadavg_after'][0]:.1f}")


if __name__ == "__main__":
    main()
