"""Helpers of the browser tests that open a map page and read its view (static/mapstate.js):
shared by the map-state and URL-state tests."""

from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

from conftest import LOCAL_HOSTS, BrowserPage

#: the map's zoom and centre
VIEW_JS = """
() => {
    const map = window[document.querySelector('.folium-map').id];
    const c = map.getCenter();
    return {zoom: map.getZoom(), lat: c.lat, lon: c.lng};
}
"""


@contextmanager
def watched(chromium, width: int, **options):
    """A fresh context and page (as the browser_page fixture: foreign requests blocked and
    recorded, console and page errors recorded), clean at the end."""
    context = chromium.new_context(viewport={"width": width, "height": 844}, **options)
    page = context.new_page()
    seen = BrowserPage(page)

    def route(route_obj):
        url = route_obj.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS:
            seen.foreign_requests.append(url)
            route_obj.abort()
        else:
            route_obj.continue_()

    context.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and seen.console_errors.append(m.text))
    page.on("pageerror", lambda e: seen.page_errors.append(str(e)))
    try:
        yield seen
    finally:
        context.close()
    seen.assert_clean()


def _open(page, url):
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.status == 200, url
    page.wait_for_function("() => window.MapState && window.MapState.map !== null")


def _no_overflow(page):
    assert page.evaluate("() => document.documentElement.scrollWidth") <= \
        page.evaluate("() => window.innerWidth") + 1


def query_layers(url: str) -> str:
    return parse_qs(urlsplit(url).query)["layers"][0]


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
