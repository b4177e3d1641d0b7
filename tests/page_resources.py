"""What a page makes the browser load by itself (scripts, styles, images, frames, media),
and whether a URL leaves the app: shared by the page tests that check a page needs no
other host (every script and style is served by the app)."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


class _Resources(HTMLParser):
    """Collects every URL the browser would load by itself (scripts, styles, images)."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "video", "audio") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def resource_urls(page: str) -> list[str]:
    """The URLs of the scripts, stylesheets, images, frames and media of a page."""
    parser = _Resources()
    parser.feed(page)
    return parser.urls


def is_foreign(url: str) -> bool:
    """Whether the URL names another host (a data: URL never does)."""
    parts = urlsplit(url)
    if parts.scheme == "data":
        return False
    return bool(parts.netloc) and parts.hostname not in LOCAL_HOSTS


def foreign_resources(page: str) -> list[str]:
    """The page's resources on another host."""
    return [u for u in resource_urls(page) if is_foreign(u)]
