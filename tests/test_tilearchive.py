"""mapper/tilearchive.py: MBTiles and PMTiles read back tile by tile (XYZ numbering),
their zooms, bounds and attribution, and clear errors for files that cannot be used."""

from __future__ import annotations

import sqlite3

import pytest
from tilefiles import png, world_tiles, write_mbtiles, write_pmtiles

from mapper.tilearchive import (
    TileArchiveError,
    decode_directory,
    open_archive,
    tile_of,
    zxy_to_tileid,
)

LONDON = (-0.52, 51.28, 0.34, 51.70)


def test_tile_ids_follow_the_spec():
    # PMTiles v3 spec, "Tile IDs": z0 is 0, z1 runs 1..4 along the Hilbert curve
    assert zxy_to_tileid(0, 0, 0) == 0
    assert [zxy_to_tileid(1, x, y) for x, y in [(0, 0), (0, 1), (1, 1), (1, 0)]] == [1, 2, 3, 4]
    assert zxy_to_tileid(2, 0, 0) == 5
    # the spec's examples (its test suite): 12/3423/1763 -> 19078479
    assert zxy_to_tileid(12, 3423, 1763) == 19078479
    ids = {zxy_to_tileid(3, x, y) for x in range(8) for y in range(8)}
    assert ids == set(range(21, 21 + 64))


def test_mbtiles_rows_count_from_the_south(tmp_path):
    """Hand-written rows: at z1 TMS row 1 is the northern row, XYZ y 0."""
    north, south = png((255, 0, 0)), png((0, 0, 255))
    path = tmp_path / "hand.mbtiles"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    db.execute("CREATE TABLE tiles (zoom_level, tile_column, tile_row, tile_data)")
    db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                   [(1, 0, 1, north), (1, 0, 0, south)])
    db.commit()
    db.close()
    archive = open_archive(path)
    assert archive.tile(1, 0, 0) == north
    assert archive.tile(1, 0, 1) == south
    assert archive.tile(1, 1, 0) is None
    # no metadata: format sniffed from the tiles, zooms from the table, the whole world
    assert (archive.format, archive.min_zoom, archive.max_zoom) == ("png", 1, 1)
    assert archive.media_type == "image/png" and archive.name == "hand"


@pytest.mark.parametrize("writer", [write_mbtiles, write_pmtiles])
def test_every_tile_reads_back(tmp_path, writer):
    tiles = world_tiles((0, 1, 2))
    meta = {"attribution": "© Test contributors", "name": "Test map"}
    archive = open_archive(writer(tmp_path / "world.bin", tiles, metadata=meta))
    for (z, x, y), data in tiles.items():
        assert archive.tile(z, x, y) == data, (z, x, y)
    assert (archive.min_zoom, archive.max_zoom) == (0, 2)
    assert archive.attribution == "© Test contributors" and archive.name == "Test map"
    assert archive.tile(3, 0, 0) is None and not archive.covers(3, 0, 0)
    assert not archive.covers(1, 2, 0)


def test_pmtiles_with_plain_directories_and_bounds(tmp_path):
    z, (x, y) = 10, tile_of(-0.1, 51.5, 10)
    tiles = {(z, x, y): png((1, 2, 3)), (z, x + 1, y): png((4, 5, 6))}
    archive = open_archive(write_pmtiles(tmp_path / "london.pmtiles", tiles, bounds=LONDON,
                                         gzip_directory=False))
    assert archive.kind == "pmtiles" and archive.bounds == pytest.approx(LONDON)
    assert archive.tile(z, x, y) == tiles[(z, x, y)]
    assert archive.tile(z, x + 1, y) == tiles[(z, x + 1, y)]
    assert archive.covers(z, x, y) and not archive.covers(z, 0, 0)  # Pacific: outside


def test_mbtiles_bounds_and_zooms_from_metadata(tmp_path):
    z, (x, y) = 11, tile_of(-0.1, 51.5, 11)
    path = write_mbtiles(tmp_path / "m.mbtiles", {(z, x, y): png((9, 9, 9))}, metadata={
        "format": "png", "minzoom": "10", "maxzoom": "12",
        "bounds": ",".join(map(str, LONDON))})
    archive = open_archive(path)
    assert (archive.min_zoom, archive.max_zoom) == (10, 12)
    assert archive.covers(12, *tile_of(-0.1, 51.5, 12))
    assert not archive.covers(12, *tile_of(2.35, 48.85, 12))  # Paris
    assert not archive.covers(9, *tile_of(-0.1, 51.5, 9))


def test_decode_directory_runs_and_contiguous_offsets():
    # 2 entries: ids 5, 7; runs 1, 2; lengths 10, 20; offsets 0 (stored +1) then contiguous
    raw = bytes([2, 5, 2, 1, 2, 10, 20, 1, 0])
    assert decode_directory(raw) == [(5, 0, 10, 1), (7, 10, 20, 2)]


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"GIF89a not tiles"), "not an MBTiles (SQLite) or PMTiles"),
    (lambda p: sqlite3.connect(p).execute("CREATE TABLE x (a)").connection.commit(),
     "needs tables 'metadata' and 'tiles'"),
    (lambda p: write_mbtiles(p, {(0, 0, 0): png((1, 1, 1))}, metadata={"format": "tiff"}),
     "tile format 'tiff'"),
    (lambda p: write_mbtiles(p, {(0, 0, 0): png((1, 1, 1))}, metadata={"bounds": "a,b"}),
     "metadata 'bounds' is 'a,b'"),
    (lambda p: write_mbtiles(p, {(0, 0, 0): png((1, 1, 1))}, metadata={"maxzoom": "x"}),
     "metadata 'maxzoom' is 'x'"),
    (lambda p: write_mbtiles(p, {}), "the 'tiles' table is empty"),
    (lambda p: p.write_bytes(b"PMTiles\x02" + bytes(200)), "PMTiles version 2"),
])
def test_unusable_files_are_refused_by_name(tmp_path, make, message):
    path = tmp_path / "bad.mbtiles"
    make(path)
    with pytest.raises(TileArchiveError) as caught:
        open_archive(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_a_missing_file(tmp_path):
    with pytest.raises(TileArchiveError, match="no such file"):
        open_archive(tmp_path / "nope.pmtiles")


def test_vector_archives_say_so(tmp_path):
    path = write_pmtiles(tmp_path / "v.pmtiles", {(0, 0, 0): b"\x1a\x00"}, tile_type=1)
    archive = open_archive(path)
    assert archive.vector and archive.format == "pbf"


def test_vector_archives_list_their_source_layers(tmp_path):
    import gzip
    import json

    from tilefiles import DEMO_VECTOR_LAYERS, demo_vector_tile

    tile = gzip.compress(demo_vector_tile())
    mbtiles = open_archive(write_mbtiles(tmp_path / "v.mbtiles", {(0, 0, 0): tile}, metadata={
        "format": "pbf", "json": json.dumps({"vector_layers": DEMO_VECTOR_LAYERS})}))
    assert mbtiles.vector and mbtiles.vector_layers == ("water", "roads", "places")
    assert mbtiles.tile(0, 0, 0) == tile  # as stored: gzipped (the server decides)
    pmtiles = open_archive(write_pmtiles(
        tmp_path / "v.pmtiles", {(0, 0, 0): tile}, tile_type=1, tile_compression=2,
        metadata={"vector_layers": DEMO_VECTOR_LAYERS}))
    assert pmtiles.vector_layers == ("water", "roads", "places")
    # a raster archive lists none, and a vector one without the metadata lists none
    assert open_archive(write_pmtiles(tmp_path / "r.pmtiles", {(0, 0, 0): png((1, 2, 3))},
                                      metadata={"vector_layers": DEMO_VECTOR_LAYERS})
                        ).vector_layers == ()
    assert open_archive(write_pmtiles(tmp_path / "n.pmtiles", {(0, 0, 0): tile},
                                      tile_type=1)).vector_layers == ()


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: write_mbtiles(p, {(0, 0, 0): b"\x1a\x00"},
                             metadata={"format": "pbf", "json": "{not json"}),
     "metadata 'json' is not JSON"),
    (lambda p: write_mbtiles(p, {(0, 0, 0): b"\x1a\x00"},
                             metadata={"format": "pbf", "json": '{"vector_layers": ["a"]}'}),
     "'vector_layers' is not a list of layers with an 'id'"),
    (lambda p: write_pmtiles(p, {(0, 0, 0): b"\x1a\x00"}, tile_type=1, tile_compression=3),
     "vector tiles compressed with brotli"),
])
def test_unusable_vector_archives(tmp_path, make, message):
    path = tmp_path / "v.archive"
    make(path)
    with pytest.raises(TileArchiveError) as caught:
        open_archive(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
