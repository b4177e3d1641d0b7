"""A rate limit for anonymous clients: a token bucket per client address.

Anonymous requests cost the server CPU and bandwidth (a new date window on the priority
map's incidents, a long list), so a client that has not signed in may make on average
:data:`ANON_RATE_PER_S` requests a second and at most :data:`ANON_BURST` at once; past
that it gets 429 with ``Retry-After`` (the seconds until its bucket holds a request
again). Signed-in users, ``/health``, static files, the vendored libraries and basemap tiles are not
counted. The client's address is the one the sign-in throttling uses
(:func:`mapper.web.auth.client_address`).

Buckets live in the process: with ``mapper serve --workers N`` a client may get up to N
times the rate. A reverse proxy in front can enforce one limit for all of them (README,
"Serving": an nginx ``limit_req`` example with the same numbers).

Settings: ``ANON_RATE_PER_S`` and ``ANON_BURST`` (``ANON_RATE_PER_S`` 0: no limit). Apps
made for tests (``TESTING``) have no limit unless a test sets one.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

from flask import Flask, current_app, request
from werkzeug.exceptions import TooManyRequests

#: requests per second an anonymous client (one address) may make on average
ANON_RATE_PER_S = 10.0
#: requests it may make at once (the bucket's size): a page and what it fetches, a burst
#: of searches
ANON_BURST = 100
#: addresses remembered at most (the least recently seen forgotten first: a forgotten
#: client starts again with a full bucket)
MAX_ADDRESSES = 10_000
#: endpoints never counted
EXEMPT_ENDPOINTS = frozenset({"health", "static", "vendor.vendor_file", "tiles.tile"})


class Buckets:
    """Token buckets by key, refilled continuously at `rate` per second up to `burst`."""

    def __init__(self, rate: float, burst: int, *, clock=time.monotonic):
        self.rate, self.burst, self.clock = float(rate), int(burst), clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Take one request from `key`'s bucket: 0 when it had one, else the seconds
        until it will."""
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > MAX_ADDRESSES:
                self._buckets.popitem(last=False)
            return wait


def init_app(app: Flask) -> None:
    """Limit anonymous requests (after the user is loaded: signed-in users pass)."""
    testing = app.config.get("TESTING")
    app.config.setdefault("ANON_RATE_PER_S", 0.0 if testing else ANON_RATE_PER_S)
    app.config.setdefault("ANON_BURST", ANON_BURST)
    rate, burst = float(app.config["ANON_RATE_PER_S"]), int(app.config["ANON_BURST"])
    if not (math.isfinite(rate) and rate >= 0 and burst >= 1):
        from mapper.errors import MapperError

        raise MapperError(f"ANON_RATE_PER_S must be a number >= 0 and ANON_BURST a whole "
                          f"number >= 1; got {rate!r} and {burst!r}")
    app.extensions["mapper_anon_buckets"] = Buckets(rate, burst) if rate > 0 else None
    app.before_request(_limit)


def _limit() -> None:
    buckets = current_app.extensions.get("mapper_anon_buckets")
    if buckets is None or request.endpoint in EXEMPT_ENDPOINTS:
        return
    from mapper.web.auth import client_address, current_user

    if current_user().signed_in:
        return
    wait = buckets.take(client_address())
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise TooManyRequests(
            description=f"Too many requests from your address without signing in: at most "
            f"{buckets.rate:g} a second on average ({buckets.burst} at once). Try again in "
            f"{seconds} s, or sign in.", retry_after=seconds)
