"""Settings for benchmarks/load_recs.py: production settings plus, behind a flag, a floor endpoint.

With MOVIEREC_BENCH_FLOOR=1 the URLconf adds `/api/bench/floor/` (movierec/bench_urls.py): a
trivial authenticated DRF endpoint returning the recommendations' JSON shape from memory, the
framework floor the recommendations endpoint is compared with. Throttle rates are raised so a
load test measures serving, not 429s; the throttle itself still runs on every request.
"""

from __future__ import annotations

import os

from movierec.settings import *  # noqa: F403

if os.environ.get("MOVIEREC_BENCH_FLOOR") == "1":
    ROOT_URLCONF = "movierec.bench_urls"

REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {  # noqa: F405
    "anon": os.environ.get("API_THROTTLE_ANON", "1000000/min"),
    "user": os.environ.get("API_THROTTLE_USER", "1000000/min"),
}

# A shared Redis may hold other keys: keep the benchmark's own under a prefix.
if os.environ.get("MOVIEREC_BENCH_CACHE_PREFIX"):
    CACHES["default"]["KEY_PREFIX"] = os.environ["MOVIEREC_BENCH_CACHE_PREFIX"]  # noqa: F405
