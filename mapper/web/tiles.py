"""``/tiles/{z}/{x}/{y}.{ext}``: the tiles of the app's tile archive (``mapper serve
--tiles FILE``), so the map pages have a background with no internet.

404 for a tile outside the archive's zoom range or bounds, for another extension than the
archive's format, and when no archive is set; 204 (no content) for a tile within them that
the archive leaves out (writers skip empty tiles), so the map shows nothing there and the
browser logs no error. Tiles change only with the file: an ETag of the file's size and
time, and a day's caching.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort

from mapper.web import basemap
from mapper.web.auth import require_role
from mapper.web.responses import not_modified

bp = Blueprint("tiles", __name__)

#: how long browsers may keep a tile, in seconds
TILE_MAX_AGE = 24 * 3600


@bp.get("/tiles/<int:z>/<int:x>/<int:y>.<ext>")
@require_role("public")
def tile(z: int, x: int, y: int, ext: str):
    """One tile of the archive (XYZ numbering, as Leaflet asks)."""
    archive = basemap.archive()
    if archive is None:
        abort(404, description="No tile archive is set (mapper serve --tiles FILE).")
    if ext != archive.extension:
        abort(404, description=f"The tile archive holds .{archive.extension} tiles.")
    if not archive.covers(z, x, y):
        abort(404, description=f"Tile {z}/{x}/{y} is outside the tile archive (zooms "
              f"{archive.min_zoom}-{archive.max_zoom}).")
    etag = f"{archive.etag_base}-{z}-{x}-{y}"
    if not_modified(etag):
        response = Response(status=304)
    else:
        body = archive.tile(z, x, y)
        response = (Response(status=204) if body is None
                    else Response(body, mimetype=archive.media_type))
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={TILE_MAX_AGE}"
    return response
