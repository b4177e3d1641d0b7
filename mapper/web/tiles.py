"""``/tiles/{z}/{x}/{y}.{ext}``: the tiles of the app's tile archive (``mapper serve
--tiles FILE``), so the map pages have a background with no internet.

404 for a tile outside the archive's zoom range or bounds, for another extension than the
archive's format, and when no archive is set; 204 (no content) for a tile within them that
the archive leaves out (writers skip empty tiles), so the map shows nothing there and the
browser logs no error. Tiles change only with the file: an ETag of the file's size and
time, and a day's caching.

Vector tiles (``.pbf``) are often stored gzipped: such a tile goes out as it is with
``Content-Encoding: gzip`` to a browser that takes gzip (all do), and unpacked for a
client that does not, so the renderer always gets plain protobuf.
"""

from __future__ import annotations

import gzip
import zlib

from flask import Blueprint, Response, abort

from mapper.tilearchive import is_gzipped
from mapper.web import basemap
from mapper.web.auth import require_role
from mapper.web.responses import accepts_gzip, byte_response, not_modified

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
    gzipped = archive.vector and accepts_gzip()
    if gzipped:
        etag += "-gzip"  # the bytes differ by encoding when the stored tile is gzipped
    if not_modified(etag):
        response = Response(status=304)
    else:
        body = archive.tile(z, x, y)
        if body is None:
            response = Response(status=204)
        elif archive.vector:
            packed = is_gzipped(body)
            if packed and not gzipped:
                try:
                    body = gzip.decompress(body)
                except (OSError, EOFError, zlib.error):
                    abort(500, description=f"Tile {z}/{x}/{y} of the tile archive is "
                          "damaged (a broken gzip stream).")
            response = byte_response(body, archive.media_type, gzipped=packed and gzipped)
        else:
            response = Response(body, mimetype=archive.media_type)
    if archive.vector:
        response.vary.add("Accept-Encoding")
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={TILE_MAX_AGE}"
    return response
