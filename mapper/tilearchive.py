"""Tile archives on disk, for a basemap that needs no internet: MBTiles and PMTiles.

:func:`open_archive` reads either kind and answers the same questions of both: the tile
at z/x/y (XYZ numbering, as Leaflet asks), the tile format and its media type, the zoom
range, the bounds (west, south, east, north in degrees) and the attribution.

- **MBTiles** (https://github.com/mapbox/mbtiles-spec): an SQLite database with a
  ``tiles`` table (zoom_level, tile_column, tile_row, tile_data) and a ``metadata`` table
  of names and values. Rows are numbered TMS-fashion, from the south: XYZ y is
  ``2**z - 1 - tile_row``.
- **PMTiles v3** (https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md): one
  file of a 127-byte header, a root directory, JSON metadata, leaf directories and tile
  data; tiles are found by their Hilbert-curve tile id. Read here directly (a hundred
  lines): directories uncompressed or gzip.

Raster archives (PNG, JPEG, WebP) are drawn as the map's background. A vector archive
(Mapbox Vector Tiles) is drawn in the browser with a style (:mod:`mapper.maps.vectorstyle`
translates one); :class:`TileArchive` says it is vector (``vector``), which source layers
its metadata lists (``vector_layers``) and whether its tiles are gzipped (``gzipped``:
PMTiles says so in its header; MBTiles writers gzip vector tiles as a rule, so the tile
server looks at each tile's first bytes).

No Flask here: ``mapper/web/tiles.py`` serves the tiles.
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

from mapper.errors import MapperError

#: tile formats: name -> (file extension in the URL, media type, raster?)
FORMATS = {
    "png": ("png", "image/png", True),
    "jpg": ("jpg", "image/jpeg", True),
    "webp": ("webp", "image/webp", True),
    "pbf": ("pbf", "application/x-protobuf", False),
}
#: other names archives use for the same formats
_FORMAT_ALIASES = {"jpeg": "jpg", "mvt": "pbf", "image/png": "png", "image/jpeg": "jpg",
                   "image/webp": "webp"}
#: the whole world in Web Mercator's latitude limits
WORLD = (-180.0, -85.0511, 180.0, 85.0511)
#: the deepest zoom an archive may claim (a tile id must fit 64 bits)
MAX_ARCHIVE_ZOOM = 26

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PMTILES_MAGIC = b"PMTiles"


class TileArchiveError(MapperError):
    """A tile archive that cannot be used (the message names the file and why)."""


def sniff_format(tile: bytes) -> str | None:
    """The format of a tile from its first bytes (None: not an image this knows)."""
    if tile.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if tile.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if tile[:4] == b"RIFF" and tile[8:12] == b"WEBP":
        return "webp"
    return None


@dataclass
class TileArchive:
    """An open tile archive (see the module's notes)."""

    path: Path
    kind: str  # "mbtiles" or "pmtiles"
    format: str  # a key of FORMATS
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float]
    attribution: str
    name: str
    _reader: object = field(repr=False, default=None)
    #: the source layers the metadata lists (``vector_layers`` ids); () when it lists none
    vector_layers: tuple[str, ...] = ()

    @property
    def extension(self) -> str:
        return FORMATS[self.format][0]

    @property
    def media_type(self) -> str:
        return FORMATS[self.format][1]

    @property
    def vector(self) -> bool:
        return not FORMATS[self.format][2]

    @property
    def etag_base(self) -> str:
        """Changes when the file does (size and modification time)."""
        stat = self.path.stat()
        return f"{stat.st_size:x}-{stat.st_mtime_ns:x}"

    def covers(self, z: int, x: int, y: int) -> bool:
        """Whether XYZ tile z/x/y lies in the archive's zoom range and bounds."""
        if not (self.min_zoom <= z <= self.max_zoom) or not (0 <= x < 2**z and 0 <= y < 2**z):
            return False
        (x0, y0), (x1, y1) = (tile_of(self.bounds[0], self.bounds[3], z),
                              tile_of(self.bounds[2], self.bounds[1], z))
        return x0 <= x <= x1 and y0 <= y <= y1

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The bytes of XYZ tile z/x/y, or None when the archive has none there."""
        if not self.covers(z, x, y):
            return None
        return self._reader.tile(z, x, y)  # type: ignore[attr-defined]


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding `lon`, `lat` at zoom `z` (clamped into the grid)."""
    import math

    n = 2**z
    lat = max(min(lat, WORLD[3]), WORLD[1])
    x = int((lon + 180.0) / 360.0 * n)
    rad = math.radians(lat)
    y = int((1.0 - math.log(math.tan(rad) + 1.0 / math.cos(rad)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def open_archive(path: str | os.PathLike) -> TileArchive:
    """Open an MBTiles or PMTiles file (told apart by their first bytes, not the name).

    Raises TileArchiveError naming the file when it is missing, neither kind, damaged,
    or its metadata cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise TileArchiveError(f"tile archive {path}: no such file")
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(_SQLITE_MAGIC):
        return _open_mbtiles(path)
    if head.startswith(_PMTILES_MAGIC):
        return _open_pmtiles(path)
    raise TileArchiveError(
        f"tile archive {path}: not an MBTiles (SQLite) or PMTiles file (it starts with "
        f"{head[:8]!r})")


def _format_name(value, path: Path) -> str | None:
    if value is None:
        return None
    name = str(value).strip().lower()
    name = _FORMAT_ALIASES.get(name, name)
    if name not in FORMATS:
        raise TileArchiveError(
            f"tile archive {path}: tile format {value!r} is not one this app can draw "
            f"(png, jpg, webp, or pbf vector tiles with a style)")
    return name


def _bounds(value, path: Path) -> tuple[float, float, float, float]:
    if value in (None, ""):
        return WORLD
    try:
        parts = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        parts = []
    if (len(parts) != 4 or not (-180 <= parts[0] < parts[2] <= 180)
            or not (-90 <= parts[1] < parts[3] <= 90)):
        raise TileArchiveError(
            f"tile archive {path}: metadata 'bounds' is {value!r}; expected "
            "west,south,east,north in degrees")
    return (parts[0], max(parts[1], WORLD[1]), parts[2], min(parts[3], WORLD[3]))


def _zoom(value, label: str, path: Path) -> int:
    try:
        zoom = int(str(value).strip())
    except ValueError:
        zoom = -1
    if not 0 <= zoom <= MAX_ARCHIVE_ZOOM:
        raise TileArchiveError(
            f"tile archive {path}: metadata '{label}' is {value!r}; expected a whole "
            f"number from 0 to {MAX_ARCHIVE_ZOOM}")
    return zoom


def _vector_layers(value, path: Path) -> tuple[str, ...]:
    """The ids of the metadata's ``vector_layers`` (a list of {"id": ...}), or ()."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
            isinstance(layer, dict) and isinstance(layer.get("id"), str) for layer in value):
        raise TileArchiveError(
            f"tile archive {path}: metadata 'vector_layers' is not a list of layers with "
            "an 'id' each (TileJSON)")
    return tuple(layer["id"] for layer in value)


def is_gzipped(tile: bytes) -> bool:
    """Whether a tile's bytes are a gzip stream (vector tiles often are)."""
    return tile[:2] == b"\x1f\x8b"


# -- MBTiles ---------------------------------------------------------------------------


class _MBTilesReader:
    """Opens the database for each question (read-only, a few tens of microseconds): no
    connection is shared between threads or left open."""

    def __init__(self, path: Path):
        self._uri = f"{path.resolve().as_uri()}?mode=ro"

    def query(self, sql: str, args: tuple = ()) -> list:
        db = sqlite3.connect(self._uri, uri=True)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        rows = self.query("SELECT tile_data FROM tiles WHERE zoom_level = ? AND "
                          "tile_column = ? AND tile_row = ?", (z, x, (1 << z) - 1 - y))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None


def _open_mbtiles(path: Path) -> TileArchive:
    try:
        reader = _MBTilesReader(path)
        meta = {str(k).strip().lower(): v for k, v in reader.query(
            "SELECT name, value FROM metadata")}
        zooms = reader.query("SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles")
        first = reader.query("SELECT tile_data FROM tiles LIMIT 1")
    except sqlite3.Error as exc:
        raise TileArchiveError(
            f"tile archive {path}: an SQLite file but not a readable MBTiles archive "
            f"(needs tables 'metadata' and 'tiles': {exc})") from None
    if not first:
        raise TileArchiveError(f"tile archive {path}: the 'tiles' table is empty")
    format_name = _format_name(meta.get("format"), path) or sniff_format(bytes(first[0][0]))
    if format_name is None:
        raise TileArchiveError(
            f"tile archive {path}: metadata has no 'format' and the tiles are not PNG, "
            "JPEG or WebP images")
    low, high = zooms[0]
    layers: tuple[str, ...] = ()
    if format_name == "pbf" and meta.get("json"):  # MBTiles 1.3: vector_layers as JSON text
        try:
            extra = json.loads(meta["json"])
        except ValueError as exc:
            raise TileArchiveError(
                f"tile archive {path}: metadata 'json' is not JSON ({exc})") from None
        if isinstance(extra, dict):
            layers = _vector_layers(extra.get("vector_layers"), path)
    min_zoom = _zoom(meta.get("minzoom", low), "minzoom", path)
    max_zoom = _zoom(meta.get("maxzoom", high), "maxzoom", path)
    if min_zoom > max_zoom:
        raise TileArchiveError(
            f"tile archive {path}: minzoom {min_zoom} is above maxzoom {max_zoom}")
    return TileArchive(
        path=path, kind="mbtiles", format=format_name, min_zoom=min_zoom,
        max_zoom=max_zoom, bounds=_bounds(meta.get("bounds"), path),
        attribution=str(meta.get("attribution") or ""),
        name=str(meta.get("name") or path.stem), _reader=reader, vector_layers=layers)


# -- PMTiles v3 ------------------------------------------------------------------------

#: header: magic and version, then 11 uint64, 6 bytes, 4 int32, a byte, 2 int32
_HEADER = struct.Struct("<7sB11Q6B4iB2i")
_PM_COMPRESSION = {0: "unknown", 1: "none", 2: "gzip", 3: "brotli", 4: "zstd"}
_PM_TILE_TYPES = {1: "pbf", 2: "png", 3: "jpg", 4: "webp"}
#: how deep directories may nest (the spec's writers use a root and one leaf level)
_MAX_DEPTH = 4


def zxy_to_tileid(z: int, x: int, y: int) -> int:
    """The PMTiles tile id of z/x/y: the tiles of lower zooms, then the Hilbert index."""
    acc = ((1 << (2 * z)) - 1) // 3
    n = 1 << z
    d = 0
    s = n >> 1
    while s > 0:
        rx = 1 if x & s else 0
        ry = 1 if y & s else 0
        d += s * s * ((3 * rx) ^ ry)
        if ry == 0:
            if rx == 1:
                x, y = n - 1 - x, n - 1 - y
            x, y = y, x
        s >>= 1
    return acc + d


def _varints(data: bytes):
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
        else:
            yield value
            value = shift = 0


def decode_directory(data: bytes) -> list[tuple[int, int, int, int]]:
    """A PMTiles directory as (tile_id, offset, length, run_length) entries."""
    numbers = _varints(data)
    count = next(numbers)
    ids, last = [], 0
    for _ in range(count):
        last += next(numbers)
        ids.append(last)
    runs = [next(numbers) for _ in range(count)]
    lengths = [next(numbers) for _ in range(count)]
    offsets: list[int] = []
    for i in range(count):
        value = next(numbers)
        offsets.append(offsets[i - 1] + lengths[i - 1] if value == 0 and i > 0 else value - 1)
    return list(zip(ids, offsets, lengths, runs, strict=True))


class _PMTilesReader:
    def __init__(self, path: Path, header: tuple):
        self.path = path
        self.root = (header[2], header[3])
        self.leaves_at = header[6]
        self.data_at = header[8]
        self.internal = header[14]
        self._lock = threading.Lock()
        self._directories: dict[tuple[int, int], list] = {}

    def read(self, offset: int, length: int) -> bytes:
        with self.path.open("rb") as handle:  # no handle kept open between requests
            handle.seek(offset)
            return handle.read(length)

    def unpack(self, raw: bytes) -> bytes:
        return gzip.decompress(raw) if self.internal == 2 else raw

    def directory(self, offset: int, length: int) -> list:
        key = (offset, length)
        with self._lock:
            found = self._directories.get(key)
        if found is None:
            found = decode_directory(self.unpack(self.read(offset, length)))
            with self._lock:
                if len(self._directories) > 256:  # leaf directories read: keep a few
                    self._directories.clear()
                self._directories[key] = found
        return found

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        wanted = zxy_to_tileid(z, x, y)
        offset, length = self.root
        for _ in range(_MAX_DEPTH):
            entries = self.directory(offset, length)
            low, high = 0, len(entries) - 1
            found = None
            while low <= high:  # the last entry whose id is not above the one wanted
                middle = (low + high) // 2
                if entries[middle][0] <= wanted:
                    found, low = entries[middle], middle + 1
                else:
                    high = middle - 1
            if found is None:
                return None
            tile_id, entry_offset, entry_length, run = found
            if run == 0:  # a leaf directory
                offset, length = self.leaves_at + entry_offset, entry_length
                continue
            if wanted >= tile_id + run:
                return None
            return self.read(self.data_at + entry_offset, entry_length)
        return None


def _open_pmtiles(path: Path) -> TileArchive:
    with path.open("rb") as handle:
        raw = handle.read(_HEADER.size)
    if len(raw) < _HEADER.size:
        raise TileArchiveError(f"tile archive {path}: a PMTiles file cut short in its header")
    header = _HEADER.unpack(raw)
    if header[1] != 3:
        raise TileArchiveError(
            f"tile archive {path}: PMTiles version {header[1]}; this app reads version 3 "
            "(convert it with `pmtiles convert`)")
    internal, tile_compression, tile_type = header[14], header[15], header[16]
    if internal not in (1, 2):
        raise TileArchiveError(
            f"tile archive {path}: its directories are compressed with "
            f"{_PM_COMPRESSION.get(internal, internal)}; this app reads none or gzip")
    if tile_type not in _PM_TILE_TYPES:
        raise TileArchiveError(
            f"tile archive {path}: tile type {tile_type} is not PNG, JPEG, WebP or vector")
    format_name = _PM_TILE_TYPES[tile_type]
    if format_name != "pbf" and tile_compression not in (0, 1):
        raise TileArchiveError(
            f"tile archive {path}: raster tiles compressed with "
            f"{_PM_COMPRESSION.get(tile_compression, tile_compression)}; expected none")
    if format_name == "pbf" and tile_compression not in (0, 1, 2):
        raise TileArchiveError(
            f"tile archive {path}: vector tiles compressed with "
            f"{_PM_COMPRESSION.get(tile_compression, tile_compression)}; this app serves "
            "gzipped or uncompressed ones (rewrite it with `pmtiles convert`, or make it "
            "with tippecanoe or planetiler's defaults)")
    reader = _PMTilesReader(path, header)
    try:
        meta = json.loads(reader.unpack(reader.read(header[4], header[5])) or b"{}")
    except (OSError, ValueError) as exc:
        raise TileArchiveError(f"tile archive {path}: unreadable metadata ({exc})") from None
    if not isinstance(meta, dict):
        meta = {}
    min_zoom = _zoom(header[17], "min_zoom", path)
    max_zoom = _zoom(header[18], "max_zoom", path)
    if min_zoom > max_zoom:
        raise TileArchiveError(
            f"tile archive {path}: min_zoom {min_zoom} is above max_zoom {max_zoom}")
    west, south, east, north = (v / 1e7 for v in header[19:23])
    bounds = _bounds([west, south, east, north], path) if east > west else WORLD
    return TileArchive(
        path=path, kind="pmtiles", format=format_name, min_zoom=min_zoom,
        max_zoom=max_zoom, bounds=bounds, attribution=str(meta.get("attribution") or ""),
        name=str(meta.get("name") or path.stem), _reader=reader,
        vector_layers=_vector_layers(meta.get("vector_layers"), path)
        if format_name == "pbf" else ())


__all__ = ["FORMATS", "TileArchive", "TileArchiveError", "decode_directory", "is_gzipped",
           "open_archive", "sniff_format", "tile_of", "zxy_to_tileid"]
