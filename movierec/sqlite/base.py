"""SQLite that waits for the write lock promptly.

Django opens every transaction with ``BEGIN IMMEDIATE`` (settings: ``transaction_mode``), so two
writers queue on SQLite's write lock. SQLite's own busy handler waits in steps of 1, 2, 5, 10,
15, 20, 25 ms…, so a writer that arrives while another holds the lock for 4 ms waits 8 ms, one
that holds it 11 ms costs the next 18 ms: under contention that step schedule, not the writes,
makes the tail (benchmarks/sqlite_lock_wait.py). Here ``BEGIN IMMEDIATE`` is retried with a busy
timeout of 0 every ≤ 1 ms until the configured ``timeout``, so a waiter starts within a
millisecond of the lock being free. Statements outside a transaction keep the busy timeout.
"""

from __future__ import annotations

import sqlite3
import time

from django.db.backends.sqlite3 import base

# Retry delays grow from 0.1 ms to this cap: waking at most this late after the lock frees.
MAX_DELAY = 0.001


class DatabaseWrapper(base.DatabaseWrapper):
    def _start_transaction_under_autocommit(self) -> None:
        if self.transaction_mode != "IMMEDIATE":
            super()._start_transaction_under_autocommit()
            return
        timeout = float(self.settings_dict["OPTIONS"].get("timeout", 5))
        raw = self.connection
        with self.wrap_database_errors:
            raw.execute("PRAGMA busy_timeout = 0")
            try:
                begin_immediate(raw, timeout)
            finally:
                raw.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")


def begin_immediate(raw: sqlite3.Connection, timeout: float) -> None:
    """``BEGIN IMMEDIATE`` on a connection with no busy timeout, retried until ``timeout`` s."""
    deadline = time.monotonic() + timeout
    delay = 0.0001
    while True:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, MAX_DELAY)
