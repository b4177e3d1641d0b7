"""The map pages' background: a :data:`~mapper.maps.base.TILE_CHOICES` key, or a tile
archive on disk served by the app itself (``TILES`` set to an MBTiles or PMTiles file;
:mod:`mapper.tilearchive` reads it, the ``tiles`` blueprint serves it under ``/tiles``).
A vector archive is drawn in the browser with a style: ``TILES_STYLE`` (a Mapbox GL /
MapLibre style file) or, without one, the built-in plain style
(:mod:`mapper.maps.vectorstyle` translates either).

Not a blueprint: every map page asks here what to draw under its data.
"""

from __future__ import annotations

import re

from flask import Flask, current_app, request, url_for
from markupsafe import escape

from mapper.context_store import ContextStore
from mapper.maps.base import TILE_CHOICES, LocalTiles, Tiles
from mapper.maps.context import ContextOverlay
from mapper.maps.vectorstyle import Basemap, open_basemap
from mapper.tilearchive import TileArchive

#: where the open archive lives on the app (``app.extensions``)
EXTENSION = "mapper.tile_archive"
#: where a vector archive's translated style lives on the app
STYLE_EXTENSION = "mapper.tile_style"
#: the renderer of vector archives, vendored under static/ (with its licence)
VECTORGRID_JS = "vendor/leaflet-vectorgrid/Leaflet.VectorGrid.bundled.min.js"
#: the app's script that draws a vector archive with its translated style
VECTOR_BASEMAP_JS = "vectorbasemap.js"
#: the kind of background the templates are told when the app serves its own tiles
LOCAL = "local"

#: a link in an archive's attribution, the only markup kept
_LINK = re.compile(r'<a\s+href="(https?://[^"<>]*)"[^>]*>([^<]*)</a>', re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def init_app(app: Flask) -> None:
    """Open the archive ``TILES`` names, when it is not a :data:`TILE_CHOICES` key, with
    the style ``TILES_STYLE`` names for a vector archive.

    Raises MapperError naming the file when the archive or the style cannot be used."""
    tiles = str(app.config["TILES"])
    app.config["TILES"] = tiles
    style = str(app.config.get("TILES_STYLE") or "")
    if tiles in TILE_CHOICES:
        app.extensions.pop(EXTENSION, None)
        app.extensions.pop(STYLE_EXTENSION, None)
        return
    opened = open_basemap(tiles, style or None)
    app.extensions[EXTENSION] = opened.archive
    app.extensions[STYLE_EXTENSION] = opened


def archive() -> TileArchive | None:
    """The app's tile archive, or None."""
    return current_app.extensions.get(EXTENSION)


def kind() -> str:
    """What the templates say of the background: "none", "osm", "light" or "local"."""
    return LOCAL if archive() is not None else current_app.config["TILES"]


def attribution_html(text: str) -> str:
    """An archive's attribution as safe HTML: text escaped, plain http(s) links kept."""
    parts: list[str] = []
    end = 0
    for match in _LINK.finditer(text):
        parts.append(str(escape(_TAG.sub("", text[end:match.start()]))))
        parts.append(f'<a href="{escape(match[1])}">{escape(match[2])}</a>')
        end = match.end()
    parts.append(str(escape(_TAG.sub("", text[end:]))))
    return "".join(parts).strip()


def map_tiles() -> Tiles:
    """The background the map modules draw: LocalTiles for an archive, else the key."""
    found = archive()
    if found is None:
        return current_app.config["TILES"]
    opened: Basemap | None = current_app.extensions.get(STYLE_EXTENSION)
    style = opened.style if opened is not None else None
    credit = found.attribution or (style or {}).get("attribution", "")
    root = request.script_root
    return LocalTiles(
        url=f"{root}/tiles/{{z}}/{{x}}/{{y}}.{found.extension}",
        attribution=attribution_html(credit) or str(escape(found.name)),
        min_zoom=found.min_zoom, max_zoom=found.max_zoom, bounds=found.bounds,
        name=found.name, vector=style,
        style_name=opened.style_name if style is not None and opened else "",
        scripts=(f"{root}/static/{VECTORGRID_JS}", f"{root}/static/{VECTOR_BASEMAP_JS}")
        if style is not None else ())


def editor_tiles() -> dict:
    """The register form's background as ``tiles``, ``attr``, ``max_zoom``... ({} for
    none), for ``static/editor.js``."""
    found = map_tiles()
    if isinstance(found, LocalTiles) and found.vector is not None:
        return {"vector": found.vector_options(), "scripts": found.scripts}
    if isinstance(found, LocalTiles):
        west, south, east, north = found.bounds
        return {"tiles": found.url, "attr": found.attribution,
                "max_zoom": 19, "max_native_zoom": found.max_zoom,
                "min_native_zoom": found.min_zoom,
                "bounds": f"{south},{west},{north},{east}"}
    return TILE_CHOICES.get(found) or {}


#: where the context layers' description is kept on the app: (file identity, kinds,
#: attributions)
CONTEXT_EXTENSION = "mapper.context_layers"


def context_store() -> ContextStore:
    """The context layers of the app's workspace (``mapper import-context``)."""
    return ContextStore(current_app.config["WORKSPACE"])


def context_overlay() -> ContextOverlay | None:
    """What the maps need to draw the imported context layers under their data, or None
    when there are none (then the maps leave them out entirely). One stat of the file a
    call; its kinds and attributions are read again only when it changes."""
    store = context_store()
    version = store.identity()
    if version is None:
        return None
    known = current_app.extensions.get(CONTEXT_EXTENSION)
    if known is None or known[0] != (store.path, version):
        known = ((store.path, version), tuple(store.kinds()), tuple(store.attributions()))
        current_app.extensions[CONTEXT_EXTENSION] = known
    if not known[1]:
        return None
    return ContextOverlay(url=f"{request.script_root}/context/{{kind}}.geojson",
                          script=url_for("static", filename="context.js"),
                          kinds=known[1], attribution=known[2], version=version)


__all__ = ["CONTEXT_EXTENSION", "EXTENSION", "LOCAL", "STYLE_EXTENSION", "archive",
           "attribution_html", "context_overlay", "context_store", "editor_tiles", "init_app",
           "kind", "map_tiles"]
