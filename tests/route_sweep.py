"""Sweeping every route of the app, shared by the authorisation, placeholder, personal-text
and real-data route tests: a sample value for each URL argument, a rule's URL, a
response's text as a person reads it, and the placeholder words and contact details that
must never show in it."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser

from mapper import overlay
from mapper.maps.assets import VENDOR_DIRS
from mapper.store import Workspace


def _samples(app) -> dict[str, str]:
    ws = Workspace(app.config["WORKSPACE"])
    groups = overlay.read_layer(ws, "groups")
    return {
        "can_id": str(ws.read_layer("neighbourhoods")["can_id"].iloc[0]),
        "ward_code": str(ws.read_layer("wards")["ward_code"].iloc[0]),
        "fmt_name": "csv",
        "layer": "groups",
        "package": next(iter(VENDOR_DIRS)),
        "filename": "app.css",
        "register": "groups",
        "record_id": str(groups["group_id"].iloc[0]),
        "group_id": str(groups["group_id"].iloc[0]),
        "token": "no-such-token",
        "username": "matrix-partner",
        "draft_id": "1",
        "version": "1",
    }


def _url(rule, samples: dict[str, str]) -> str:
    url = rule.rule
    for name in rule.arguments:
        value = samples.get(name, "x")
        if rule.endpoint == "vendor.vendor_file" and name == "filename":
            package = samples["package"]
            value = next(p.name for p in VENDOR_DIRS[package].iterdir() if p.is_file())
        url = re.sub(rf"<(?:[^:<>]+:)?{name}>", value, url)
    return url


TOKENS = re.compile(r"\b(nan|NaN|None|NaT|undefined|null)\b")


#: attributes a person reads (tooltips, labels, form values)
READ_ATTRIBUTES = ("title", "alt", "aria-label", "placeholder", "value", "content")


class _Visible(HTMLParser):
    """Visible text and read attributes of a page; the HTML fragments inside scripts
    (folium popups and tooltips) parsed the same way."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if value and (name in READ_ATTRIBUTES or name.startswith("data-search")):
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.texts.append(data)


_POPUP = re.compile(r"<(?:div|p|strong|span)[^<>]*>([^<>`]*)(?=<)")


def is_binary(content_type: str) -> bool:
    """An image or a GeoPackage: no text a person reads as such."""
    return content_type.startswith("image/") or "geopackage" in content_type \
        or "sqlite" in content_type or "octet-stream" in content_type


def body_of(response) -> str:
    """A response's body as text; a binary one (an image, a GeoPackage) as Latin-1, which
    any byte decodes to, so its text cells can still be searched for contact details."""
    if is_binary(response.mimetype or ""):
        return response.get_data().decode("latin-1")
    return response.get_data(as_text=True)


def read_text(body: str, content_type: str) -> list[str]:
    """What a person reads in a response."""
    if "json" in content_type:
        out: list[str] = []

        def walk(value):
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)

        walk(json.loads(body))
        return out
    if "csv" in content_type:
        return [cell for row in csv.reader(io.StringIO(body)) for cell in row]
    parser = _Visible()
    parser.feed(body)
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", body, flags=re.S)
    return parser.texts + [m for s in scripts for m in _POPUP.findall(s)]


def placeholders(texts: list[str]) -> list[str]:
    return sorted({t.strip()[:80] for t in texts if TOKENS.search(t)})


#: what a test counts as a contact detail: independent of the detector's own patterns
EMAIL_SEEN = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z.]{2,}")


PHONE_SEEN = re.compile(r"(?<![\w.])0\d{2,4}[ -]?\d{3,4}[ -]?\d{3,4}\b|\+44 ?\d")
