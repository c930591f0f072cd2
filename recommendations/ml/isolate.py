"""Run TensorFlow work in a fresh (spawned) interpreter, so its memory goes when the work ends.

TensorFlow keeps what training allocated: after fine-tuning MiniLM a process holds ~3 GB more
than before, and neither dropping the model, ``clear_session`` nor ``malloc_trim`` gives it back
(measured in session 4, ``docs/scaling.md``). A child process returns all of it when it exits.
It is *spawned*, never forked: forking a process that has run TF can hang
(``shared/docs/ml-stack.md``), and a spawned child starts clean whatever the parent did.

``run_isolated(fn, *args, on_event=...)`` calls ``fn(emit, *args)`` in the child. ``emit(x)``
sends ``x`` to the parent, where ``on_event(x)`` handles it (progress, log lines); the return
value comes back pickled, and an exception in the child is raised here as ``ChildError`` with
the child's traceback. ``fn`` must be importable (a module-level function). A child whose
parent dies stops itself within a second.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["ChildError", "run_isolated"]

T = TypeVar("T")
Emit = Callable[[Any], None]


class ChildError(RuntimeError):
    """The isolated function raised, or its process died; the message carries the child's traceback."""


def _exit_with_parent(parent: int) -> None:
    # A parent killed outright (SIGKILL, OOM) cannot stop its child: the child stops itself.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _child(out: Any, parent: int, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    try:
        result = fn(lambda event: out.put(("event", event)), *args, **kwargs)
    except BaseException as exc:  # everything, SystemExit included, must reach the parent
        out.put(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    else:
        out.put(("result", result))


def run_isolated(
    fn: Callable[..., T],
    *args: Any,
    on_event: Callable[[Any], None] | None = None,
    on_idle: Callable[[], None] | None = None,
    **kwargs: Any,
) -> T:
    """``fn(emit, *args, **kwargs)`` in a spawned child; see the module docstring. ``on_idle`` is
    called every half second without news (a heartbeat); an exception from it or from
    ``on_event`` stops the child and propagates."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_child, args=(out, os.getpid(), fn, args, kwargs), daemon=True)
    proc.start()
    finished = False  # the child sent its result or error and is exiting by itself
    try:
        while True:
            try:
                kind, *payload = out.get(timeout=0.5)
            except queue.Empty:
                if not proc.is_alive():
                    # It may have put its last message just before exiting.
                    try:
                        kind, *payload = out.get(timeout=1.0)
                    except queue.Empty:
                        raise ChildError(f"{getattr(fn, '__name__', fn)} died (exit code {proc.exitcode})") from None
                else:
                    if on_idle is not None:
                        on_idle()
                    continue
            if kind == "event":
                if on_event is not None:
                    on_event(payload[0])
            elif kind == "result":
                finished = True
                return payload[0]
            else:
                finished = True
                message, trace = payload
                raise ChildError(f"{message}\n--- in the child process:\n{trace}")
    finally:
        if finished:
            proc.join(timeout=30)
        if proc.is_alive():  # the parent is leaving early (error, interrupt): do not leave TF running
            proc.kill()
            proc.join()
        out.close()
