"""DRF's rate throttles on their own cache alias ("throttle").

A throttle reads and writes its history on every API request. On the default file-based
cache that is a temp file and a rename per request (~4 ms under load, more than a cached
recommendations request costs), so the history lives in process memory unless Redis is
configured. Per-process memory means each gunicorn worker counts on its own: with W
workers a client can get up to W times the rate; Redis makes the limit exact.
"""

from __future__ import annotations

from django.core.cache import caches
from rest_framework import throttling


class AnonRateThrottle(throttling.AnonRateThrottle):
    cache = caches["throttle"]


class UserRateThrottle(throttling.UserRateThrottle):
    cache = caches["throttle"]
