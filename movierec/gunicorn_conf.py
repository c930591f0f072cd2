"""gunicorn settings for scripts/run.sh and the image (``-c python:movierec.gunicorn_conf``).

Each worker loads the request encoder in a background thread once it has started, so the first
plain-words request does not wait for TensorFlow and the model (~15 s here). This runs in the
worker, after the fork: the master never touches TensorFlow (a process that has run TF and then
forks hangs; shared/docs/ml-stack.md). ``MOVIEREC_WARM_ENCODER=0`` turns it off, e.g. to keep
workers small where plain-words requests are rare.
"""

from __future__ import annotations

import threading
from typing import Any


def post_worker_init(worker: Any) -> None:
    """gunicorn's hook, in the worker once the application is loaded (Django is set up)."""

    def warm() -> None:
        from recommendations.ask import warm_up

        warm_up()

    threading.Thread(target=warm, name="warm-encoder", daemon=True).start()
