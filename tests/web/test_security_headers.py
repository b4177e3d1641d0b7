"""Security headers on every response (pages, errors, static and vendored files, the API)
and the Content-Security-Policy nonce on every script of a page; in headless Chromium,
that the policy really blocks an inline script without the nonce, and says so."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from mapper.maps.base import TILE_CHOICES
from mapper.web import create_app
from mapper.web.security import with_nonce

#: the fixed headers and the values every response must carry
EXPECTED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
REFERRER_POLICIES = {"same-origin", "strict-origin-when-cross-origin"}

#: (path, status, content type): one of each kind of response
RESPONSES = [
    ("/", 200, "text/html"),
    ("/no-such-page", 404, "text/html"),
    ("/incident?lat=abc&lon=0", 400, "text/html"),
    ("/static/app.css", 200, "text/css"),
    ("/vendor/leaflet/leaflet.js", 200, "javascript"),
    ("/vendor/no-such-library/x.js", 404, "text/html"),
    ("/api/wards", 200, "json"),
    ("/api/wards?no_such_parameter=1", 400, "json"),
    ("/health", 200, "json"),
]

SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.IGNORECASE)
NONCE_ATTR = re.compile(r"""\snonce=["']([^"']+)["']""")


def csp_directives(response) -> dict[str, list[str]]:
    """The response's Content-Security-Policy as {directive: [sources]}."""
    value = response.headers.get("Content-Security-Policy")
    assert value, f"no Content-Security-Policy on {response.request.path}"
    directives = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            assert words[0] not in directives, f"{words[0]} given twice: {value}"
            directives[words[0]] = words[1:]
    return directives


def nonce_of(response) -> str:
    sources = csp_directives(response)["script-src"]
    nonces = [s for s in sources if s.startswith("'nonce-")]
    assert len(nonces) == 1, sources
    return nonces[0].removeprefix("'nonce-").removesuffix("'")


def assert_secure(response) -> None:
    """Every security header with the expected value."""
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.headers.get(name))
    assert response.headers.get("Referrer-Policy") in REFERRER_POLICIES
    csp = csp_directives(response)
    assert csp["default-src"] == ["'self'"]
    # scripts: the app's own files and this response's nonce, nothing else
    assert csp["script-src"][0] == "'self'" and len(csp["script-src"]) == 2, csp["script-src"]
    assert re.fullmatch(r"'nonce-[A-Za-z0-9_-]{16,}'", csp["script-src"][1])
    assert csp["style-src"] == ["'self'", "'unsafe-inline'"]
    assert csp["img-src"][:2] == ["'self'", "data:"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    everything = " ".join(response.headers["Content-Security-Policy"].split())
    assert "unsafe-eval" not in everything and "*" not in everything


@pytest.mark.parametrize(("path", "status", "kind"), RESPONSES)
def test_every_kind_of_response_has_the_headers(client, path, status, kind):
    with client.get(path) as response:  # closes a file response's file
        assert response.status_code == status, response.get_data(as_text=True)[:500]
        assert kind in response.content_type
        assert_secure(response)


def test_an_unexpected_error_has_the_headers(tiny_workspace, monkeypatch):
    app = create_app({"WORKSPACE": str(tiny_workspace), "TILES": "none"})

    def boom():
        raise RuntimeError("secret detail")

    app.add_url_rule("/boom", "boom", boom)
    # the traceback the app logs is expected here; the logger is shared by name, so it is
    # switched back on after this test
    monkeypatch.setattr(app.logger, "disabled", True)
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "secret detail" not in response.get_data(as_text=True)
    assert_secure(response)


def test_nonce_is_new_for_every_request_and_on_every_script(client):
    first, second = client.get("/"), client.get("/")
    assert nonce_of(first) != nonce_of(second)
    for response in (first, second):
        page = response.get_data(as_text=True)
        tags = SCRIPT_TAG.findall(page)
        # Leaflet, folium's inline settings and the map's own script
        assert len(tags) >= 3, tags
        for tag in tags:
            found = NONCE_ATTR.search(tag)
            assert found and found.group(1) == nonce_of(response), tag
        assert not re.search(r"\son[a-z]+\s*=", page, re.IGNORECASE), "inline event handler"


def test_error_page_nonce_is_the_headers_nonce(client):
    response = client.get("/no-such-page")
    page = response.get_data(as_text=True)
    for tag in SCRIPT_TAG.findall(page):
        assert NONCE_ATTR.search(tag).group(1) == nonce_of(response)


def _tile_origins(choice: dict) -> set[str]:
    """Every origin a Leaflet tile layer of `choice` may load from."""
    url = urlsplit(choice["tiles"])
    subdomains = choice.get("subdomains", "abc") if "{s}" in url.netloc else [""]
    return {f"{url.scheme}://{url.netloc.replace('{s}', s)}" for s in subdomains}


@pytest.mark.parametrize("tiles", list(TILE_CHOICES))
def test_img_src_lists_the_tile_hosts_only_when_tiles_are_on(tiny_workspace, tiles):
    client = create_app({"TESTING": True, "WORKSPACE": str(tiny_workspace),
                         "TILES": tiles}).test_client()
    for path in ("/", "/static/app.css", "/api/wards"):
        with client.get(path) as response:
            images = csp_directives(response)["img-src"]
        if tiles == "none":
            assert images == ["'self'", "data:"]
        else:
            hosts = set(images[2:])
            assert hosts == _tile_origins(TILE_CHOICES[tiles]), images
            assert all(h.startswith("https://") for h in hosts)
            others = set().union(*(_tile_origins(c) for k, c in TILE_CHOICES.items()
                                   if c and k != tiles))
            assert not hosts & others


def test_with_nonce_stamps_every_opening_script_tag(app):
    fragment = (
        '<script src="/vendor/a.js"></script>\n<SCRIPT>var x = 1;</SCRIPT>'
        '<script nonce="already">y()</script><scripts></scripts><link rel="stylesheet">'
    )
    with app.test_request_context("/"):
        from mapper.web.security import csp_nonce

        stamped = str(with_nonce(fragment))
        nonce = csp_nonce()
    assert stamped.count(f'nonce="{nonce}"') == 2
    assert f'<script nonce="{nonce}" src="/vendor/a.js"></script>' in stamped
    assert f'<script nonce="{nonce}">var x = 1;</SCRIPT>' in stamped
    assert '<script nonce="already">' in stamped
    assert "<scripts></scripts>" in stamped


@pytest.mark.browser
def test_the_policy_blocks_a_script_without_the_nonce(browser_page, tiny_workspace,
                                                      live_server):
    """The browser enforces the policy, and a violation is a console error (which the
    browser fixture fails every other page on)."""
    app = create_app({"WORKSPACE": str(tiny_workspace), "TILES": "none"})

    def probe():
        from mapper.web.security import csp_nonce

        return (
            "<!doctype html><title>probe</title><link rel='icon' href='data:,'>"
            "<script>window.withoutNonce = true;</script>"
            f"<script nonce='{csp_nonce()}'>window.withNonce = true;</script>"
            "<button id='b' onclick='window.clicked = true'>b</button>"
        )

    app.add_url_rule("/probe", "probe", probe)
    page = browser_page.page
    page.goto(live_server(app) + "/probe", wait_until="networkidle")
    page.click("#b")
    ran = page.evaluate("[!!window.withNonce, !!window.withoutNonce, !!window.clicked]")
    assert ran == [True, False, False]
    violations = [e for e in browser_page.console_errors if "Content Security Policy" in e]
    assert len(violations) == 2, browser_page.console_errors
    browser_page.console_errors.clear()
