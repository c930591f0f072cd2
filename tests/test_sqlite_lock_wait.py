"""A transaction waits for another writer's lock and starts once it is free; it gives up with
"database is locked" after the configured timeout; other statements keep SQLite's busy timeout.
(How promptly it starts is measured in benchmarks/sqlite_lock_wait.py, not here.)"""

import sqlite3
import threading
import time

import pytest
from django.db import OperationalError, connections

from movierec.sqlite.base import DatabaseWrapper, begin_immediate


@pytest.fixture
def db_file(tmp_path):
    path = tmp_path / "lock.sqlite3"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (n INTEGER)")
    con.close()
    return path


def hold_lock(path, seconds: float, started: threading.Event) -> threading.Thread:
    def run() -> None:
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO t VALUES (1)")
        started.set()
        time.sleep(seconds)
        con.execute("COMMIT")
        con.close()

    thread = threading.Thread(target=run)
    thread.start()
    started.wait(5)
    return thread


def wrapper(path, timeout: float) -> DatabaseWrapper:
    settings = dict(connections["default"].settings_dict)
    settings.update(NAME=str(path), OPTIONS={"transaction_mode": "IMMEDIATE", "timeout": timeout})
    return DatabaseWrapper(settings, alias="lockwait")


def test_settings_use_the_backend():
    assert connections["default"].settings_dict["ENGINE"] == "movierec.sqlite"
    assert connections["default"].vendor == "sqlite"


def test_begin_waits_until_the_lock_is_free(db_file):
    holder = hold_lock(db_file, 0.3, threading.Event())
    con = sqlite3.connect(db_file, isolation_level=None, timeout=0)
    begin_immediate(con, timeout=5)
    con.execute("INSERT INTO t VALUES (2)")
    con.execute("COMMIT")
    holder.join()
    assert sorted(n for (n,) in con.execute("SELECT n FROM t")) == [1, 2]


def test_begin_gives_up_after_the_timeout(db_file):
    holder = hold_lock(db_file, 1.0, threading.Event())
    con = sqlite3.connect(db_file, isolation_level=None, timeout=0)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        begin_immediate(con, timeout=0.2)
    holder.join()
    assert [n for (n,) in con.execute("SELECT n FROM t")] == [1]


def test_django_transaction_waits_and_keeps_busy_timeout(db_file, django_db_blocker):
    with django_db_blocker.unblock():
        conn = wrapper(db_file, timeout=5)
        conn.ensure_connection()
        holder = hold_lock(db_file, 0.3, threading.Event())
        conn._start_transaction_under_autocommit()
        assert conn.connection.in_transaction
        conn.connection.execute("INSERT INTO t VALUES (2)")
        conn.connection.commit()
        holder.join()
        # Statements outside a transaction still wait the configured 5 s.
        assert conn.connection.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        conn.close()


def test_django_transaction_raises_database_error(db_file, django_db_blocker):
    with django_db_blocker.unblock():
        conn = wrapper(db_file, timeout=0.2)
        conn.ensure_connection()
        holder = hold_lock(db_file, 1.0, threading.Event())
        with pytest.raises(OperationalError, match="locked"):
            conn._start_transaction_under_autocommit()
        assert not conn.connection.in_transaction
        assert conn.connection.execute("PRAGMA busy_timeout").fetchone()[0] == 200
        holder.join()
        conn.close()
