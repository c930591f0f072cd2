"""Where a request's time goes: pyinstrument over the floor, recommendations and rating POST.

Runs the full Django stack in process (middleware, DRF authentication and throttling, view,
renderer) through Django's test client, on a *copy* of a database with a promoted model
(default var/db.sqlite3 and var/media, as benchmarks/load_recs.py), with the benchmark settings
(production settings plus the floor endpoint). Prints per-request wall and CPU time of each
endpoint, measured in the same run, then each profile's heaviest frames; the full profiles go to
``--out`` as text.

    .venv/bin/python benchmarks/profile_api.py [--requests 300] [--cache redis|locmem]   # pyinstrument: requirements-dev.txt
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from load_recs import bench_env, prepare_copy  # noqa: E402


def setup_env(work: Path, db: Path, media: Path, cache: str, redis_url: str) -> None:
    """load_recs.py's server environment, in this process (the test client's host is "testserver")."""
    env = bench_env(work, db, media, SimpleNamespace(blas_threads=1, cache=cache, redis_url=redis_url))
    os.environ.clear()
    os.environ.update(env, DJANGO_ALLOWED_HOSTS="testserver")


def heaviest(text: str, threshold: float, limit: int = 40) -> list[str]:
    """The frames of a pyinstrument text profile above ``threshold`` of the total, indented."""
    rows = []
    total = None
    for line in text.splitlines():
        match = re.search(r"(\d+\.\d{3,4}) (\S+)\s+(\S+)", line)
        if not match:
            continue
        seconds = float(match.group(1))
        total = total or seconds
        if seconds >= threshold * total and "django/core/handlers" not in line and "deprecation.py" not in line:
            depth = match.start(1) // 3
            rows.append(f"{seconds / total:6.1%} {' ' * min(depth, 30)}{match.group(2)}  {match.group(3)}")
    return rows[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=ROOT / "var" / "db.sqlite3", help="copied, never written")
    parser.add_argument("--media", type=Path, default=ROOT / "var" / "media")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--cache", choices=("redis", "locmem"), default="redis")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--threshold", type=float, default=0.04, help="print frames above this share")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "movierec-profiles")
    args = parser.parse_args()

    from pyinstrument import Profiler

    work = Path(tempfile.mkdtemp(prefix="movierec-profile-"))
    db, media = prepare_copy(args.db, args.media, work)
    setup_env(work, db, media, args.cache, args.redis_url)

    import django

    django.setup()
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from catalog.models import Movie

    users = list(User.objects.filter(ratings__isnull=False).distinct().order_by("pk")[:50])
    User.objects.filter(pk__in=[u.pk for u in users]).update(is_active=True)
    clients = [Client(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=u)[0].key}") for u in users]
    films = list(Movie.objects.order_by("-rating_count").values_list("pk", flat=True)[:500])
    rng = random.Random(0)

    def floor(i: int) -> int:
        return clients[i % len(clients)].get("/api/bench/floor/?k=20").status_code

    def recs(i: int) -> int:
        return clients[i % len(clients)].get("/api/v1/me/recommendations/?k=20").status_code

    def rate(i: int) -> int:
        body = {"movie": rng.choice(films), "rating": rng.choice([1.0, 2.5, 3.5, 4.0, 5.0])}
        return clients[i % len(clients)].post("/api/v1/me/ratings/", body, content_type="application/json").status_code

    for i in range(len(clients)):  # warm: bundle loaded, every user's shortlist cached
        assert recs(i) == 200 and floor(i) == 200
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{args.requests} requests per endpoint, cache {args.cache}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    summary = {}
    for name, fn in (("floor", floor), ("recommendations", recs), ("rating_post", rate)):
        # Timed run first, without the profiler's overhead; then a profiled run.
        wall, cpu = time.perf_counter(), time.process_time()
        each = []
        for i in range(args.requests):
            start = time.perf_counter()
            assert fn(i) in (200, 201)
            each.append(time.perf_counter() - start)
        summary[name] = ((time.perf_counter() - wall) / args.requests * 1e3, (time.process_time() - cpu) / args.requests * 1e3)
        each.sort()
        p50, p99 = each[len(each) // 2] * 1e3, each[min(len(each) - 1, int(len(each) * 0.99))] * 1e3
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for i in range(args.requests):
            fn(i)
        profiler.stop()
        text = profiler.output_text(unicode=False, color=False, show_all=True)
        (args.out / f"{name}.txt").write_text(text)
        print(f"\n== {name}: {summary[name][0]:.2f} ms wall (p50 {p50:.2f}, p99 {p99:.2f}), {summary[name][1]:.2f} ms CPU per request (unprofiled)")
        print("\n".join(heaviest(text, args.threshold)))
    floor_cpu = summary["floor"][1]
    print("\nCPU per request relative to the floor: " + ", ".join(f"{k} {v[1] / floor_cpu:.2f}x" for k, v in summary.items()))
    print(f"full profiles: {args.out}")


if __name__ == "__main__":
    main()
