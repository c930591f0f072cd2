"""run_isolated: TensorFlow work in a spawned child, its events, result and failures."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recommendations.ml.isolate import ChildError, run_isolated

ROOT = Path(__file__).resolve().parents[1]


def add_and_report(emit, a: int, b: int, *, times: int = 1) -> dict:
    for n in range(3):
        emit(("progress", n))
    return {"sum": (a + b) * times, "pid": os.getpid(), "tensorflow": "tensorflow" in sys.modules}


def fail(emit, message: str) -> None:
    emit("about to fail")
    raise ValueError(message)


def die(emit) -> None:
    os._exit(3)


def report_pid_then_wait(emit) -> None:
    emit(os.getpid())
    time.sleep(60)


def test_result_and_events_come_back_in_order() -> None:
    events: list = []
    out = run_isolated(add_and_report, 2, 3, times=2, on_event=events.append)
    assert out["sum"] == 10
    assert events == [("progress", 0), ("progress", 1), ("progress", 2)]
    # A fresh interpreter: not this process, and nothing the parent imported (TF, if an
    # earlier test loaded it) comes along.
    assert out["pid"] != os.getpid() and out["tensorflow"] is False


def test_exception_in_the_child_is_raised_with_its_traceback() -> None:
    events: list = []
    with pytest.raises(ChildError, match="ValueError: bad pairs") as info:
        run_isolated(fail, "bad pairs", on_event=events.append)
    assert "in the child process" in str(info.value) and "raise ValueError(message)" in str(info.value)
    assert events == ["about to fail"]


def test_a_child_that_dies_is_an_error_not_a_hang() -> None:
    with pytest.raises(ChildError, match=r"die died \(exit code 3\)"):
        run_isolated(die)


def test_the_child_is_stopped_when_the_parent_gives_up() -> None:
    pids: list[int] = []

    def stop(pid: int) -> None:
        pids.append(pid)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_isolated(report_pid_then_wait, on_event=stop)
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)


def test_on_idle_beats_while_the_child_is_quiet() -> None:
    beats: list[float] = []
    run_isolated(sleep_then_return, 1.6, on_idle=lambda: beats.append(time.monotonic()))
    assert len(beats) >= 2


def sleep_then_return(emit, seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_the_child_stops_itself_when_its_parent_is_killed() -> None:
    code = (
        "import sys; from recommendations.ml.isolate import run_isolated; "
        "from tests.test_isolate import report_pid_then_wait; "
        "run_isolated(report_pid_then_wait, on_event=lambda pid: print(pid, flush=True))"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(child)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state  # a zombie has stopped; only its exit status is left
