"""Waiting for SQLite's write lock: SQLite's busy handler against movierec.sqlite's prompt retry.

Several processes write to one WAL-mode SQLite file, each transaction opened with
``BEGIN IMMEDIATE`` (as Django does with ``transaction_mode = "IMMEDIATE"``) and holding the lock
for ``--hold-ms`` (a rating write under load takes a few ms), then pausing ``--pause-ms``. Per
transaction it records the time spent waiting for the lock, with either

* ``busy-handler``: the connection's busy timeout (Python's ``timeout=``), i.e. SQLite's sleeps of
  1, 2, 5, 10, 15, 20, 25 ms…, which is what Django's stock SQLite backend does, or
* ``prompt``: ``movierec.sqlite.base.begin_immediate`` (busy timeout 0, retried every ≤ 1 ms).

Both modes run in the same invocation, alternating rounds, and the script prints wait
percentiles for each and their ratio.

    .venv/bin/python benchmarks/sqlite_lock_wait.py [--writers 4] [--seconds 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from movierec.sqlite.base import begin_immediate  # noqa: E402


def writer(path: str, mode: str, seconds: float, hold: float, pause: float, seed: int, out: multiprocessing.Queue) -> None:
    con = sqlite3.connect(path, timeout=20, isolation_level=None)
    if mode == "prompt":
        con.execute("PRAGMA busy_timeout = 0")
    rng = np.random.default_rng(seed)
    waits: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        if mode == "prompt":
            begin_immediate(con, 20)
        else:
            con.execute("BEGIN IMMEDIATE")
        waits.append(time.perf_counter() - started)
        con.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
        time.sleep(hold)
        con.execute("COMMIT")
        time.sleep(pause * rng.uniform(0.5, 1.5))
    out.put(waits)


def run(path: str, mode: str, args: argparse.Namespace, seed: int) -> list[float]:
    out: multiprocessing.Queue = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(
            target=writer, args=(path, mode, args.seconds, args.hold_ms / 1000, args.pause_ms / 1000, seed + i, out)
        )
        for i in range(args.writers)
    ]
    for p in procs:
        p.start()
    waits = [w for _ in procs for w in out.get()]
    for p in procs:
        p.join()
    return waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0, help="per mode and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--hold-ms", type=float, default=3.0, help="time a writer holds the lock")
    parser.add_argument("--pause-ms", type=float, default=20.0, help="mean pause between one writer's transactions")
    args = parser.parse_args()
    path = str(Path(tempfile.mkdtemp(prefix="movierec-lock-")) / "lock.sqlite3")
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
    con.execute("INSERT INTO counter VALUES (1, 0)")
    con.close()
    waits: dict[str, list[float]] = {"busy-handler": [], "prompt": []}
    for r in range(args.rounds):
        for mode in waits:
            waits[mode] += run(path, mode, args, seed=100 * r)
    print(
        f"{args.writers} writers, lock held {args.hold_ms} ms, pause ~{args.pause_ms} ms, "
        f"{args.rounds} x {args.seconds} s per mode"
    )
    print(f"{'mode':14} {'txns':>6} {'waited':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    figures = {}
    for mode, w in waits.items():
        a = np.asarray(w) * 1000
        figures[mode] = np.percentile(a, [50, 95, 99])
        print(
            f"{mode:14} {a.size:6d} {np.mean(a > 0.5):7.1%} " + " ".join(f"{v:7.2f}" for v in figures[mode]) + f" {a.max():7.2f}"
        )
    ratio = figures["prompt"] / np.maximum(figures["busy-handler"], 1e-9)
    print(f"prompt / busy-handler: p95 {ratio[1]:.2f}x, p99 {ratio[2]:.2f}x")


if __name__ == "__main__":
    main()
