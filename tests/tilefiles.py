"""Small tile archives made in code for the basemap tests: PNG tiles of one colour each,
an MBTiles file (SQLite, rows numbered TMS-fashion from the south) and a PMTiles v3 file
(written here by the spec, independently of the reader in mapper/tilearchive.py).
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import struct
import zlib
from pathlib import Path

#: the whole Web Mercator world: west, south, east, north
WORLD = (-180.0, -85.0511, 180.0, 85.0511)


def png(rgb: tuple[int, int, int], size: int = 8) -> bytes:
    """A `size` x `size` PNG of one colour (each colour gives different bytes)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    row = b"\x00" + bytes(rgb) * size
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * size))
            + chunk(b"IEND", b""))


def world_tiles(zooms=(0, 1)) -> dict[tuple[int, int, int], bytes]:
    """Every XYZ tile of `zooms`, each its own colour: {(z, x, y): png}."""
    tiles = {}
    for z in zooms:
        for x in range(2**z):
            for y in range(2**z):
                tiles[(z, x, y)] = png((40 * z + 10, 60 * x + 20, 60 * y + 30))
    return tiles


def write_mbtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], *,
                  metadata: dict[str, str] | None = None) -> Path:
    """An MBTiles file of XYZ `tiles` (stored with tile_row = 2**z - 1 - y)."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, "
               "tile_row INTEGER, tile_data BLOB)")
    db.executemany("INSERT INTO metadata VALUES (?, ?)", (metadata or {}).items())
    db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                   [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()])
    db.commit()
    db.close()
    return path


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def hilbert_id(z: int, x: int, y: int) -> int:
    """The spec's tile id, written out again for the tests (from its reference code)."""
    acc = sum(4**i for i in range(z))
    n = 2**z
    d, s = 0, n // 2
    while s > 0:
        rx, ry = int(x & s > 0), int(y & s > 0)
        d += s * s * ((3 * rx) ^ ry)
        if ry == 0:
            if rx == 1:
                x, y = s - 1 - x, s - 1 - y
            x, y = y, x
        s //= 2
    return acc + d


def write_pmtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], *,
                  bounds=WORLD, metadata: dict | None = None, tile_type: int = 2,
                  gzip_directory: bool = True, tile_compression: int = 1) -> Path:
    """A PMTiles v3 file of XYZ `tiles` with one root directory (tile type 2: PNG; 1 is
    vector; tile compression 1 none, 2 gzip, 3 brotli)."""
    entries = sorted((hilbert_id(z, x, y), data) for (z, x, y), data in tiles.items())
    blob, offsets = b"", []
    for _, data in entries:
        offsets.append(len(blob))
        blob += data
    directory = _varint(len(entries))
    last = 0
    for tile_id, _ in entries:
        directory += _varint(tile_id - last)
        last = tile_id
    directory += b"".join(_varint(1) for _ in entries)
    directory += b"".join(_varint(len(data)) for _, data in entries)
    for i, offset in enumerate(offsets):  # 0: right after the previous tile
        directory += _varint(0 if i else offset + 1)
    meta = json.dumps(metadata or {}).encode()
    if gzip_directory:
        directory, meta = gzip.compress(directory), gzip.compress(meta)
    root_at = 127
    meta_at = root_at + len(directory)
    data_at = meta_at + len(meta)
    zooms = [z for z, _, _ in tiles]
    header = struct.pack(
        "<7sB11Q6B4iB2i", b"PMTiles", 3, root_at, len(directory), meta_at, len(meta),
        data_at, 0, data_at, len(blob), len(entries), len(entries), len(entries),
        1, 2 if gzip_directory else 1, tile_compression, tile_type, min(zooms), max(zooms),
        *(round(v * 1e7) for v in bounds), min(zooms), 0, 0)
    path.write_bytes(header + directory + meta + blob)
    return path


# -- Mapbox Vector Tiles, encoded by hand (https://github.com/mapbox/vector-tile-spec) ---

#: MVT geometry types
POINT, LINE, POLYGON = 1, 2, 3


def _field(number: int, wire: int) -> bytes:
    return _varint((number << 3) | wire)


def _bytes_field(number: int, body: bytes) -> bytes:
    return _field(number, 2) + _varint(len(body)) + body


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def _geometry(kind: int, parts: list[list[tuple[int, int]]]) -> list[int]:
    """Command integers of `parts` (points: one part of points; lines and rings: one
    part each, a ring without its closing point)."""
    out: list[int] = []
    cx = cy = 0

    def moves(points):
        nonlocal cx, cy
        params = []
        for x, y in points:
            params += [_zigzag(x - cx), _zigzag(y - cy)]
            cx, cy = x, y
        return params

    for part in parts:
        if kind == POINT:
            out += [(1 & 7) | (len(part) << 3), *moves(part)]
            continue
        out += [(1 & 7) | (1 << 3), *moves(part[:1])]
        out += [(2 & 7) | ((len(part) - 1) << 3), *moves(part[1:])]
        if kind == POLYGON:
            out.append((7 & 7) | (1 << 3))
    return out


def mvt(layers: dict[str, list[tuple[int, list, dict]]], extent: int = 4096) -> bytes:
    """A vector tile: {layer name: [(type, parts, properties), ...]} (tile coordinates
    0..extent, y down; polygon rings clockwise on screen for the outer ring)."""
    tile = b""
    for name, features in layers.items():
        keys: list[str] = []
        values: list = []
        body = _field(15, 0) + _varint(2) + _bytes_field(1, name.encode())
        for kind, parts, props in features:
            tags = []
            for key, value in props.items():
                if key not in keys:
                    keys.append(key)
                if value not in values:
                    values.append(value)
                tags += [keys.index(key), values.index(value)]
            feature = b""
            if tags:
                feature += _bytes_field(2, b"".join(_varint(t) for t in tags))
            feature += _field(3, 0) + _varint(kind)
            feature += _bytes_field(4, b"".join(_varint(c) for c in _geometry(kind, parts)))
            body += _bytes_field(2, feature)
        for key in keys:
            body += _bytes_field(3, key.encode())
        for value in values:
            if isinstance(value, bool):
                encoded = _field(7, 0) + _varint(int(value))
            elif isinstance(value, int):
                encoded = _field(6, 0) + _varint(_zigzag(value))
            elif isinstance(value, float):
                encoded = _field(3, 1) + struct.pack("<d", value)
            else:
                encoded = _bytes_field(1, str(value).encode())
            body += _bytes_field(4, encoded)
        body += _field(5, 0) + _varint(extent)
        tile += _bytes_field(3, body)
    return tile


#: a vector tile of the test schema: a water square over the whole tile, a primary road
#: and a path across it, a place point in the middle
def demo_vector_tile() -> bytes:
    return mvt({
        "water": [(POLYGON, [[(-64, -64), (4160, -64), (4160, 4160), (-64, 4160)]],
                   {"class": "lake"})],
        "roads": [(LINE, [[(0, 0), (4096, 4096)]], {"class": "primary", "lanes": 2}),
                  (LINE, [[(0, 4096), (4096, 0)]], {"class": "path"})],
        "places": [(POINT, [[(2048, 2048)]], {"name": "Middle", "rank": 1.5})],
    })


#: the archive metadata's vector_layers of that schema (TileJSON)
DEMO_VECTOR_LAYERS = [{"id": "water", "fields": {"class": "String"}},
                      {"id": "roads", "fields": {"class": "String", "lanes": "Number"}},
                      {"id": "places", "fields": {"name": "String", "rank": "Number"}}]
