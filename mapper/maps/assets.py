"""Local copies of the JavaScript and CSS that folium maps need, so pages work offline.

folium points every map at public CDNs for Leaflet, jQuery and Bootstrap. The tool must work
with no internet, so the same files are taken from the ``xstatic`` packages and served by
our own app under one URL prefix (``/vendor/<package>/<file>`` by default). This module
is the one place that knows which folium resource lives in which package; the web app
serves :data:`VENDOR_DIRS` and maps call :func:`use_local_assets`.

No Flask here: the URL prefix is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import folium
import xstatic.pkg.jquery
import xstatic.pkg.leaflet
import xstatic.pkg.leaflet_markercluster
from branca.element import Element, Figure
from folium.elements import JSCSSMixin

#: URL prefix the web app serves the vendored files under
DEFAULT_BASE_URL = "/vendor"

#: package name used in URLs -> directory holding its files
VENDOR_DIRS: dict[str, Path] = {
    "leaflet": Path(xstatic.pkg.leaflet.BASE_DIR),
    "leaflet-markercluster": Path(xstatic.pkg.leaflet_markercluster.BASE_DIR),
    "jquery": Path(xstatic.pkg.jquery.BASE_DIR),
    # Leaflet.heat (c) 2014 Vladimir Agafonkin, with simpleheat by the same author: both
    # BSD 2-Clause. folium (MIT) ships the minified file, with the authors' notice at its
    # top, in its templates folder; its HeatMap plugin would load it from a CDN.
    "leaflet-heat": Path(folium.__file__).parent / "templates",
}

#: packages whose folder holds more than the library: only these files of it are served
#: (folium's templates folder also holds other plugins' scripts)
VENDOR_ONLY: dict[str, frozenset[str]] = {"leaflet-heat": frozenset({"leaflet_heat.min.js"})}


def vendor_serves(package: str, filename: str) -> bool:
    """Whether ``/vendor/<package>/<filename>`` may be served (the package is known, and
    for a package in :data:`VENDOR_ONLY`, the file is one of its listed files)."""
    if package not in VENDOR_DIRS:
        return False
    allowed = VENDOR_ONLY.get(package)
    return allowed is None or filename in allowed

#: folium resource name -> (vendor package, file), for every resource we can serve.
#: Names are the ones folium uses in ``default_js`` / ``default_css``.
LOCAL_ASSETS: dict[str, tuple[str, str]] = {
    "leaflet": ("leaflet", "leaflet.js"),
    "leaflet_css": ("leaflet", "leaflet.css"),
    "jquery": ("jquery", "jquery.min.js"),
    "markerclusterjs": ("leaflet-markercluster", "leaflet.markercluster.js"),
    "markerclustercss": ("leaflet-markercluster", "MarkerCluster.css"),
    "markerclusterdefaultcss": ("leaflet-markercluster", "MarkerCluster.Default.css"),
    "leaflet_heat": ("leaflet-heat", "leaflet_heat.min.js"),
    "leaflet-heat.js": ("leaflet-heat", "leaflet_heat.min.js"),  # folium's HeatMap name
}

#: what a plain polygon map needs. Bootstrap, glyphicons and awesome-markers (icons for
#: point markers) are dropped; jQuery is added only for a map that needs it
#: (:data:`JQUERY_USERS`): it is a sixth of the scripts a map page loads.
MAP_JS = ("leaflet",)
MAP_CSS = ("leaflet_css",)
#: folium elements whose scripts call jQuery's ``$``: a popup builds its content with it
JQUERY_USERS = (folium.Popup,)

_EXTERNAL = re.compile(r"^(https?:)?//", re.IGNORECASE)
# Meta tags the page template declares itself: folium's viewport tag sets
# user-scalable=no, which stops people zooming the page (WCAG 1.4.4), and a second
# character-set declaration makes the page invalid HTML.
_PAGE_META = re.compile(r"<meta\s+(?:name=\"viewport\"|http-equiv=\"content-type\")[^>]*>", re.I)


def asset_url(name: str, *, base_url: str = DEFAULT_BASE_URL) -> str:
    """The local URL of one folium resource, e.g. ``/vendor/leaflet/leaflet.js``."""
    if name not in LOCAL_ASSETS:
        known = ", ".join(sorted(LOCAL_ASSETS))
        raise ValueError(f"no local copy of the map resource {name!r} (known: {known})")
    package, filename = LOCAL_ASSETS[name]
    return f"{base_url.rstrip('/')}/{package}/{filename}"


def use_local_assets(m: folium.Map, *, base_url: str = DEFAULT_BASE_URL) -> folium.Map:
    """Make `m` (and everything added to it so far) load scripts and styles locally.

    Call it after the last element has been added. The map gets only what polygon maps
    need (Leaflet, and jQuery when :func:`needs_jquery`); any other element's CDN links
    (e.g. a MarkerCluster) are swapped for local copies. Raises ValueError, before
    anything is rendered, if an element needs a resource that has no local copy, so a
    page can never silently depend on the internet. Returns `m`.
    """
    # Assign new lists on the instances: folium's lists are class attributes shared by
    # every map in the process.
    scripts = list(MAP_JS)
    if needs_jquery(m):
        scripts.append("jquery")
    m.default_js = [(name, asset_url(name, base_url=base_url)) for name in scripts]
    m.default_css = [(name, asset_url(name, base_url=base_url)) for name in MAP_CSS]
    for element in _descendants(m):
        if isinstance(element, JSCSSMixin) and element is not m:
            element.default_js = _localised(element, element.default_js, base_url)
            element.default_css = _localised(element, element.default_css, base_url)
    return m


def needs_jquery(m: folium.Map) -> bool:
    """True when some element of `m` runs jQuery: a popup (:data:`JQUERY_USERS`) or
    folium's keep-in-front ordering of layers."""
    return bool(getattr(m, "objects_to_stay_in_front", None)) or any(
        isinstance(element, JQUERY_USERS) for element in _descendants(m))


def _localised(element: Element, links: list[tuple[str, str]], base_url: str):
    out = []
    for name, url in links:
        if name in LOCAL_ASSETS:
            # a CDN link of folium's, or our own local path under the default prefix
            url = asset_url(name, base_url=base_url)
        elif _EXTERNAL.match(url):
            raise ValueError(
                f"{type(element).__name__} needs {url}, which has no local copy; "
                f"add it to mapper.maps.assets.LOCAL_ASSETS (known: {', '.join(LOCAL_ASSETS)})"
            )
        out.append((name, url))
    return out


def _descendants(element: Element) -> Iterator[Element]:
    yield element
    for child in element._children.values():
        yield from _descendants(child)


@dataclass(frozen=True)
class MapParts:
    """A rendered map split for embedding in our own page (folium's components recipe).

    ``header`` goes in ``<head>``, ``html`` where the map should appear, ``script`` in a
    ``<script>`` element at the end of ``<body>``. ``name`` is the map's element id and
    its global JavaScript variable.
    """

    header: str
    html: str
    script: str
    name: str


def map_parts(m: folium.Map) -> MapParts:
    """Render `m` once and return its header, body and script parts."""
    root = m.get_root()
    if not isinstance(root, Figure):
        raise TypeError(f"the map must belong to a branca Figure, got {type(root).__name__}")
    root.render()
    header = _PAGE_META.sub("", root.header.render())
    return MapParts(
        header=header,
        html=root.html.render(),
        script=root.script.render(),
        name=m.get_name(),
    )


def external_links(parts: MapParts) -> list[str]:
    """Script and stylesheet URLs in the map's header that point to another host."""
    urls = re.findall(r"""<(?:script|link)\b[^>]*?(?:src|href)\s*=\s*["']([^"']+)""", parts.header)
    return [u for u in urls if _EXTERNAL.match(u)]
