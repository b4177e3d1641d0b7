"""Security headers on every response, and the nonce that lets our own inline scripts run.

:func:`init_app` gives every request a fresh random nonce (``g.csp_nonce``), offers it to
templates as ``csp_nonce()`` and as the filter ``with_nonce`` (which stamps it on every
``<script`` tag of a trusted HTML fragment, such as folium's rendered map parts), and adds
these headers to every response (pages, errors, static and vendored files, the API):

``Content-Security-Policy``
    scripts only from the app itself or carrying this request's nonce (no inline event
    handlers, no ``eval``); images from the app, ``data:`` URLs and, only when ``TILES``
    is not "none", the basemap's tile hosts; fetches only to the app; the pages cannot be
    framed; forms submit only to the app; no plugins.
``X-Content-Type-Options``, ``X-Frame-Options``, ``Referrer-Policy``,
``Permissions-Policy``, ``Cross-Origin-Opener-Policy``
    see :data:`STATIC_HEADERS`.

The one documented exception: ``style-src`` allows ``'unsafe-inline'``. folium writes
``<style>`` blocks into each map's header and Leaflet (and its plugins) set ``style``
attributes on every marker, tooltip and control, so a nonce cannot cover them. Inline
styles cannot run code; scripts stay strictly limited.

The rendered map parts are cached per workspace version (:mod:`mapper.web.data`), so the
nonce is never baked into them: templates stamp it per request with ``with_nonce``.

For browser tests: with no ``'unsafe-eval'``, Playwright's ``wait_for_function`` must be
given a function (``"() => ..."``); a bare expression is re-evaluated with ``eval`` on each
poll, which the policy blocks.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from flask import Flask, current_app, g
from markupsafe import Markup

from mapper.maps.base import TILE_CHOICES

#: headers with a fixed value, added to every response
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: Leaflet's default tile subdomains, for a ``{s}`` URL without ``subdomains``
_DEFAULT_SUBDOMAINS = "abc"

#: an opening <script tag (not </script>) that has no nonce yet
_SCRIPT_TAG = re.compile(r"<script\b(?![^>]*\snonce\s*=)", re.IGNORECASE)


def init_app(app: Flask) -> None:
    """Give every request a CSP nonce and every response the security headers."""
    app.before_request(_new_nonce)
    app.after_request(add_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.filters["with_nonce"] = with_nonce


def _new_nonce() -> None:
    g.csp_nonce = secrets.token_urlsafe(16)


def csp_nonce() -> str:
    """This request's nonce (made on first use if no ``before_request`` ran yet)."""
    if "csp_nonce" not in g:
        _new_nonce()
    return g.csp_nonce


def with_nonce(fragment: str) -> Markup:
    """`fragment` (trusted HTML, e.g. a folium map's header) with this request's nonce on
    every ``<script`` tag that lacks one. Marked safe: never pass it user text."""
    nonce = csp_nonce()
    return Markup(_SCRIPT_TAG.sub(f'<script nonce="{nonce}"', str(fragment)))


def tile_hosts(tiles: str) -> list[str]:
    """The origins basemap tiles of `tiles` (a :data:`TILE_CHOICES` key) come from; none
    for "none"."""
    choice = TILE_CHOICES.get(tiles) or {}
    url = choice.get("tiles")
    if not url:
        return []
    parts = urlsplit(url)
    hosts = [parts.netloc]
    if "{s}" in parts.netloc:
        subdomains = choice.get("subdomains") or _DEFAULT_SUBDOMAINS
        hosts = [parts.netloc.replace("{s}", s) for s in subdomains]
    return [f"{parts.scheme}://{host}" for host in hosts]


def content_security_policy(nonce: str, tiles: str = "none") -> str:
    """The ``Content-Security-Policy`` value for one response."""
    images = " ".join(["'self'", "data:", *tile_hosts(tiles)])
    directives = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        f"img-src {images}",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ]
    return "; ".join(directives)


def never_cached(blueprint) -> None:
    """Mark every response of `blueprint` ``Cache-Control: no-store``: its pages and
    answers show contact details (personal data), so no browser or proxy may keep them."""
    blueprint.after_request(_no_store)


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def add_headers(response):
    """Add the CSP and :data:`STATIC_HEADERS` to `response` (an ``after_request``)."""
    tiles = current_app.config.get("TILES", "none")
    response.headers["Content-Security-Policy"] = content_security_policy(csp_nonce(), tiles)
    for name, value in STATIC_HEADERS.items():
        response.headers[name] = value
    return response


__all__ = ["add_headers", "content_security_policy", "csp_nonce", "init_app", "never_cached",
           "tile_hosts", "with_nonce"]
