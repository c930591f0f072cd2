"""WSGI entry point (gunicorn movierec.wsgi; never with --preload, see ml-stack fork hazard)."""

import os
import sys

# One BLAS thread per request thread: gthread workers already run requests in parallel, and
# OpenBLAS's own thread pool on top of them oversubscribes the cores (set before numpy loads).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# A gthread worker mixes CPU-bound requests (ranking, JSON) with I/O-bound ones (a rating's
# SQLite writes release the GIL around every query). With CPython's default 5 ms switch
# interval, each return from a query can wait up to 5 ms for the GIL, so a ten-query write
# took tens of ms under load; 1 ms bounds that wait at a small cost in throughput.
sys.setswitchinterval(float(os.environ.get("MOVIEREC_GIL_SWITCH_INTERVAL", "0.001")))

from django.core.wsgi import get_wsgi_application  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec.settings")
application = get_wsgi_application()
